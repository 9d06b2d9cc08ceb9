"""Deleting an app (apps.deployments.teardown.delete_app, apps.deployments.teardown):
the order of the steps, what goes and what stays, and what a failure leaves
(the app stopped, its rows kept, a retry finishes). The engine and the proxy
are patched here with autospec; tests/test_app_delete_e2e.py runs the real
engine and nginx."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from apps.audit.models import AuditEvent
from apps.deployments import teardown
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine import docker_api
from apps.engine.errors import EngineError
from apps.logs import archive
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps.models import AppSetting, WebApp
from tests.deploy_helpers import lock_held_elsewhere

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NAME = "shop"


@pytest.fixture
def data(settings, tmp_path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.BERTH_PROXY_ROUTING = True
    return settings.DATA_DIR


@pytest.fixture
def app(alice, data) -> WebApp:
    app = WebApp.objects.create(name=NAME, owner=alice)
    AppSetting.objects.create(app=app, name="SECRET_KEY", value="s3cret")
    d = Deployment.objects.create(app=app, status="success", active=True, log="build log")
    artifact = data / "artifacts" / NAME / f"{d.pk}.zip"
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(b"zip")
    Deployment.objects.filter(pk=d.pk).update(artifact=str(artifact), image=f"berth/app-{NAME}:1")
    (data / "repos" / f"{NAME}.git").mkdir(parents=True)
    (data / "repos" / f"{NAME}.git" / "HEAD").write_text("ref: refs/heads/main\n")
    (data / "locks").mkdir()
    (data / "locks" / f"{NAME}.lock").touch()
    archive.append(
        NAME, [archive.ArchivedLine("2025-01-01T10:00:00Z", "berth-shop-1", "stdout", "hi")]
    )
    return app


class Engine:
    """The engine and the proxy as the steps see them; `calls` keeps their order."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.containers = ["berth-shop-2", "berth-shop-1", "berth-build-shop-2"]
        self.images = ["sha256:new", "sha256:old"]
        self.volumes = ["berth-shop-cache"]
        self.networks = ["berth-app-shop"]
        self.routes = {NAME: "127.0.0.1:9000"}

    def patches(self):
        def remove(kind):
            return lambda name, **options: self.calls.append(f"{kind} {name}")

        def remove_route(name):
            self.calls.append(f"route {name}")
            self.routes.pop(name, None)

        return [
            mock.patch.object(
                nginx, "routes", autospec=True, side_effect=lambda: dict(self.routes)
            ),
            mock.patch.object(nginx, "remove_route", autospec=True, side_effect=remove_route),
            mock.patch.object(
                engine, "find_containers", autospec=True, side_effect=lambda labels: self.containers
            ),
            mock.patch.object(
                engine, "remove_container", autospec=True, side_effect=remove("container")
            ),
            mock.patch.object(
                engine,
                "find_images",
                autospec=True,
                side_effect=lambda labels, repository: self.images,
            ),
            mock.patch.object(engine, "remove_image", autospec=True, side_effect=remove("image")),
            mock.patch.object(
                engine, "find_volumes", autospec=True, side_effect=lambda labels: self.volumes
            ),
            mock.patch.object(engine, "remove_volume", autospec=True, side_effect=remove("volume")),
            mock.patch.object(
                engine, "find_networks", autospec=True, side_effect=lambda labels: self.networks
            ),
            mock.patch.object(
                engine, "remove_network", autospec=True, side_effect=remove("network")
            ),
        ]


@pytest.fixture
def fake():
    fake = Engine()
    patches = fake.patches()
    for p in patches:
        p.start()
    yield fake
    for p in reversed(patches):
        p.stop()


def test_it_removes_route_containers_network_images_volumes_then_files_then_rows(
    app, alice, data, fake
):
    teardown.delete_app(app, actor=alice)
    assert fake.calls == [
        "route shop",
        "container berth-shop-2",
        "container berth-shop-1",
        "container berth-build-shop-2",
        "network berth-app-shop",
        "image sha256:new",
        "image sha256:old",
        "volume berth-shop-cache",
    ]
    engine.find_containers.assert_called_once_with({"io.berth.app": NAME})
    engine.find_networks.assert_called_once_with(
        {"io.berth.app": NAME, "io.berth.role": "app-network"}
    )
    engine.find_images.assert_called_once_with({"io.berth.app": NAME}, repository="berth/app-shop")
    assert not (data / "artifacts" / NAME).exists()
    assert not (data / "repos" / f"{NAME}.git").exists()
    assert not archive.app_dir(NAME).exists()
    assert not (data / "locks" / f"{NAME}.lock").exists()
    assert not WebApp.objects.exists()
    assert not Deployment.objects.exists() and not AppSetting.objects.exists()


