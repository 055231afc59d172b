"""Public tracking endpoints (Segment-compatible /v1/*, tracked links /l/<token>, forms /f/*) and
the channel rules page under /settings/channel-rules/."""

from django.urls import path

from tandem.tracking.views import public, rules
from tandem.tracking.views.ingest import ENDPOINTS

app_name = "tracking"
urlpatterns = [
    *(path(f"v1/{name}", view, name=f"v1_{name}") for name, view in ENDPOINTS.items()),
    path("l/<str:token>", public.link_redirect, name="link"),
    path("f/confirm/<str:signed>", public.form_confirm, name="form_confirm"),
    path("f/<str:key>.json", public.form_definition, name="form_definition"),
    path("f/<str:key>/embed", public.form_embed, name="form_embed"),
    path("f/<str:key>/submit", public.form_submit, name="form_submit"),
    path("settings/channel-rules/", rules.channel_rules, name="channel_rules"),
    path(
        "settings/channel-rules/progress/",
        rules.reclassify_progress,
        name="reclassify_progress",
    ),
    path(
        "settings/channel-rules/reclassify/",
        rules.reclassify_restart,
        name="reclassify_restart",
    ),
    path(
        "settings/channel-rules/runs/<int:pk>/cancel/",
        rules.reclassify_cancel,
        name="reclassify_cancel",
    ),
]
