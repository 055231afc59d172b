"""Subscription type pages, added to marketing's URL patterns (namespace "marketing")."""

from django.urls import path

from tandem.marketing.subscriptions import views

urlpatterns = [
    path("subscriptions/", views.type_list, name="subscription_list"),
    path("subscriptions/new", views.type_edit, name="subscription_new"),
    path("subscriptions/<int:pk>/", views.type_edit, name="subscription_edit"),
    path("subscriptions/<int:pk>/<str:action>", views.type_action, name="subscription_action"),
]
