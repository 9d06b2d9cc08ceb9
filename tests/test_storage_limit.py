"""The /home storage limit (issue 14, item 4): the setting and its checks,
the General settings field, the measurement the periodic task makes (on a
fake engine here; against the real one in tests/test_storage_limit_e2e.py),
the stop with its cause when /home holds more, and the Overview's bar."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core import failures
from apps.deployments import tasks
from apps.engine.errors import EngineError
from apps.lifecycle import quota
from apps.webapps import services as config
from apps.webapps.environment import storage_limit_mb
from apps.webapps.models import AppSetting, WebApp
from apps.webapps.services import SettingInput
from tests.operations_helpers import FakeEngine, serving_release

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MB = 1024 * 1024
GENERAL = "/apps/hello-flask/configuration/general/"
OVERVIEW = "/apps/hello-flask/"


@pytest.fixture(autouse=True)
def _data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_STORAGE_LIMIT_MB = 1024
    settings.BERTH_STORAGE_INTERVAL = 60


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    return FakeEngine().install(monkeypatch)


@pytest.fixture
def du(monkeypatch):
    """What `du -skx /home` answers in the app's container: set .used (bytes)."""

    class Du:
        used = 10 * MB
        calls: list[tuple[str, list[str]]] = []

        def __call__(self, container, cmd, *, user=""):
            self.calls.append((container, cmd))
            return 0, f"{self.used // 1024}\t/home\n"

    answer = Du()
    monkeypatch.setattr("apps.engine.client.exec_quick", answer)
    return answer


def running(app: WebApp, fake: FakeEngine):
    d = serving_release(app)
    fake.containers[d.container] = "running"
    return d


# --- the setting ----------------------------------------------------------------


def test_the_limit_is_one_gib_unless_the_app_setting_says_otherwise(webapp):
    assert storage_limit_mb(webapp) == 1024
    AppSetting.objects.create(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB", value="50")
    assert storage_limit_mb(webapp) == 50


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "1 GB", "", "2000000"])
def test_a_bad_limit_is_refused_with_what_to_give(webapp, value):
    with pytest.raises(ValidationError) as e:
        config.set_app_settings(webapp, [SettingInput("WEBSITE_STORAGE_LIMIT_MB", value)])
    assert "WEBSITE_STORAGE_LIMIT_MB is the most MB the app's /home may hold" in str(e.value)
    assert "1-1048576" in str(e.value)
    assert not AppSetting.objects.filter(app=webapp).exists()


