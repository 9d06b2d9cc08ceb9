# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
"""A stack change builds the serving release again on the new runtime (a
deployment, zero downtime); a failure puts the old stack back; a missing
runtime image is built first instead of failing the deploy."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from apps.core import failures
from apps.deployments import buildrun, services, tasks
from apps.deployments.models import Deployment
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed
from apps.webapps import services as config
from apps.webapps.models import Operation, WebApp
from tests.apiutil import alice_token, api  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def serving(webapp, tmp_path):
    artifact = tmp_path / "release.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    return Deployment.objects.create(
        app=webapp,
        status=Deployment.Status.SUCCESS,
        active=True,
        image="berth/app-hello-flask:1",
        artifact=str(artifact),
        container="berth-hello-flask-1",
        host_port=40001,
    )


def test_a_stack_change_queues_a_rebuild_of_the_serving_release(
    webapp, serving, alice, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.deploy, "delay") as deploy,
        django_capture_on_commit_callbacks(execute=True),
    ):
        config.update_general_settings(webapp, linux_fx_version="PYTHON|3.13", actor=alice)
    rebuild = Deployment.objects.get(source=Deployment.Source.STACK)
    deploy.assert_called_once_with(deployment_id=rebuild.pk)
    assert rebuild.artifact == serving.artifact and rebuild.image == ""
    assert rebuild.status == Deployment.Status.QUEUED
    assert "PYTHON|3.11 to PYTHON|3.13" in rebuild.log
    assert json.loads(rebuild.replaced_settings)["linuxFxVersion"] == "PYTHON|3.11"
    # The rebuild applies the change: no restart besides it.
    assert not Operation.objects.filter(app=webapp).exists()


def test_without_a_release_the_stack_is_only_saved(
    webapp, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        config.update_general_settings(webapp, linux_fx_version="PYTHON|3.13", actor=alice)
    webapp.refresh_from_db()
    assert webapp.linux_fx_version == "PYTHON|3.13"
    assert not Deployment.objects.exists()


def test_a_release_whose_source_is_gone_refuses_the_change(webapp, serving, alice):
    serving.artifact = "/nonexistent/release.zip"
    serving.save()
    with pytest.raises(ValidationError, match="deploy the app again"):
        config.update_general_settings(webapp, linux_fx_version="PYTHON|3.13", actor=alice)
    webapp.refresh_from_db()
    assert webapp.linux_fx_version == "PYTHON|3.11"
    assert not Deployment.objects.filter(source=Deployment.Source.STACK).exists()


def test_a_failed_rebuild_puts_the_old_stack_back(webapp, serving, alice, monkeypatch):
    with mock.patch.object(tasks.deploy, "delay"):
        config.update_general_settings(webapp, linux_fx_version="PYTHON|3.13", actor=alice)
    rebuild = Deployment.objects.get(source=Deployment.Source.STACK)

    def fails(*args, **kwargs):
        raise DeployFailed("The build failed (exit code 1).", code=failures.BUILD_FAILED)

    monkeypatch.setattr(buildrun, "build_release", fails)
    monkeypatch.setattr(
        services.startup,
        "detect",
        lambda tree: services.startup.Detection(rule="default", reason="test", command="true"),
    )
    done = services.run_deployment(rebuild.pk)
    assert done.status == Deployment.Status.FAILED
    assert done.failure_code == failures.BUILD_FAILED
    webapp.refresh_from_db()
    assert webapp.linux_fx_version == "PYTHON|3.11"
    assert Deployment.objects.get(pk=serving.pk).active


def test_the_api_says_where_to_follow_the_rebuild(api, serving):
    with mock.patch.object(tasks.deploy, "delay"):
        r = api.patch(f"/api/apps/{serving.app.name}/config", {"linuxFxVersion": "PYTHON|3.13"})
    assert r.status_code == 200
    rebuild = Deployment.objects.get(source=Deployment.Source.STACK)
    assert r["Berth-Rebuild"] == f"/api/apps/{serving.app.name}/deployments/{rebuild.pk}"
    assert r.json()["linuxFxVersion"] == "PYTHON|3.13"


def test_a_missing_runtime_image_is_built_first(webapp, monkeypatch):
    deployment = Deployment.objects.create(app=webapp)
    log = DeploymentLog(deployment)
    monkeypatch.setattr(buildrun.engine, "image_exists", lambda tag: False)
    monkeypatch.setattr(buildrun.buildplan, "how_to_build", lambda version: "debootstrap")

    def ensure(version, echo):
        echo(50, "bootstrapping")
        return object(), ""

    monkeypatch.setattr(buildrun.runtime_images, "ensure_and_record", ensure)
    assert buildrun.runtime_image(webapp, log) == "berth/python:3.11"
    assert "not here yet: building it first" in log.text
    assert "50% bootstrapping" in log.text


def test_a_runtime_that_cannot_be_built_here_fails_with_why(webapp, monkeypatch):
    WebApp.objects.filter(pk=webapp.pk).update(linux_fx_version="PYTHON|3.10")
    webapp.refresh_from_db()
    monkeypatch.setattr(buildrun.engine, "image_exists", lambda tag: False)
    monkeypatch.setattr(buildrun.buildplan, "how_to_build", lambda version: "")
    monkeypatch.setattr(
        buildrun.buildplan, "why_unavailable", lambda version: "No Debian suite has 3.10."
    )
    with pytest.raises(DeployFailed) as failed:
        buildrun.runtime_image(webapp)
    assert failed.value.code == failures.RUNTIME_MISSING
    assert "No Debian suite has 3.10." in failed.value.message


def test_a_deploy_to_a_stopped_app_is_what_it_runs_when_started(webapp, serving, monkeypatch):
    WebApp.objects.filter(pk=webapp.pk).update(state=WebApp.State.STOPPED)
    new = Deployment.objects.create(
        app=webapp, image="berth/app-hello-flask:2", startup={}, artifact=serving.artifact
    )
    done = services.run_deployment(new.pk)
    assert done.status == Deployment.Status.SUCCESS, done.log
    assert Deployment.objects.get(active=True).pk == new.pk


def test_platform_settings_are_checked_when_saved(webapp):
    with pytest.raises(ValidationError, match="WEBSITES_PORT is the port"):
        config.set_app_settings(webapp, [config.SettingInput("WEBSITES_PORT", "eighty")])
    with pytest.raises(ValidationError, match="1-1800"):
        config.set_app_settings(
            webapp, [config.SettingInput("WEBSITES_CONTAINER_START_TIME_LIMIT", "3600")]
        )
    assert not webapp.app_settings.exists()


def test_the_port_and_start_limit_come_from_the_app_settings(webapp, settings):
    from apps.webapps import environment

    settings.BERTH_START_TIME_LIMIT = 230
    assert environment.container_port(webapp) == 8000
    assert environment.start_time_limit(webapp) == 230
    config.set_app_settings(
        webapp,
        [
            config.SettingInput("WEBSITES_PORT", "5000"),
            config.SettingInput("WEBSITES_CONTAINER_START_TIME_LIMIT", "600"),
        ],
        restart=False,
    )
    assert environment.container_port(webapp) == 5000
    assert environment.start_time_limit(webapp) == 600
    assert environment.build_environment(webapp)["PORT"] == "5000"


def test_the_failure_names_the_exception_at_the_end_of_the_log():
    log = (
        "[2026-12-01 10:00:00 +0000] [7] [ERROR] Error handling request /\n"
        "Traceback (most recent call last):\n"
        '  File "/home/site/wwwroot/app.py", line 9, in index\n'
        "RuntimeError: boom\n"
        '127.0.0.1 - - "GET / HTTP/1.1" 500 265\n'
    )
    assert failures.exception_line(log) == "RuntimeError: boom"
    assert failures.exception_line("all good\n") == ""