def test_the_activity_log_keeps_who_deleted_it_and_what_went(app, alice, fake):
    teardown.delete_app(app, actor=alice)
    event = AuditEvent.objects.get(action="app.delete")
    assert (event.actor, event.app, event.app_name) == (alice, None, NAME)
    assert event.before["appSettings"] == ["SECRET_KEY"]
    removed = event.after["removed"]
    assert removed["route"] is True
    assert removed["containers"] == fake.containers
    assert removed["images"] == fake.images
    assert removed["volumes"] == fake.volumes
    assert removed["networks"] == fake.networks
    assert removed["logArchive"] is True
    assert "s3cret" not in str(event.before) + str(event.after)


def test_the_release_repository_is_where_releases_are_tagged(app):
    from apps.deployments import buildrun

    tag = buildrun.release_tag(app, Deployment.objects.get(app=app))
    assert tag.startswith(teardown.release_repository(app) + ":")


def test_an_engine_failure_keeps_the_app_stopped_and_a_retry_finishes(app, alice, data, fake):
    engine.remove_image.side_effect = EngineError(
        "Removing image sha256:old: the Docker engine said: conflict"
    )
    with pytest.raises(teardown.DeleteFailed) as failed:
        teardown.delete_app(app, actor=alice)
    assert failed.value.message == (
        "shop is stopped but not deleted: Removing image sha256:old: the Docker engine said: "
        "conflict Delete it again to finish."
    )
    # Nothing of the rows went; the files (a later step) are still there.
    app.refresh_from_db()
    assert app.state == WebApp.State.STOPPED
    assert Deployment.objects.filter(app=app).exists()
    assert (data / "artifacts" / NAME).exists() and archive.app_dir(NAME).exists()
    # The Activity log says the app was stopped on the way, and why it is still here.
    (event,) = AuditEvent.objects.filter(action="app.delete")
    assert event.after == {"state": "Stopped", "incomplete": failed.value.message}

    fake.containers = []  # removed by the first attempt
    engine.remove_image.side_effect = None
    teardown.delete_app(app, actor=alice)
    assert not WebApp.objects.exists()
    assert not (data / "artifacts" / NAME).exists() and not archive.app_dir(NAME).exists()
    assert AuditEvent.objects.filter(action="app.delete").count() == 2


def test_a_proxy_failure_keeps_the_app(app, alice, fake):
    nginx.remove_route.side_effect = ProxyError("nginx -t failed")
    with pytest.raises(teardown.DeleteFailed, match="proxy route could not be removed"):
        teardown.delete_app(app, actor=alice)
    assert WebApp.objects.get(pk=app.pk).state == WebApp.State.STOPPED
    assert fake.calls == []  # nothing else was touched


def test_a_file_that_cannot_be_removed_keeps_the_app(app, alice, data, fake):
    with (
        mock.patch("shutil.rmtree", side_effect=PermissionError(13, "Permission denied", "x")),
        pytest.raises(
            teardown.DeleteFailed, match="Fix its permissions, then delete the app again"
        ),
    ):
        teardown.delete_app(app, actor=alice)
    assert WebApp.objects.filter(pk=app.pk).exists()


def test_a_running_deployment_is_waited_for_then_named(app, alice, fake, monkeypatch):
    monkeypatch.setattr(teardown, "DELETE_LOCK_WAIT", 0.3)
    with lock_held_elsewhere(NAME), pytest.raises(teardown.DeleteFailed) as failed:
        teardown.delete_app(app, actor=alice)
    assert "a deployment or restart of it is still running" in failed.value.message
    assert WebApp.objects.get(pk=app.pk).state == WebApp.State.STOPPED
    assert fake.calls == []
    teardown.delete_app(app, actor=alice)  # once it has finished
    assert not WebApp.objects.exists()


