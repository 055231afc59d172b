"""Scoring pages, mounted by `tandem.leads.urls` under /leads/scoring/ (names in `leads:`)."""

from django.urls import path

from tandem.leads.scoring import views

urlpatterns = [
    path("scoring/", views.scoring_list, name="scoring_list"),
    path("scoring/<int:pk>/", views.scoring_detail, name="scoring_detail"),
    path("scoring/<int:pk>/rules/", views.rule_add, name="scoring_rule_add"),
    path(
        "scoring/<int:pk>/rules/<int:rule_id>/delete/",
        views.rule_delete,
        name="scoring_rule_delete",
    ),
    path("scoring/<int:pk>/preview/", views.preview, name="scoring_preview"),
    path("scoring/<int:pk>/activate/", views.activate, name="scoring_activate"),
    path("scoring/<int:pk>/jobs/<str:kind>/", views.job_start, name="scoring_job_start"),
    path("scoring/jobs/<int:job_id>/", views.job_state, name="scoring_job"),
    path("scoring/<int:pk>/switch-on/", views.switch_on, name="scoring_switch_on"),
    path("scoring/<int:pk>/switch-off/", views.switch_off, name="scoring_switch_off"),
    path("contacts/<int:pk>/score/", views.contact_score, name="contact_score"),
]
