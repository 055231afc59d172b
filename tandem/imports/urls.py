from django.urls import path

from tandem.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/progress/", views.job_progress, name="progress"),
    path("<int:pk>/mapping/", views.job_mapping, name="mapping"),
    path("<int:pk>/start/", views.job_start, name="start"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("<int:pk>/undo/", views.job_undo, name="undo"),
    path("<int:pk>/resume/", views.job_resume, name="resume"),
    path("<int:pk>/report/", views.job_report_export, name="report_export"),
]