def test_a_limit_saved_before_the_rule_counts_as_unset(webapp):
    AppSetting.objects.create(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB", value="lots")
    assert storage_limit_mb(webapp) == 1024


def test_the_general_settings_save_it_as_the_app_setting_without_a_restart(webapp, alice):
    with mock.patch("apps.deployments.tasks.restart.delay") as restart:
        config.update_general_settings(webapp, storage_limit_mb=200, actor=alice)
    assert AppSetting.objects.get(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB").value == "200"
    assert not webapp.operations.exists() and not restart.called


# --- the General settings page ------------------------------------------------


def form(**data):
    return {"linux_fx_version": "PYTHON|3.11", "app_command_line": "", **data}


@pytest.fixture
def catalog():
    from apps.engine.runtimes import Runtime, Status

    with mock.patch("apps.engine.runtimes.catalog", return_value=[Runtime("3.11", Status.READY)]):
        yield


def test_the_page_shows_the_limit_in_effect(alice_client, webapp, catalog):
    AppSetting.objects.create(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB", value="300")
    html = alice_client.get(GENERAL).content.decode()
    assert 'name="storage_limit_mb" value="300"' in html


def test_the_page_refuses_a_bad_limit_and_saves_nothing(alice_client, webapp, catalog):
    html = alice_client.post(GENERAL, form(storage_limit_mb="lots", confirmed="1")).content.decode()
    assert "WEBSITE_STORAGE_LIMIT_MB is the most MB the app&#x27;s /home may hold" in html
    assert not AppSetting.objects.filter(app=webapp).exists()


def test_the_page_saves_a_new_limit_and_says_there_was_no_restart(alice_client, webapp, catalog):
    asked = alice_client.post(GENERAL, form(storage_limit_mb="2048")).content.decode()
    assert "Storage limit (MB)" in asked and "hello-flask does not restart" in asked
    with mock.patch("apps.deployments.tasks.restart.delay") as restart:
        done = alice_client.post(GENERAL, form(storage_limit_mb="2048", confirmed="1"), follow=True)
    assert "The storage limit of hello-flask is 2048 MB" in done.content.decode()
    assert AppSetting.objects.get(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB").value == "2048"
    assert not restart.called


# --- measuring and stopping -------------------------------------------------------


def test_du_output_is_read_from_its_total_line():
    assert quota.parse_du("du: cannot read '/home/x': Permission denied\n12\t/home\n") == 12288
    assert quota.parse_du("OCI runtime exec failed: du not found") is None


def test_a_check_keeps_what_home_holds_and_leaves_an_app_under_its_limit_alone(webapp, fake, du):
    d = running(webapp, fake)
    assert quota.check(webapp) == ""
    webapp.refresh_from_db()
    assert webapp.home_used_bytes == 10 * MB and webapp.home_measured is not None
    assert du.calls == [(d.container, ["timeout", "30", "du", "-skx", "/home"])]
    assert webapp.state == "Running" and fake.containers[d.container] == "running"


def test_a_check_is_made_at_most_once_an_interval(webapp, fake, du):
    running(webapp, fake)
    quota.check(webapp)
    quota.check(webapp)
    assert len(du.calls) == 1
    WebApp.objects.filter(pk=webapp.pk).update(home_measured=timezone.now() - timedelta(seconds=61))
    webapp.refresh_from_db()
    quota.check(webapp)
    assert len(du.calls) == 2


def test_an_app_over_its_limit_is_stopped_with_the_cause_and_nothing_deleted(webapp, fake, du):
    AppSetting.objects.create(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB", value="5")
    du.used = 6 * MB
    d = running(webapp, fake)
    line = quota.check(webapp)
    assert "over its limit" in line
    webapp.refresh_from_db()
    assert webapp.state == "Stopped" and d.container not in fake.containers
    op = webapp.operations.get()
    assert (op.trigger, op.status, op.failure_code) == ("stop", "success", failures.STORAGE_FULL)
    assert op.failure_evidence == {
        "used_bytes": 6 * MB,
        "limit_bytes": 5 * MB,
        "volume": "berth-home-hello-flask",
    }
    assert "holds 6.0 MiB, more than its limit of 5.0 MiB" in op.message
    assert "Nothing was deleted" in op.message and "raise the storage limit" in op.message
    event = AuditEvent.objects.get(app_name="hello-flask", action="app.stop")
    assert event.actor_name == "" and event.summary == op.message
    assert event.after["failure_code"] == "storage_full"


def test_exactly_at_the_limit_is_not_over(webapp, fake, du):
    AppSetting.objects.create(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB", value="5")
    du.used = 5 * MB
    running(webapp, fake)
    assert quota.check(webapp) == ""
    webapp.refresh_from_db()
    assert webapp.state == "Running"


def test_stopped_apps_apps_without_persistent_storage_and_busy_apps_are_not_measured(
    webapp, fake, du
):
    running(webapp, fake)
    WebApp.objects.filter(pk=webapp.pk).update(state=WebApp.State.STOPPED)
    webapp.refresh_from_db()
    assert quota.check(webapp, force=True) == ""
    WebApp.objects.filter(pk=webapp.pk).update(state=WebApp.State.RUNNING)
    webapp.refresh_from_db()
    setting = AppSetting.objects.create(
        app=webapp, name="WEBSITES_ENABLE_APP_SERVICE_STORAGE", value="false"
    )
    assert quota.check(webapp, force=True) == ""
    setting.delete()
    with mock.patch("apps.lifecycle.locks.is_locked", return_value=True):
        assert quota.check(webapp, force=True) == ""
    assert du.calls == []


def test_a_failed_measurement_is_reported_and_changes_nothing(webapp, fake, monkeypatch):
    running(webapp, fake)

    def broken(container, cmd, *, user=""):
        raise EngineError("container is not running")

    monkeypatch.setattr("apps.engine.client.exec_quick", broken)
    assert "not measured: could not run du" in quota.check(webapp)
    webapp.refresh_from_db()
    assert webapp.home_used_bytes is None and webapp.state == "Running"


def test_the_periodic_health_task_measures_home(webapp, fake, du):
    running(webapp, fake)
    tasks.health_check_all()
    webapp.refresh_from_db()
    assert webapp.home_used_bytes == 10 * MB


# --- the Overview ---------------------------------------------------------------


def test_the_overview_shows_not_measured_yet(alice_client, webapp):
    html = alice_client.get(OVERVIEW).content.decode()
    assert "not measured yet" in html and "limit 1024 MB" in html


def test_the_overview_shows_a_bar_of_what_home_holds_from_the_last_measurement(
    alice_client, webapp, du
):
    WebApp.objects.filter(pk=webapp.pk).update(
        home_used_bytes=512 * MB, home_measured=timezone.now()
    )
    html = alice_client.get(OVERVIEW).content.decode()
    assert f'max="{1024 * MB}"' in html and f'value="{512 * MB}"' in html
    assert "512.0 MiB of 1.0 GiB (50%)" in html
    assert "over the limit" not in html
    assert du.calls == []  # no du per page view


def test_the_overview_says_when_home_is_over_and_why_berth_stopped_it(
    alice_client, webapp, fake, du
):
    AppSetting.objects.create(app=webapp, name="WEBSITE_STORAGE_LIMIT_MB", value="5")
    du.used = 8 * MB
    running(webapp, fake)
    quota.check(webapp)
    html = alice_client.get(OVERVIEW).content.decode()
    assert 'id="app-storage-over"' in html
    assert "Stopped by Berth: /home holds 8.0 MiB" in html
    assert "Cause: <code>storage_full</code>" in html
