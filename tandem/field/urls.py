from django.urls import URLPattern, URLResolver

app_name = "field"
urlpatterns: list[URLPattern | URLResolver] = []
