from django.urls import path

from tandem.insights import views

app_name = "insights"
urlpatterns = [
    path("", views.home, name="home"),
    path("insights/", views.cockpit, name="cockpit"),
    path("insights/goals/", views.goals, name="goals"),
    path("insights/goals/<int:pk>/remove/", views.goal_remove, name="goal_remove"),
]
