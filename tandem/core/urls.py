from django.urls import path

from tandem.core import account_views, export_views, views

app_name = "core"
urlpatterns: list = [
    path("login/", views.login_view, name="login"),
    path("login/code/", account_views.login_code, name="login_code"),
    path("logout/", views.logout_view, name="logout"),
    path(
        "password-reset/",
        account_views.PasswordResetRequestView.as_view(),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        account_views.PasswordResetSentView.as_view(),
        name="password_reset_sent",
    ),
    path("language/", views.language_switch, name="language"),
    path("settings/", views.organisation_settings, name="settings"),
    path("settings/holidays/", views.holiday_add, name="holiday_add"),
    path("settings/holidays/<int:pk>/remove/", views.holiday_remove, name="holiday_remove"),
    path("settings/people/", views.people, name="people"),
    path("settings/people/invite/", views.user_invite, name="user_invite"),
    path("settings/people/<int:pk>/", views.user_edit, name="user_edit"),
    path("settings/people/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path(
        "settings/people/<int:pk>/two-factor/reset/",
        account_views.two_factor_reset_for,
        name="user_two_factor_reset",
    ),
    path("settings/people/<int:pk>/resend/", views.user_invite_resend, name="user_invite_resend"),
    path("settings/teams/", views.team_create, name="team_create"),
    path("settings/teams/<int:pk>/", views.team_edit, name="team_edit"),
    path("settings/tasks/", views.task_health, name="task_health"),
    path("settings/tasks/<uuid:task_id>/retry/", views.task_retry, name="task_retry"),
    path("set-password/<uidb64>/<token>/", views.SetPasswordView.as_view(), name="password_set"),
    path("profile/", views.profile, name="profile"),
    path("profile/two-factor/start/", account_views.two_factor_begin, name="two_factor_start"),
    path("profile/two-factor/confirm/", account_views.two_factor_finish, name="two_factor_confirm"),
    path(
        "profile/two-factor/recovery-codes/",
        account_views.recovery_codes_new,
        name="recovery_codes_new",
    ),
    path(
        "profile/two-factor/disable/", account_views.two_factor_turn_off, name="two_factor_disable"
    ),
    path("audit/", views.audit_log, name="audit_log"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("exports/<int:pk>/", export_views.export_job, name="export_job"),
    path("exports/<int:pk>/download/", export_views.export_download, name="export_download"),
]
