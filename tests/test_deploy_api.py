from __future__ import annotations

import base64
from unittest import mock

import pytest

from apps.deployments import services
from apps.deployments.models import Deployment
from tests.deploy_helpers import zip_sample

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def creds(app) -> dict[str, str]:
    return basic(app.publishing_username, app.publishing_password)


def post_zip(client, app, data: bytes, query: str = "", **headers):
    return client.post(
        f"/api/apps/{app.name}/zipdeploy{query}",
        data=data,
        content_type="application/zip",
        **headers,
    )


def finish(deployment_id: int) -> Deployment:
    Deployment.objects.filter(pk=deployment_id).update(status="success", image="berth/app-x:1")
    return Deployment.objects.get(pk=deployment_id)


def test_it_asks_for_credentials(client, webapp):
    answer = post_zip(client, webapp, zip_sample("flask_app"))
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Basic")
    assert Deployment.objects.count() == 0


def test_it_refuses_a_wrong_password(client, webapp):
    answer = post_zip(
        client, webapp, zip_sample("flask_app"), **basic(webapp.publishing_username, "no")
    )
    assert answer.status_code == 401


def test_it_refuses_a_logged_in_session_for_writes(alice_client, webapp):
    # No cookie-authenticated writes: these endpoints are CSRF-exempt.
    assert post_zip(alice_client, webapp, zip_sample("flask_app")).status_code == 401


def test_it_deploys_synchronously_by_default(client, webapp):
    with mock.patch.object(services, "run_deployment", side_effect=finish) as run:
        answer = post_zip(client, webapp, zip_sample("flask_app"), **creds(webapp))
    assert answer.status_code == 200
    body = answer.json()
    run.assert_called_once_with(body["id"])
    assert body["status"] == "success"
    assert body["complete"] is True
    assert body["log_url"].endswith(f"/api/apps/{webapp.name}/deployments/{body['id']}/log")


def test_it_accepts_the_kudu_style_user_name(client, webapp):
    with mock.patch.object(services, "run_deployment", side_effect=finish):
        answer = post_zip(
            client,
            webapp,
            zip_sample("flask_app"),
            **basic(f"{webapp.name}\\{webapp.publishing_username}", webapp.publishing_password),
        )
    assert answer.status_code == 200


def test_it_answers_202_with_a_location_when_async(client, webapp):
    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit") as delay:
        answer = post_zip(client, webapp, zip_sample("flask_app"), "?isAsync=true", **creds(webapp))
    assert answer.status_code == 202
    d = Deployment.objects.get()
    assert answer["Location"] == f"/api/apps/{webapp.name}/deployments/{d.pk}"
    assert d.status == "queued"
    assert d.artifact.endswith(f"artifacts/{webapp.name}/{d.pk}.zip")
    delay.assert_called_once_with(deployment_id=d.pk)


def test_it_accepts_a_multipart_upload(client, webapp):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("app.zip", zip_sample("flask_app"), "application/zip")
    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit"):
        answer = client.post(
            f"/api/apps/{webapp.name}/zipdeploy?isAsync=true", {"file": upload}, **creds(webapp)
        )
    assert answer.status_code == 202


def test_it_refuses_a_bad_zip_and_changes_nothing(client, webapp):
    answer = post_zip(client, webapp, b"not a zip", **creds(webapp))
    assert answer.status_code == 400
    assert "not a zip file" in answer.json()["error"]
    assert Deployment.objects.count() == 0


def test_it_lists_and_shows_deployments_and_their_logs(client, webapp):
    d = Deployment.objects.create(app=webapp, log="Step 1/1: pip install\n")
    listed = client.get(f"/api/apps/{webapp.name}/deployments/", **creds(webapp)).json()
    assert [x["id"] for x in listed] == [d.pk]
    shown = client.get(f"/api/apps/{webapp.name}/deployments/{d.pk}", **creds(webapp)).json()
    assert shown["status"] == "queued"
    log = client.get(f"/api/apps/{webapp.name}/deployments/{d.pk}/log", **creds(webapp))
    assert log.content == b"Step 1/1: pip install\n"


def test_the_owner_may_read_with_a_session_but_others_may_not(alice_client, client, bob, webapp):
    d = Deployment.objects.create(app=webapp)
    assert alice_client.get(f"/api/apps/{webapp.name}/deployments/{d.pk}").status_code == 200
    client.force_login(bob)
    assert client.get(f"/api/apps/{webapp.name}/deployments/{d.pk}").status_code == 401


def test_a_task_that_runs_twice_does_the_work_once(webapp):
    d = Deployment.objects.create(app=webapp, status="building")
    with mock.patch("apps.deployments.buildrun.build_release") as build:
        assert services.run_deployment(d.pk).status == "building"
    build.assert_not_called()


def test_redeploy_reuses_the_release_image_without_a_build(webapp):
    old = Deployment.objects.create(
        app=webapp, status="success", image="berth/app-hello-flask:1", startup={"rule": "flask"}
    )
    new = services.redeploy(old)
    assert new.source == "rollback"
    assert new.image == old.image
    assert new.status == "queued"


def test_redeploy_needs_a_successful_release(webapp):
    with pytest.raises(ValueError, match="no release image"):
        services.redeploy(Deployment.objects.create(app=webapp, status="failed"))


def test_the_log_masks_secrets(webapp):
    from apps.lifecycle.deploylog import DeploymentLog
    from apps.webapps.models import AppSetting

    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value="hunter2-very-secret")
    d = Deployment.objects.create(app=webapp)
    log = DeploymentLog(d)
    log.write("connecting with hunter2-")
    log.write("very-secret\n")
    log.flush()
    d.refresh_from_db()
    assert "hunter2" not in d.log
    assert "***" in d.log
