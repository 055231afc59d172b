from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.api import api

urlpatterns = [
    path("", include("tandem.tracking.urls")),
    path("", include("tandem.core.urls")),
    path("", include("tandem.insights.urls")),
    path("crm/", include("tandem.crm.urls")),
    path("leads/", include("tandem.leads.urls")),
    path("sales/", include("tandem.sales.urls")),
    path("", include("tandem.sales.public_urls")),
    path("attribution/", include("tandem.attribution.urls")),
    path("marketing/", include("tandem.marketing.urls")),
    path("imports/", include("tandem.imports.urls")),
    path("enablement/", include("tandem.enablement.urls")),
    path("field/", include("tandem.field.urls")),
    path("programmes/", include("tandem.programmes.urls")),
    path("automation/", include("tandem.automation.urls")),
    path("e/", include("tandem.marketing.public_urls")),
    path("api/v1/", api.urls),
    # Django admin signs in through Tandem's sign-in (lockout, two-factor), never its own form.
    path(
        "django-admin/login/",
        RedirectView.as_view(pattern_name="core:login", query_string=True),
    ),
    path("django-admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler500 = "tandem.core.outage.server_error"
