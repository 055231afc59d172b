"""Public email and content endpoints, mounted under /e/ (see public_views)."""

from django.urls import path

from tandem.marketing import public_views

app_name = "marketing_public"
urlpatterns = [
    path("o/<str:token>", public_views.open_pixel, name="open"),
    path("c/<str:signed>", public_views.click, name="click"),
    path("u/<str:token>", public_views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>", public_views.preferences, name="preferences"),
    path("confirm/<str:signed>", public_views.confirm, name="confirm"),
    path("content/d/<str:token>", public_views.content_download, name="content_download"),
    path("content/v/<str:token>", public_views.content_view, name="content_view"),
]
