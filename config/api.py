"""The HTTP API under /api/v1 (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Every operation is authenticated (`TokenOrSession`), every error is JSON (see
`tandem.core.api_errors`), and any other path or method under /api/v1 answers a JSON 404/405.
Apps add their routers below; endpoints stay thin (parse, call a service, render).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, path, re_path
from django.utils.translation import gettext as _
from ninja import NinjaAPI

from tandem.attribution.api import router as attribution_router
from tandem.automation.api import router as automation_router
from tandem.core.api import router as core_router
from tandem.core.api_auth import TokenOrSession
from tandem.core.api_docs import LocalSwagger, docs_asset
from tandem.core.api_errors import StrictJsonParser, error_response, install_error_handlers
from tandem.core.api_exports import router as exports_router
from tandem.core.api_output import JSONRenderer
from tandem.core.api_tasks import router as tasks_router
from tandem.core.api_users import router as users_router
from tandem.crm.api import router as crm_router
from tandem.enablement.api import router as enablement_router
from tandem.field.api import router as field_router
from tandem.imports.api import router as imports_router
from tandem.insights.api import router as insights_router
from tandem.leads.api import router as leads_router
from tandem.leads.scoring.api import router as scoring_router
from tandem.marketing.api import router as marketing_router
from tandem.programmes.api import router as programmes_router
from tandem.sales.api import router as sales_router
from tandem.tracking.api import router as tracking_router

DESCRIPTION = """The Tandem API: the shared customer record (accounts, contacts, the timeline).

Authenticate with `Authorization: Bearer tdm_…` (create tokens under your profile or with
`POST /api/v1/tokens` while signed in). Errors are JSON `{"code", "message", "details"}`.
Lists are cursor-paginated: pass `next_cursor` back as `cursor`. See docs/api.md.
"""


def _json_method_not_allowed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer ninja's plain 405 as the JSON error shape, keeping the Allow header."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error_response(
                405, "method_not_allowed", _("Method not allowed here."), {"allow": allowed}
            )
            response["Allow"] = allowed
        return response

    return wrapper


def _unknown_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(404, "not_found", _("No such API endpoint."))


class TandemAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                if pattern.name == "api-root":  # kept for reverse(): ninja derives paths from it
                    pattern.callback = _unknown_path
                else:
                    pattern.callback = _json_method_not_allowed(pattern.callback)
        return (
            [
                path("docs/assets/<str:name>", docs_asset, name="docs-asset"),
                *patterns,
                re_path(r"^(?P<rest>.*)$", _unknown_path, name="unknown"),
            ],
            app_name,
            namespace,
        )


api = TandemAPI(
    title="Tandem API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=TokenOrSession(),
    parser=StrictJsonParser(),
    renderer=JSONRenderer(),
    docs=LocalSwagger(),
    docs_url="/docs",
)
install_error_handlers(api)
api.add_router("/", core_router)
api.add_router("/", users_router)
api.add_router("/", tasks_router)
api.add_router("/", exports_router)
api.add_router("/", crm_router)
api.add_router("/", imports_router)
api.add_router("/sales", sales_router)
api.add_router("/leads", leads_router)
api.add_router("/leads/scoring", scoring_router)
api.add_router("/attribution", attribution_router)
api.add_router("/marketing", marketing_router)
api.add_router("/insights", insights_router)
api.add_router("/tracking", tracking_router)
api.add_router("/enablement", enablement_router)
api.add_router("/field", field_router)
api.add_router("/programmes", programmes_router)
api.add_router("/automation", automation_router)