def test_a_stopped_app_is_not_restarted_by_reconcile_while_it_waits(app, fake):
    # Step 1 is saved before the lock is taken: reconcile sees Stopped.
    WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.RUNNING)
    with (
        mock.patch.object(teardown, "remove_everything", side_effect=teardown.TeardownFailed("x")),
        pytest.raises(teardown.DeleteFailed),
    ):
        teardown.delete_app(app)
    assert WebApp.objects.get(pk=app.pk).state == WebApp.State.STOPPED


def test_it_never_removes_files_outside_the_data_folder(app, alice, data, fake, tmp_path):
    outside = tmp_path / "elsewhere.zip"
    outside.write_bytes(b"keep me")
    inside = data / "old-artifacts" / "7.zip"
    inside.parent.mkdir()
    inside.write_bytes(b"old")
    Deployment.objects.create(app=app, status="success", artifact=str(outside))
    Deployment.objects.create(app=app, status="success", artifact=str(inside))
    teardown.delete_app(app, actor=alice)
    assert outside.read_bytes() == b"keep me"
    assert not inside.exists()


def test_a_never_deployed_app_is_deleted_when_the_engine_is_down(alice, data, fake):
    from apps.engine.errors import EngineUnavailable

    app = WebApp.objects.create(name="fresh", owner=alice)
    engine.find_containers.side_effect = EngineUnavailable("down")
    teardown.delete_app(app, actor=alice)
    assert not WebApp.objects.exists()


def test_find_images_lists_newest_first_once_each():
    api = mock.Mock()
    api.images.side_effect = lambda name=None, filters=None: (
        [{"Id": "b", "Created": 2}, {"Id": "a", "Created": 1}]
        if filters
        else [{"Id": "c", "Created": 3}, {"Id": "a", "Created": 1}]
    )
    with mock.patch.object(docker_api, "client", return_value=mock.Mock(api=api)):
        assert engine.find_images({"io.berth.app": NAME}, repository="berth/app-shop") == [
            "c",
            "b",
            "a",
        ]
    api.images.assert_any_call(filters={"label": ["io.berth.app=shop"]})
    api.images.assert_any_call(name="berth/app-shop")


# --- the log archive -------------------------------------------------------------------


def test_the_archiver_does_not_write_a_deleted_apps_archive_back(data):
    archiver = archive.Archiver()
    line = archive.ArchivedLine("2025-01-01T10:00:01Z", "berth-shop-1", "stdout", "last words")
    # The follower of a container just removed still holds its last line.
    archiver.add((NAME, "berth-shop-1"), line, 1)
    archiver.states[NAME] = {"berth-shop-1": 1}
    archive.append(NAME, [line])
    assert archive.delete_app_logs(NAME, ["berth-shop-1"]) is True
    archiver.flush()
    archiver.save(NAME)
    assert not archive.app_dir(NAME).exists()
    assert archive.delete_app_logs(NAME) is False  # already gone: fine

    # An app created later with the same name is archived as usual.
    new = archive.ArchivedLine("2025-02-01T10:00:01Z", "berth-shop-9", "stdout", "hello again")
    archiver.add((NAME, "berth-shop-9"), new, 2)
    archiver.flush()
    archiver.save(NAME)
    assert [a.text for a in archive.tail(NAME)] == ["hello again"]
    assert set(archive.load_state(NAME)) == {"berth-shop-9"}


def test_removed_containers_accumulate_across_deletes(data):
    archive.delete_app_logs(NAME, ["berth-shop-1"])
    archive.delete_app_logs(NAME, ["berth-shop-5"])
    assert archive.removed_containers(NAME) == {"berth-shop-1", "berth-shop-5"}
    assert archive.removed_containers("other") == set()


def test_a_recreated_app_shows_no_old_logs(app, alice, fake):
    from apps.logs import services as logs

    assert "hi" in logs.recent_text(app).text  # the old app's archived line
    teardown.delete_app(app, actor=alice)
    again = WebApp.objects.create(name=NAME, owner=alice)
    with mock.patch.object(logs, "serving_container", return_value=""):
        assert logs.recent_text(again).text == f"No container serves {NAME}: nothing to download.\n"
        assert logs.archived_history(again, 100, []) == []
