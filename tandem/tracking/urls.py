"""Public tracking endpoints: Segment-compatible /v1/*, tracked links /l/<token>, forms /f/*."""

from django.urls import path

from tandem.tracking.views_ingest import ENDPOINTS

app_name = "tracking"
urlpatterns = [path(f"v1/{name}", view, name=f"v1_{name}") for name, view in ENDPOINTS.items()]
