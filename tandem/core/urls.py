from django.urls import path

from tandem.core import views

app_name = "core"
urlpatterns: list = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("language/", views.language_switch, name="language"),
    path("settings/", views.organisation_settings, name="settings"),
    path("settings/holidays/", views.holiday_add, name="holiday_add"),
    path("settings/holidays/<int:pk>/remove/", views.holiday_remove, name="holiday_remove"),
    path("audit/", views.audit_log, name="audit_log"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
