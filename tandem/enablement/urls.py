from django.urls import URLPattern, URLResolver, path

from tandem.enablement import views, voice_views

app_name = "enablement"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.library, name="library"),
    path("assets/new/", views.asset_edit, name="asset_new"),
    path("assets/<int:pk>/", views.asset_detail, name="asset_detail"),
    path("assets/<int:pk>/edit/", views.asset_edit, name="asset_edit"),
    path("assets/<int:pk>/versions/", views.asset_version, name="asset_version"),
    path("assets/<int:pk>/share/", views.asset_share, name="asset_share"),
    path("assets/<int:pk>/rate/", views.asset_rate, name="asset_rate"),
    path("s/ping/", views.public_ping, name="public_ping"),
    path("s/<str:token>/", views.public_view, name="public_view"),
    path("value/", views.value, name="value"),
    path("requests/", views.request_list, name="request_list"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("voice/", voice_views.voice, name="voice"),
    path("voice/scan/", voice_views.voice_scan, name="voice_scan"),
    path("voice/themes/", voice_views.theme_create, name="theme_create"),
    path("voice/themes/<int:pk>/", voice_views.theme_detail, name="theme_detail"),
    path("voice/tags/", voice_views.tag_add, name="tag_add"),
    path("voice/tags/<int:pk>/", voice_views.tag_decide, name="tag_decide"),
    path("joint/", voice_views.joint_list, name="joint_list"),
    path("joint/<int:pk>/", voice_views.joint_answer, name="joint_answer"),
    path("insights/", voice_views.insight_add, name="insight_add"),
    path("health/", views.health, name="health"),
]
