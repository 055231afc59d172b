"""Segment member and reaction pages, added to marketing's URL patterns (namespace "marketing")."""

from django.urls import path

from tandem.marketing.segments import views

urlpatterns = [
    path("segments/add-contacts", views.add_filtered, name="segment_add_contacts"),
    path("segments/<int:pk>/members/add", views.members_add, name="segment_members_add"),
    path("segments/<int:pk>/members/remove", views.members_remove, name="segment_members_remove"),
    path("segments/<int:pk>/reactions/add", views.reaction_add, name="segment_reaction_add"),
    path(
        "segments/<int:pk>/reactions/<int:reaction_id>/<str:action>",
        views.reaction_action,
        name="segment_reaction_action",
    ),
]
