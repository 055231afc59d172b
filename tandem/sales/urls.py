from django.urls import path

from tandem.sales import catalogue_views, pipeline_views, views

app_name = "sales"
urlpatterns = [
    path("", views.board, name="board"),
    path("pipelines/", pipeline_views.pipeline_settings, name="pipeline_settings"),
    path("pipelines/<int:pipeline_id>/", views.board, name="pipeline_board"),
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/new/", views.deal_create, name="deal_create"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:pk>/win/", views.deal_win, name="deal_win"),
    path("deals/<int:pk>/lose/", views.deal_lose, name="deal_lose"),
    path("deals/<int:pk>/reopen/", views.deal_reopen, name="deal_reopen"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/contacts/", views.deal_contact_add, name="deal_contact_add"),
    path("deals/<int:pk>/lines/", views.deal_line_add, name="deal_line_add"),
    path(
        "deals/<int:pk>/lines/<int:line_id>/remove/",
        views.deal_line_remove,
        name="deal_line_remove",
    ),
    path("deals/<int:pk>/quotes/", views.quote_create, name="quote_create"),
    path("quotes/<int:pk>/send/", views.quote_send, name="quote_send"),
    path("quotes/<int:pk>/withdraw/", views.quote_withdraw, name="quote_withdraw"),
    path("quotes/<int:pk>/pdf/", views.quote_pdf, name="quote_pdf"),
    path("forecast/", views.forecast_page, name="forecast"),
    path("sequences/", views.sequence_list, name="sequence_list"),
    path("sequences/<int:pk>/", views.sequence_detail, name="sequence_detail"),
    path("sequences/<int:pk>/pause/", views.sequence_pause, name="sequence_pause"),
    path("sequences/<int:pk>/steps/", views.sequence_steps, name="sequence_steps"),
    path(
        "sequences/<int:pk>/enrolments/<int:enrolment_id>/",
        views.sequence_enrolment,
        name="sequence_enrolment",
    ),
    path("enrolments/<int:pk>/stop/", views.enrolment_stop, name="enrolment_stop"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("catalogue/", catalogue_views.catalogue_page, name="catalogue"),
    path("catalogue/products/", catalogue_views.product_create, name="product_create"),
    path("catalogue/products/<int:pk>/", catalogue_views.product_edit, name="product_edit"),
    path(
        "catalogue/products/<int:pk>/<str:state>/",
        catalogue_views.product_archive,
        name="product_archive",
    ),
    path("catalogue/price-lists/", catalogue_views.price_list_create, name="price_list_create"),
    path(
        "catalogue/price-lists/<int:pk>/", catalogue_views.price_list_edit, name="price_list_edit"
    ),
    path(
        "catalogue/price-lists/<int:pk>/prices/",
        catalogue_views.price_set,
        name="price_set",
    ),
    path(
        "catalogue/price-lists/<int:pk>/prices/<int:product_id>/remove/",
        catalogue_views.price_remove,
        name="price_remove",
    ),
    path(
        "catalogue/price-lists/<int:pk>/<str:state>/",
        catalogue_views.price_list_archive,
        name="price_list_archive",
    ),
]
