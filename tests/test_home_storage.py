"""Persistent /home (apps.lifecycle.storage) without the engine: which apps
get the volume, what the release pipeline does when putting the code there
fails or a release does not start, and where the pages show it. Against the
real engine: tests/test_home_storage_e2e.py."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.core import failures
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineUnavailable
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle import release, storage
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed
from apps.webapps.models import AppSetting
from tests.operations_helpers import FLASK, FakeEngine, serving_release

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 2


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    return FakeEngine().install(monkeypatch)


def test_storage_is_on_unless_the_app_setting_says_false(webapp):
    assert storage.enabled(webapp)
    assert storage.mounts(webapp) == {"berth-home-hello-flask": ("/home", "rw")}
    for value, on in (("false", False), (" FALSE ", False), ("0", False), ("true", True)):
        AppSetting.objects.update_or_create(
            app=webapp, name=storage.SETTING, defaults={"value": value}
        )
        assert storage.enabled(webapp) is on, value
    AppSetting.objects.filter(app=webapp, name=storage.SETTING).update(value="false")
    assert storage.mounts(webapp) == {}


def test_a_restart_mounts_the_volume_after_putting_the_code_there(webapp, fake, monkeypatch):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    created = mock.Mock(wraps=fake.create_container)
    monkeypatch.setattr(engine, "create_container", created)
    assert lifecycle_ops.restart_app(webapp, reason="test").ok
    assert fake.events.index(f"sync {d.image}") < fake.events.index(f"create {fake.created[0]}")
    assert created.call_args.kwargs["mounts"] == {"berth-home-hello-flask": ("/home", "rw")}


def test_with_storage_off_nothing_is_synced_or_mounted(webapp, fake, monkeypatch):
    AppSetting.objects.create(app=webapp, name=storage.SETTING, value="false")
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    created = mock.Mock(wraps=fake.create_container)
    monkeypatch.setattr(engine, "create_container", created)
    assert lifecycle_ops.restart_app(webapp, reason="test").ok
    assert not any(e.startswith(("sync", "volume")) for e in fake.events)
    assert created.call_args.kwargs["mounts"] is None


def test_a_failed_copy_fails_the_restart_with_its_code_and_starts_nothing(
    webapp, fake, monkeypatch
):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    monkeypatch.setattr(engine, "run_once", lambda *a, **k: (1, "OSError: No space left"))
    outcome = lifecycle_ops.restart_app(webapp, reason="test")
    op = outcome.operation
    assert not outcome.ok and op.failure_code == failures.STORAGE_FAILED
    assert "No space left" in op.message and "still serves" in op.message
    assert fake.created == [] and fake.containers == {d.container: "running"}


def test_a_release_that_does_not_start_puts_the_serving_code_back(webapp, fake):
    serving = serving_release(webapp)
    fake.containers[serving.container] = "running"
    fake.healthy = False
    new = Deployment.objects.create(
        app=webapp,
        status=Deployment.Status.SUCCESS,
        image=f"berth/app-{webapp.name}:2",
        startup=FLASK,
    )
    outcome = lifecycle_ops.restart_app(
        webapp, reason="test"
    )  # the serving release: nothing to undo
    assert not outcome.ok
    assert [e for e in fake.events if e.startswith("sync")] == [f"sync {serving.image}"]

    log = DeploymentLog(new)
    with pytest.raises(DeployFailed):
        release.run_release(webapp, new, log)
    syncs = [e for e in fake.events if e.startswith("sync")]
    assert syncs[-2:] == [f"sync {new.image}", f"sync {serving.image}"]
    assert "code back into /home/site/wwwroot" in log.text


def test_the_delete_page_lists_the_storage_with_its_size(alice_client, webapp, monkeypatch):
    monkeypatch.setattr(engine, "find_volumes", lambda labels: ["berth-home-hello-flask"])
    monkeypatch.setattr(engine, "run_once", lambda *a, **k: (0, "1536\t/volume\n"))
    html = alice_client.get(f"/apps/{webapp.name}/delete/").content.decode()
    assert "Persistent storage (/home)" in html
    assert "berth-home-hello-flask, 1.5 MiB" in html


def test_the_delete_page_answers_when_the_size_cannot_be_measured(
    alice_client, webapp, monkeypatch
):
    def down(*args, **kwargs):
        raise EngineUnavailable("Cannot reach the Docker engine")

    monkeypatch.setattr(engine, "find_volumes", down)
    response = alice_client.get(f"/apps/{webapp.name}/delete/")
    assert response.status_code == 200
    assert "berth-home-hello-flask (size unknown: Cannot reach the Docker engine)" in (
        response.content.decode()
    )


def test_the_general_settings_page_says_whether_home_persists(alice_client, webapp):
    url = f"/apps/{webapp.name}/configuration/general/"
    with mock.patch("apps.engine.runtimes.catalog", return_value=[]):
        html = alice_client.get(url).content.decode()
        assert "is kept in the volume <code>berth-home-hello-flask</code>" in html
        AppSetting.objects.create(app=webapp, name=storage.SETTING, value="false")
        html = alice_client.get(url).content.decode()
    assert (
        "<code>WEBSITES_ENABLE_APP_SERVICE_STORAGE=false</code> turns persistent storage off"
        in html
    )


def test_sizes_read_as_people_write_them():
    assert storage.human_size(512) == "512 bytes"
    assert storage.human_size(1536) == "1.5 KiB"
    assert storage.human_size(3 * 1024**3) == "3.0 GiB"
