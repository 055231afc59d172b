from django.urls import path

from tandem.attribution import views

app_name = "attribution"
urlpatterns = [
    path("", views.attribution_page, name="page"),
    path("runs/progress/", views.runs_progress, name="progress"),
    path("export.csv", views.attribution_export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", views.attribution_export, {"fmt": "xlsx"}, name="export_xlsx"),
]
