"""Public tracking endpoints (Segment-compatible /v1/*, tracked links /l/<token>, forms /f/*) and
the channel rules page under /settings/channel-rules/."""

from django.urls import path

from tandem.tracking import views, views_rules
from tandem.tracking.views_ingest import ENDPOINTS

app_name = "tracking"
urlpatterns = [
    *(path(f"v1/{name}", view, name=f"v1_{name}") for name, view in ENDPOINTS.items()),
    path("l/<str:token>", views.link_redirect, name="link"),
    path("f/confirm/<str:signed>", views.form_confirm, name="form_confirm"),
    path("f/<str:key>.json", views.form_definition, name="form_definition"),
    path("f/<str:key>/embed", views.form_embed, name="form_embed"),
    path("f/<str:key>/submit", views.form_submit, name="form_submit"),
    path("settings/channel-rules/", views_rules.channel_rules, name="channel_rules"),
    path(
        "settings/channel-rules/progress/",
        views_rules.reclassify_progress,
        name="reclassify_progress",
    ),
    path(
        "settings/channel-rules/reclassify/",
        views_rules.reclassify_restart,
        name="reclassify_restart",
    ),
    path(
        "settings/channel-rules/runs/<int:pk>/cancel/",
        views_rules.reclassify_cancel,
        name="reclassify_cancel",
    ),
]
