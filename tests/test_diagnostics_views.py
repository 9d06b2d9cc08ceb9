"""The Diagnose and solve problems page, its htmx partial, the JSON endpoint
and the one-click fix."""

from __future__ import annotations

import zipfile

import pytest
from django.test import Client

from apps.deployments.models import Deployment
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

DEFAULT_SITE_LOG = "12:00:01 Detected: default (no app found: serving the default site)\n"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    # Fast tests: the containers part of the evidence is empty.
    monkeypatch.setattr(
        "apps.diagnostics.evidence._containers", lambda app, secrets, tail: ([], "")
    )


@pytest.fixture
def restarts(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "apps.webapps.services.request_restart", lambda app, reason, **kw: calls.append(reason)
    )
    return calls


@pytest.fixture
def broken(webapp, tmp_path) -> WebApp:
    """An app whose Flask object is website/hello.py's `myapp`: the default site answers."""
    artifact = tmp_path / "code.zip"
    with zipfile.ZipFile(artifact, "w") as zf:
        zf.writestr("website/hello.py", "from flask import Flask\nmyapp = Flask(__name__)\n")
        zf.writestr("requirements.txt", "")
    Deployment.objects.create(
        app=webapp, status="success", active=True, log=DEFAULT_SITE_LOG, artifact=str(artifact)
    )
    return webapp


def test_it_shows_the_categories_and_a_healthy_summary(alice_client, webapp):
    r = alice_client.get(f"/apps/{webapp.name}/diagnose/")
    assert r.status_code == 200
    body = r.content.decode()
    for category in ("Availability and Performance", "Deployment and build", "Configuration"):
        assert category in body
    assert "0 critical" in body and "0 warnings" in body
    assert "Run again" in body


def test_it_shows_the_finding_with_evidence_cause_and_fix(alice_client, broken):
    body = alice_client.get(f"/apps/{broken.name}/diagnose/").content.decode()
    assert "1 critical" in body
    assert "Detected: default (no app found: serving the default site)" in body
    assert "website/hello.py" in body
    assert "gunicorn --bind=0.0.0.0 --timeout 600 --chdir website hello:myapp" in body
    assert f"/apps/{broken.name}/diagnose/default_site/fix/" in body


def test_run_again_renders_only_the_report(alice_client, broken):
    r = alice_client.get(f"/apps/{broken.name}/diagnose/", headers={"HX-Request": "true"})
    body = r.content.decode()
    assert body.lstrip().startswith('<div id="report">')
    assert "<html" not in body


def test_the_api_gives_the_same_results_as_json(alice_client, broken):
    data = alice_client.get(f"/api/apps/{broken.name}/diagnostics").json()
    assert data["summary"] == {"critical": 1, "warning": 0}
    found = next(d for d in data["detectors"] if d["id"] == "default_site")
    assert found["status"] == "critical"
    assert found["finding"]["action"]["value"].endswith("--chdir website hello:myapp")
    assert found["category"] == "Availability and Performance"


def test_the_api_wants_authentication(client, broken):
    assert client.get(f"/api/apps/{broken.name}/diagnostics").status_code == 401


def test_the_api_takes_a_bearer_token(client, broken, alice, bob):
    from apps.api.models import ApiToken

    _, token = ApiToken.objects.create_for(alice)
    r = client.get(
        f"/api/apps/{broken.name}/diagnostics", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert r.json()["app"] == broken.name
    # Another user's token finds no such app.
    _, other = ApiToken.objects.create_for(bob)
    r = client.get(
        f"/api/apps/{broken.name}/diagnostics", headers={"Authorization": f"Bearer {other}"}
    )
    assert r.status_code == 404


def test_other_users_apps_are_not_found(client, broken, bob):
    client.force_login(bob)
    assert client.get(f"/apps/{broken.name}/diagnose/").status_code == 404
    assert client.get(f"/api/apps/{broken.name}/diagnostics").status_code == 404
    assert (
        client.post(
            f"/apps/{broken.name}/diagnose/default_site/fix/", {"confirm": "yes"}
        ).status_code
        == 404
    )


def test_the_page_needs_login(client, broken):
    r = client.get(f"/apps/{broken.name}/diagnose/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_the_fix_asks_for_confirmation_first(alice_client, broken, restarts):
    r = alice_client.post(f"/apps/{broken.name}/diagnose/default_site/fix/")
    assert r.status_code == 200
    assert b"Apply this fix?" in r.content
    broken.refresh_from_db()
    assert broken.app_command_line == ""


def test_the_one_click_fix_sets_the_startup_command(alice, broken, restarts):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get(f"/apps/{broken.name}/diagnose/")
    token = page.cookies["csrftoken"].value
    r = client.post(
        f"/apps/{broken.name}/diagnose/default_site/fix/",
        {"confirm": "yes", "csrfmiddlewaretoken": token},
    )
    assert r.status_code == 302
    broken.refresh_from_db()
    assert (
        broken.app_command_line
        == "gunicorn --bind=0.0.0.0 --timeout 600 --chdir website hello:myapp"
    )
    assert restarts and "app_command_line" in restarts[0]


def test_the_fix_is_refused_without_csrf(alice, broken, restarts):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    r = client.post(f"/apps/{broken.name}/diagnose/default_site/fix/", {"confirm": "yes"})
    assert r.status_code == 403
    broken.refresh_from_db()
    assert broken.app_command_line == ""


def test_an_htmx_fix_redirects_the_page(alice_client, broken, restarts):
    r = alice_client.post(
        f"/apps/{broken.name}/diagnose/default_site/fix/",
        {"confirm": "yes"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r["HX-Redirect"] == f"/apps/{broken.name}/diagnose/"


def test_a_fix_for_a_healthy_detector_says_there_is_nothing_to_do(alice_client, webapp, restarts):
    r = alice_client.post(
        f"/apps/{webapp.name}/diagnose/default_site/fix/", {"confirm": "yes"}, follow=True
    )
    assert b"nothing to fix any more" in r.content
    assert restarts == []


def test_the_fix_rejects_get(alice_client, broken):
    assert alice_client.get(f"/apps/{broken.name}/diagnose/default_site/fix/").status_code == 405
