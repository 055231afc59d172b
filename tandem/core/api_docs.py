"""The API's interactive docs page (Swagger UI), with every script and style served by Tandem.

django-ninja ships the Swagger UI files in its package but, unless "ninja" is an installed app,
renders a page that loads them from a CDN. Here the page is our own and the files are served from
the installed package by `docs_asset`, limited to a fixed list of names (no path from the URL ever
reaches the file system).
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.views.decorators.cache import cache_control
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.png"})

_PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link rel="stylesheet" href="{{ assets }}swagger-ui.css">
  <link rel="icon" type="image/png" href="{{ assets }}favicon.png">
</head>
<body data-csrf-token="{{ csrf_token }}" data-api-csrf="true">
  <script type="application/json" id="swagger-settings">{{ settings_json|safe }}</script>
  <div id="swagger-ui"></div>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script src="{{ assets }}swagger-ui-init.js"></script>
</body>
</html>
"""


class LocalSwagger(DocsBase):
    """Swagger UI whose files come from Tandem's own URLs (see `docs_asset`)."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        from django.utils.translation import get_language

        settings = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
        }
        # `</` cannot end the JSON script element early.
        settings_json = json.dumps(settings).replace("</", "<\\/")
        template = engines["django"].from_string(_PAGE)
        assets = reverse(f"{api.urls_namespace}:docs-asset", kwargs={"name": "x"})[:-1]
        html = template.render(
            {
                "title": api.title,
                "settings_json": settings_json,
                "assets": assets,
                "lang": get_language() or "en",
            },
            request,
        )
        return HttpResponse(html)


@cache_control(public=True, max_age=86400)
def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in ASSETS:
        raise Http404(name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse((ASSET_DIR / name).open("rb"), content_type=content_type)
