"""Public tracking endpoints (Segment-compatible /v1/*, tracked links /l/<token>, forms /f/*), the
tracking set-up pages under /settings/tracking/, the channel rules page under
/settings/channel-rules/ and a contact's consent under /tracking/contacts/<id>/consent/."""

from django.urls import path

from tandem.tracking.views import consent, public, rules, setup
from tandem.tracking.views.ingest import ENDPOINTS

app_name = "tracking"
urlpatterns = [
    *(path(f"v1/{name}", view, name=f"v1_{name}") for name, view in ENDPOINTS.items()),
    path("l/<str:token>", public.link_redirect, name="link"),
    path("f/confirm/<str:signed>", public.form_confirm, name="form_confirm"),
    path("f/<str:key>.json", public.form_definition, name="form_definition"),
    path("f/<str:key>/embed", public.form_embed, name="form_embed"),
    path("f/<str:key>/submit", public.form_submit, name="form_submit"),
    path("settings/tracking/", setup.hub, name="setup"),
    path("settings/tracking/sources/", setup.sources, name="sources"),
    path("settings/tracking/sources/<int:pk>/rotate/", setup.source_rotate, name="source_rotate"),
    path(
        "settings/tracking/sources/<int:pk>/disable/",
        setup.source_disable,
        name="source_disable",
    ),
    path("settings/tracking/forms/", setup.website_forms, name="website_forms"),
    path("settings/tracking/forms/new/", setup.website_form_create, name="website_form_create"),
    path("settings/tracking/forms/<int:pk>/", setup.website_form_edit, name="website_form_edit"),
    path("settings/tracking/links/", setup.tracked_links, name="links"),
    path("tracking/contacts/<int:pk>/consent/", consent.contact_consent, name="contact_consent"),
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
