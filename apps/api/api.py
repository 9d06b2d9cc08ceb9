"""The API's one NinjaAPI: every operation under /api/, and the OpenAPI
document generated from them (/api/openapi.json, the page at /api/docs).

Why django-ninja: the views were already plain functions taking a request
and returning JSON, so they move over as they are with a decorator; the
request and response shapes become pydantic classes (apps.api.schemas)
from which ninja writes the schema, and the responses are validated
against the same classes. DRF would mean serializers, viewsets and its
own request/response/auth layer for the same result.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from ninja import NinjaAPI

from apps.api import backups, borrowed, connections, views
from apps.api.http import BearerAuth, install_error_handlers
from apps.api.schemas import Error

api = NinjaAPI(
    title="Berth API",
    version="1",
    description=(
        "Berth's REST API: what the `berth` CLI (az webapp's commands) calls. "
        "Authenticate with `Authorization: Bearer <token>` (POST /api/token, or "
        '`berth login`). Errors are `{"error": {"code", "message"}}`; those of '
        'zip deploy, deployments and diagnostics are `{"error": "..."}`.'
    ),
    auth=BearerAuth(),
    urls_namespace="api",
    # Served by the operations below; ninja's Swagger page loads from a CDN.
    openapi_url=None,
    docs_url=None,
)
install_error_handlers(api)
api.add_router("", views.router)
api.add_router("", borrowed.router)
api.add_router("", connections.router)
api.add_router("", backups.router)

PATH_PREFIX = "/api/"


def document() -> dict:
    """The OpenAPI document, paths as the portal serves them."""
    return api.get_openapi_schema(path_prefix=PATH_PREFIX)


@api.get(
    "/openapi.json",
    auth=None,
    url_name="openapi",
    operation_id="openapi",
    summary="This document.",
    tags=["api"],
    response={200: dict[str, Any], 400: Error},
)
def openapi_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse(document())


@api.get(
    "/docs",
    auth=None,
    url_name="docs",
    operation_id="docs",
    summary="The operations, as a page.",
    tags=["api"],
    response={400: Error},
    openapi_extra={
        "responses": {
            200: {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
        }
    },
)
def docs(request: HttpRequest) -> HttpResponse:
    return render(request, "api/docs.html", {"operations": operations()})


def operations() -> list[dict]:
    """(method, path, summary) rows for the docs page."""
    rows = []
    for path, item in document()["paths"].items():
        for method, op in item.items():
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "public": "security" not in op or op["security"] == [],
                }
            )
    return rows
