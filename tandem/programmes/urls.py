from django.urls import URLPattern, URLResolver, path

from tandem.programmes import views

app_name = "programmes"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.overview, name="overview"),
    path("trainings/", views.training_list, name="trainings"),
    path("trainings/curricula/new/", views.curriculum_create, name="curriculum_create"),
    path("trainings/sessions/new/", views.session_create, name="session_create"),
    path("trainings/sessions/<int:pk>/", views.session_detail, name="session"),
    path("trainings/sessions/<int:pk>/attendees/", views.attendee_add, name="attendee_add"),
    path(
        "trainings/attendances/<int:pk>/<str:what>/",
        views.attendance_update,
        name="attendance_update",
    ),
    path("certificates/<str:token>/", views.certificate_verify, name="certificate_verify"),
    path("certificates/<str:token>/pdf/", views.certificate_pdf, name="certificate_pdf"),
    path("trials/", views.trial_list, name="trials"),
    path("trials/new/", views.trial_create, name="trial_create"),
    path("trials/<int:pk>/", views.trial_detail, name="trial"),
    path("trials/<int:pk>/plots/", views.plot_add, name="plot_add"),
    path("trials/plots/<int:pk>/harvest/", views.plot_harvest, name="plot_harvest"),
    path(
        "trials/products/<int:product_id>/results.csv",
        views.trial_results_export,
        name="trial_results_export",
    ),
    path("loyalty/", views.loyalty_list, name="loyalty"),
    path("loyalty/<int:pk>/", views.programme_detail, name="programme"),
    path("loyalty/<int:pk>/sync/", views.programme_sync, name="programme_sync"),
    path(
        "loyalty/redemptions/<int:pk>/<str:decision>/",
        views.redemption_decide,
        name="redemption_decide",
    ),
    path("loyalty/members/<int:pk>/", views.member_detail, name="member"),
    path(
        "loyalty/members/<int:pk>/statement.csv",
        views.member_statement_export,
        name="member_statement",
    ),
    path("loyalty/members/<int:pk>/redeem/", views.member_redeem, name="member_redeem"),
    path("loyalty/members/<int:pk>/referrals/", views.member_referral, name="member_referral"),
    path("loyalty/entries/<int:pk>/reverse/", views.entry_reverse, name="entry_reverse"),
    path("compliance/", views.compliance_page, name="compliance"),
    path("compliance/rules/<int:pk>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("compliance/<str:report>.csv", views.disclosure_export, name="disclosure_export"),
]
