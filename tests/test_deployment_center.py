"""The Deployment Center pages: zip upload, local Git credentials, the
deployment list, a deployment's live log with progress, redeploy."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.deployments.models import Deployment
from apps.deployments.views_center import progress
from tests.deploy_helpers import zip_sample

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/deployment-center/"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def enqueue():
    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit") as delay:
        yield delay


def make(app, **kwargs) -> Deployment:
    return Deployment.objects.create(app=app, **kwargs)


def finished(app, pk_status="success", **kwargs) -> Deployment:
    now = timezone.now()
    return make(
        app,
        status=pk_status,
        started=now - timedelta(seconds=42),
        finished=now,
        **kwargs,
    )


def test_it_requires_login(client, webapp):
    assert client.get(URL).status_code == 302


def test_it_hides_other_users_apps(client, bob, webapp):
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.get(URL + "history").status_code == 404


def test_the_sidebar_links_the_deployment_center(alice_client, webapp):
    html = alice_client.get("/apps/hello-flask/").content.decode()
    assert f'href="{URL}"' in html


def test_it_shows_the_git_url_and_hides_the_password(alice_client, webapp):
    response = alice_client.get(URL)
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert "http://testserver/git/hello-flask.git" in html
    assert "$hello-flask" in html
    assert webapp.publishing_password not in html
    assert "Hidden value" in html


def test_show_reveals_the_password_without_javascript(alice_client, webapp):
    html = alice_client.get(URL + "?show=password").content.decode()
    assert webapp.publishing_password in html


def test_show_returns_only_the_credentials_card_to_htmx(alice_client, webapp):
    response = alice_client.get(URL + "credentials?show=password", **HX)
    html = response.content.decode()
    assert webapp.publishing_password in html
    assert html.strip().startswith('<section class="card" id="credentials">')
    assert "<html" not in html


def test_reset_asks_first(alice_client, webapp):
    old = webapp.publishing_password
    response = alice_client.post(URL + "credentials/reset")
    assert response.status_code == 200
    assert "Reset the deployment credentials?" in response.content.decode()
    webapp.refresh_from_db()
    assert webapp.publishing_password == old


def test_reset_makes_a_new_password_and_audits_it(alice_client, webapp):
    old = webapp.publishing_password
    response = alice_client.post(URL + "credentials/reset", {"confirmed": "1"})
    assert response.status_code == 302
    assert response["Location"].endswith("?show=password#credentials")
    webapp.refresh_from_db()
    assert webapp.publishing_password != old and len(webapp.publishing_password) > 30
    event = AuditEvent.objects.get(app=webapp, action="publishingcredentials.reset")
    assert event.actor_name == "alice"
    assert webapp.publishing_password not in event.summary


def test_reset_from_htmx_redirects_the_browser(alice_client, webapp):
    response = alice_client.post(URL + "credentials/reset", {"confirmed": "1"}, **HX)
    assert response.status_code == 200
    assert response["HX-Redirect"].endswith("?show=password#credentials")


def test_upload_queues_a_deployment_and_shows_it(alice_client, webapp, enqueue):
    package = SimpleUploadedFile("site.zip", zip_sample("flask_app"), "application/zip")
    response = alice_client.post(URL + "upload", {"package": package, "message": "first"})
    d = Deployment.objects.get(app=webapp)
    assert response.status_code == 302
    assert response["Location"] == f"{URL}{d.pk}/"
    assert d.status == "queued" and d.source == "zip" and d.message == "first"
    assert d.author == "alice" and d.deployer.username == "alice"
    enqueue.assert_called_once_with(deployment_id=d.pk)
    assert AuditEvent.objects.filter(app=webapp, action="deployment.zip").exists()


def test_upload_refuses_a_file_that_is_not_a_zip_at_the_field(alice_client, webapp, enqueue):
    package = SimpleUploadedFile("site.zip", b"not a zip at all", "application/zip")
    response = alice_client.post(URL + "upload", {"package": package})
    assert response.status_code == 400
    html = response.content.decode()
    assert "not a zip file" in html
    assert 'class="field has-error"' in html
    assert not Deployment.objects.exists()
    enqueue.assert_not_called()


def test_upload_without_a_file_says_so(alice_client, webapp, enqueue):
    response = alice_client.post(URL + "upload", {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_upload_needs_csrf(client, alice, webapp):
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    package = SimpleUploadedFile("site.zip", zip_sample("flask_app"), "application/zip")
    assert csrf_client.post(URL + "upload", {"package": package}).status_code == 403


def test_the_list_shows_status_commit_author_message_duration_and_active(alice_client, webapp):
    finished(
        webapp,
        commit_id="0123456789abcdef",
        author="Ada",
        message="Add login page",
        image="berth/app-hello-flask:1",
        active=True,
    )
    finished(webapp, "failed", message="Broken build")
    html = alice_client.get(URL).content.decode()
    assert "01234567" in html and "Ada" in html and "Add login page" in html
    assert "42 s" in html
    assert "badge badge-success" in html and "badge badge-failed" in html
    assert "badge badge-active" in html
    # Nothing runs: the list is not polled.
    assert 'hx-trigger="every 2s"' not in html


def test_the_list_polls_while_a_deployment_runs_and_stops_after(alice_client, webapp):
    d = make(webapp, status="building")
    html = alice_client.get(URL).content.decode()
    assert 'hx-trigger="every 2s"' in html
    partial = alice_client.get(URL + "history", **HX)
    assert partial.status_code == 200
    assert partial.content.decode().strip().startswith('<section class="card" id="history"')
    Deployment.objects.filter(pk=d.pk).update(status="success", finished=timezone.now())
    assert alice_client.get(URL + "history", **HX).status_code == 286


def test_the_list_offers_redeploy_only_for_older_successful_releases(alice_client, webapp):
    old = finished(webapp, image="berth/app-hello-flask:1")
    current = finished(webapp, image="berth/app-hello-flask:2", active=True)
    failed = finished(webapp, "failed")
    html = alice_client.get(URL).content.decode()
    assert f"{URL}{old.pk}/redeploy" in html
    assert f"{URL}{current.pk}/redeploy" not in html
    assert f"{URL}{failed.pk}/redeploy" not in html


def test_a_running_deployment_page_polls_its_log_every_second(alice_client, webapp):
    d = make(
        webapp, status="building", log="[berth-build] Step 1/3: pip install\nCollecting flask\n"
    )
    html = alice_client.get(f"{URL}{d.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert "Collecting flask" in html
    assert "Building: step 1 of 3" in html
    assert 'aria-current="step"' in html


def test_the_progress_partial_stops_polling_when_finished(alice_client, webapp):
    d = make(webapp, status="deploying", log="building...\n")
    partial = alice_client.get(f"{URL}{d.pk}/progress", **HX)
    assert partial.status_code == 200
    assert 'hx-trigger="every 1s"' in partial.content.decode()
    Deployment.objects.filter(pk=d.pk).update(
        status="success", finished=timezone.now(), log="building...\nStatus: success.\n"
    )
    partial = alice_client.get(f"{URL}{d.pk}/progress", **HX)
    html = partial.content.decode()
    assert partial.status_code == 286
    assert "every 1s" not in html
    assert "Status: success." in html


def test_a_deployment_of_another_app_is_not_found(alice_client, webapp, alice):
    from apps.webapps.models import WebApp

    other = WebApp.objects.create(name="other-app", owner=alice)
    d = make(other)
    assert alice_client.get(f"{URL}{d.pk}/").status_code == 404


def test_redeploy_asks_first(alice_client, webapp, enqueue):
    old = finished(webapp, image="berth/app-hello-flask:1")
    response = alice_client.post(f"{URL}{old.pk}/redeploy")
    assert response.status_code == 200
    assert f"Redeploy deployment #{old.pk}?" in response.content.decode()
    assert Deployment.objects.count() == 1
    enqueue.assert_not_called()


def test_redeploy_queues_the_old_release_and_audits(alice_client, webapp, enqueue):
    old = finished(webapp, image="berth/app-hello-flask:1", commit_id="abc")
    finished(webapp, image="berth/app-hello-flask:2", active=True)
    response = alice_client.post(f"{URL}{old.pk}/redeploy", {"confirmed": "1"})
    new = Deployment.objects.order_by("-pk").first()
    assert response.status_code == 302 and response["Location"] == f"{URL}{new.pk}/"
    assert new.source == "rollback" and new.image == old.image and new.commit_id == "abc"
    enqueue.assert_called_once_with(deployment_id=new.pk)
    assert AuditEvent.objects.filter(app=webapp, action="deployment.redeploy").exists()


def test_redeploy_from_htmx_redirects_the_browser(alice_client, webapp, enqueue):
    old = finished(webapp, image="berth/app-hello-flask:1")
    response = alice_client.post(f"{URL}{old.pk}/redeploy", {"confirmed": "1"}, **HX)
    assert response.status_code == 200
    assert "HX-Redirect" in response


def test_redeploy_of_a_failed_deployment_says_why(alice_client, webapp, enqueue):
    bad = finished(webapp, "failed")
    response = alice_client.post(f"{URL}{bad.pk}/redeploy", {"confirmed": "1"}, follow=True)
    assert "has no release image to redeploy" in response.content.decode()
    enqueue.assert_not_called()


def test_progress_follows_the_stages(webapp):
    assert [s.state for s in progress(make(webapp)).stages] == ["current", "todo", "todo", "todo"]
    building = progress(make(webapp, status="building"))
    assert [s.state for s in building.stages] == ["done", "current", "todo", "todo"]
    ok = progress(finished(webapp, image="x"))
    assert ok.percent == 100 and ok.stages[-1].label == "Success"
    assert all(s.state == "done" for s in ok.stages)
    failed_build = progress(finished(webapp, "failed"))
    assert [s.state for s in failed_build.stages] == ["done", "failed", "todo", "failed"]
    assert failed_build.stages[-1].label == "Failed"
    failed_start = progress(finished(webapp, "failed", image="x"))
    assert [s.state for s in failed_start.stages] == ["done", "done", "failed", "failed"]


def test_upload_warns_before_the_build_and_says_which_rule_will_match(
    alice_client, webapp, enqueue, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    files = {
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "antenv/pyvenv.cfg": "home = /usr/bin\n",
        "antenv/bin/activate": "# venv\n",
    }
    from tests.deploy_helpers import zip_files

    package = SimpleUploadedFile("site.zip", zip_files(files), "application/zip")
    response = alice_client.post(URL + "upload", {"package": package}, follow=True)
    text = response.content.decode()
    assert "Pre-deployment check:" in text and "antenv" in text
    assert "requirements.txt" in text
    assert "app:app" in text
    enqueue.assert_called_once()
    # The deployment page shows the same findings from the deployment itself.
    assert 'id="precheck"' in text and "2 warnings" in text
