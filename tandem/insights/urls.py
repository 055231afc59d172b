from django.urls import path

from tandem.insights import process_views, views

app_name = "insights"
urlpatterns = [
    path("", views.home, name="home"),
    path("insights/", views.cockpit, name="cockpit"),
    path("insights/goals/", views.goals, name="goals"),
    path("insights/goals/<int:pk>/remove/", views.goal_remove, name="goal_remove"),
    path("insights/channels/", process_views.cockpit_channels, name="funnel_channels"),
    path("insights/export/<slug:table>/", process_views.cockpit_export, name="cockpit_export"),
    path("insights/process/", process_views.process_page, name="process"),
    path(
        "insights/process/export/<slug:table>/",
        process_views.process_export,
        name="process_export",
    ),
    path("insights/board.pdf", process_views.board_report, name="board_report"),
]
