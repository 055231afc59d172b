from django.urls import path

from tandem.leads import views
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
    *scoring_urls,
]
