"""Public pages of sales (no sign-in): quotes at their signed links, and the price request."""

from django.urls import path

from tandem.sales import public_views

app_name = "sales_public"
urlpatterns = [
    path("quote/<str:token>/", public_views.quote_page, name="quote"),
    path("quote/<str:token>/pdf/", public_views.quote_public_pdf, name="quote_pdf"),
    path("quote/<str:token>/accept/", public_views.quote_accept, name="quote_accept"),
    path("quote/<str:token>/question/", public_views.quote_question, name="quote_question"),
    path("price-request/", public_views.price_request, name="price_request"),
]
