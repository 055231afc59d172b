from django.urls import URLPattern, URLResolver, path

from tandem.field import views

app_name = "field"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.today, name="today"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/plan-week/", views.plan_week, name="plan_week"),
    path("routes/", views.routes, name="routes"),
    path("overview/", views.overview, name="overview"),
    path("visits/<uuid:key>/", views.visit_detail, name="visit"),
    path("visits/<uuid:key>/report/", views.visit_report, name="visit_report"),
    path("visits/<uuid:key>/check-<str:step>/", views.visit_check, name="visit_check"),
    path("visits/<uuid:key>/deal/", views.visit_deal, name="visit_deal"),
    path("visits/<uuid:key>/attach/", views.visit_attach, name="visit_attach"),
    path("attachments/<uuid:key>/", views.attachment_file, name="attachment"),
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow_up_done"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
]
