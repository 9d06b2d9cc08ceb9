# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
"""The OpenAPI document is generated from the code and names every /api/
route the portal serves, whichever app serves it."""

from __future__ import annotations

import json
import re

from django.urls import URLPattern, URLResolver, get_resolver

from apps.api.api import document
from tests.apiutil import ApiClient, alice_token, api  # noqa: F401


def _routes(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            found.extend(_routes(p, route))
        else:
            found.append((route, p))
    return found


def _shape(path: str) -> str:
    """/api/apps/<str:name>/deployments/<int:pk> and /api/apps/{name}/deployments/{id}
    both as /api/apps/{}/deployments/{}."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def api_routes() -> set[str]:
    return {
        _shape("/" + route)
        for route, pattern in _routes(get_resolver())
        if route.startswith("api/") and pattern.name != "not_found"
    }


def test_every_api_route_of_the_portal_is_in_the_schema(db):
    described = {_shape(path) for path in document()["paths"]}
    routes = api_routes()
    # The apps that serve API paths of their own are all walked.
    for path in ("/api/apps/{}/zipdeploy", "/api/apps/{}/logstream", "/api/apps/{}/diagnostics"):
        assert path in routes
    assert routes - described == set()


def test_every_path_in_the_schema_is_served(db):
    assert {_shape(path) for path in document()["paths"]} - api_routes() == set()


def test_the_schema_is_served_without_a_token(db):
    r = ApiClient().get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert doc == json.loads(json.dumps(document()))
    assert doc["components"]["securitySchemes"] == {
        "BearerAuth": {"type": "http", "scheme": "bearer"}
    }


def test_an_unknown_api_path_is_a_json_404(api):
    r = api.post("/api/apps/hello/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NotFound"


def test_the_body_schemas_are_the_parsing_schemas(db):
    """What the document says a body may hold is what the view accepts."""
    from apps.api.schemas import AppSetting

    body = document()["paths"]["/api/apps/{name}/appsettings"]["patch"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["items"] == AppSetting.model_json_schema()
    assert schema["items"]["additionalProperties"] is False
