"""Marketing pages under /marketing/."""

from django.urls import path

from tandem.marketing.campaigns import views as campaign_views
from tandem.marketing.content import views as content_views
from tandem.marketing.email import views as email_views
from tandem.marketing.events import views as event_views
from tandem.marketing.segments import views as segment_views
from tandem.marketing.social import connection_views
from tandem.marketing.social import views as social_views

app_name = "marketing"
urlpatterns = [
    path("segments/", segment_views.segment_list, name="segment_list"),
    path("segments/new", segment_views.segment_edit, name="segment_new"),
    path("segments/count", segment_views.segment_count, name="segment_count"),
    path("segments/<int:pk>/", segment_views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit", segment_views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/export", segment_views.segment_export, name="segment_export"),
    path("email/", email_views.template_list, name="template_list"),
    path("email/templates/new", email_views.template_edit, name="template_new"),
    path("email/templates/<int:pk>/", email_views.template_edit, name="template_edit"),
    path("email/sends/new", email_views.send_new, name="send_new"),
    path("email/sends/<int:pk>/", email_views.send_detail, name="send_detail"),
    path("email/sends/<int:pk>/progress", email_views.send_progress, name="send_progress"),
    path("email/sends/<int:pk>/cancel", email_views.send_cancel, name="send_cancel"),
    path("email/sends/<int:pk>/start", email_views.send_start, name="send_start"),
    path("email/sends/<int:pk>/resume", email_views.send_resume, name="send_resume"),
    path("campaigns/", campaign_views.campaign_list, name="campaign_list"),
    path("campaigns/new", campaign_views.campaign_edit, name="campaign_new"),
    path("campaigns/<int:pk>/", campaign_views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit", campaign_views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/costs", campaign_views.cost_add, name="campaign_cost_add"),
    path(
        "campaigns/<int:pk>/costs/<int:cost_pk>/edit",
        campaign_views.cost_edit,
        name="campaign_cost_edit",
    ),
    path(
        "campaigns/<int:pk>/costs/<int:cost_pk>/delete",
        campaign_views.cost_delete,
        name="campaign_cost_delete",
    ),
    path(
        "campaigns/<int:pk>/costs/import",
        campaign_views.costs_import,
        name="campaign_costs_import",
    ),
    path("content/", content_views.asset_list, name="content_list"),
    path("content/new", content_views.asset_edit, name="content_new"),
    path("content/<int:pk>/", content_views.asset_detail, name="content_detail"),
    path("content/<int:pk>/edit", content_views.asset_edit, name="content_edit"),
    path("content/<int:pk>/share", content_views.asset_share, name="content_share"),
    path("content/<int:pk>/archive", content_views.asset_archive, name="content_archive"),
    path("events/", event_views.event_list, name="event_list"),
    path("events/new", event_views.event_edit, name="event_new"),
    path("events/<int:pk>/", event_views.event_detail, name="event_detail"),
    path("events/<int:pk>/edit", event_views.event_edit, name="event_edit"),
    path("events/<int:pk>/export", event_views.registrations_export, name="event_export"),
    path("events/<int:pk>/lead-rule", event_views.lead_rule, name="event_lead_rule"),
    path("events/lead-rules/<str:kind>", event_views.lead_rule, name="event_kind_lead_rule"),
    path("events/<int:pk>/<str:action>", event_views.event_action, name="event_action"),
    path("events/r/<slug:slug>", event_views.register_page, name="event_register"),
    path("social/", social_views.post_calendar, name="social_calendar"),
    path("social/new", social_views.post_edit, name="social_new"),
    path("social/publish-due", social_views.publish_due, name="social_publish_due"),
    path("social/stats", social_views.stats_import, name="social_stats_import"),
    path("social/connections/", connection_views.connection_list, name="social_connections"),
    path(
        "social/connections/stats-pull",
        connection_views.stats_pull_now,
        name="social_stats_pull",
    ),
    path(
        "social/connections/<str:network>/",
        connection_views.connection_edit,
        name="social_connection_edit",
    ),
    path(
        "social/connections/<str:network>/test",
        connection_views.connection_test,
        name="social_connection_test",
    ),
    path(
        "social/connections/<str:network>/disconnect",
        connection_views.connection_disconnect,
        name="social_connection_disconnect",
    ),
    path("social/<int:pk>/", social_views.post_detail, name="social_detail"),
    path("social/<int:pk>/edit", social_views.post_edit, name="social_edit"),
    path(
        "social/<int:pk>/published",
        social_views.post_mark_published,
        name="social_mark_published",
    ),
]

# Subscription types; static list members and reactions on segment pages.
from tandem.marketing.segments.urls import urlpatterns as segment_extra_urls  # noqa: E402
from tandem.marketing.subscriptions.urls import urlpatterns as subscription_urls  # noqa: E402

urlpatterns += subscription_urls + segment_extra_urls
