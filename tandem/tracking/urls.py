"""Public tracking endpoints: Segment-compatible /v1/*, tracked links /l/<token>, forms."""

app_name = "tracking"
urlpatterns: list = []
