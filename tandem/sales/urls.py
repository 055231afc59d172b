from django.urls import path

from tandem.sales import views

app_name = "sales"
urlpatterns = [
    path("", views.board, name="board"),
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
    path("deals/<int:pk>/quotes/", views.quote_create, name="quote_create"),
    path("quotes/<int:pk>/send/", views.quote_send, name="quote_send"),
    path("quotes/<int:pk>/withdraw/", views.quote_withdraw, name="quote_withdraw"),
    path("quotes/<int:pk>/pdf/", views.quote_pdf, name="quote_pdf"),
    path("forecast/", views.forecast_page, name="forecast"),
    path("sequences/", views.sequence_list, name="sequence_list"),
    path("sequences/<int:pk>/", views.sequence_detail, name="sequence_detail"),
    path("enrolments/<int:pk>/stop/", views.enrolment_stop, name="enrolment_stop"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
]
