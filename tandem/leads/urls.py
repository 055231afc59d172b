from django.urls import path

from tandem.leads import record_panel, routing_views, views
from tandem.leads.scoring.urls import urlpatterns as scoring_urls

app_name = "leads"
urlpatterns = [
    path("handoffs/", views.handoff_list, name="handoff_list"),
    path("handoffs/<int:pk>/", views.handoff_detail, name="handoff_detail"),
    path("handoffs/<int:pk>/<str:action>/", views.handoff_action, name="handoff_action"),
    path("disputes/", views.dispute_list, name="dispute_list"),
    path("disputes/new/", views.dispute_new, name="dispute_new"),
    path("disputes/<int:pk>/", views.dispute_detail, name="dispute_detail"),
    path("quality/", views.lead_quality, name="lead_quality"),
    path("notifications/", views.notification_list, name="notifications"),
    path("contacts/<int:pk>/lifecycle/", views.contact_lifecycle, name="contact_lifecycle"),
    path("contacts/<int:pk>/handoff/", record_panel.contact_handoff, name="contact_handoff"),
    *scoring_urls,
    path("routing/", routing_views.routing, name="routing"),
    path("routing/policy/", routing_views.policy_set, name="routing_policy"),
    path("routing/mql-targets/", routing_views.mql_target_set, name="routing_target"),
    path(
        "routing/mql-targets/<int:year>-<int:month>/remove/",
        routing_views.mql_target_remove,
        name="routing_target_remove",
    ),
    path("routing/capacity/", routing_views.capacity_set, name="routing_capacity"),
    path(
        "routing/territories/",
        routing_views.territory_create,
        name="routing_territory_create",
    ),
    path("routing/territories/<int:pk>/", routing_views.territory_edit, name="routing_territory"),
    path(
        "routing/territories/<int:pk>/delete/",
        routing_views.territory_delete,
        name="routing_territory_delete",
    ),
]
