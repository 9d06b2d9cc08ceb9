# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

from unittest import mock

import pytest

from apps.engine import runtimes
from tests.apiutil import ApiClient, alice_token, api  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CATALOG = [
    runtimes.Runtime("3.11", runtimes.Status.READY),
    runtimes.Runtime("3.9", runtimes.Status.BUILDABLE, "debootstrap bullseye"),
]


def test_it_lists_runtimes_as_az_list_runtimes(api):
    with mock.patch.object(runtimes, "catalog", autospec=True, return_value=CATALOG):
        r = api.get("/api/runtimes?os=linux")
    assert r.status_code == 200
    first, second = r.json()
    assert {
        k: first[k] for k in ("os", "runtime", "version", "config", "support", "end_of_life")
    } == {
        "os": "linux",
        "runtime": "PYTHON",
        "version": "3.11",
        "config": "PYTHON|3.11",
        "support": "supported",
        "end_of_life": "2027-10-31",
    }
    assert first["status"] == "ready"
    assert second["support"] == "end of life"  # 3.9 ended in 2025


def test_windows_has_no_runtimes_here(api):
    assert api.get("/api/runtimes?os=windows").json() == []
    assert api.get("/api/runtimes?os=mac").status_code == 400


def test_the_openapi_document_is_served_without_a_token(db):
    r = ApiClient().get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/api/apps/{name}", "/api/apps/{name}/zipdeploy", "/api/runtimes"):
        assert path in doc["paths"]


def test_the_openapi_document_names_every_api_url(db):
    """Each /api/ route the portal serves is described (so the fuzz covers it)."""
    from django.urls import get_resolver

    from apps.api.api import document

    described = {p.replace("{name}", "x").replace("{id}", "1") for p in document()["paths"]}
    for route in ("/api/apps/x/config", "/api/apps/x/appsettings", "/api/apps/x/connectionstrings"):
        assert route in described
        get_resolver().resolve(route)  # and served


def test_the_docs_page_lists_the_operations(db):
    r = ApiClient().get("/api/docs")
    assert r.status_code == 200
    assert b"/api/apps/{name}/config" in r.content
