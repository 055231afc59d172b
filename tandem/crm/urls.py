from django.urls import path

from tandem.crm import views

app_name = "crm"
urlpatterns: list = []
