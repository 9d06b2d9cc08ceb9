"""A container's last lines are kept before Berth removes it
(apps.logs.archive.keep_last_lines, called by cutover.retire_others between
the stop and the removal): written once when no archiver runs, left to the
archiver when one runs and catches up, never written twice when it lags.
The engine is faked here; tests/test_retire_archive_e2e.py runs the real one."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from unittest import mock

import pytest

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.client import ContainerState, LogLine, RunningContainer
from apps.engine.errors import ContainerMissing, EngineUnavailable
from apps.lifecycle import cutover, deploylog
from apps.logs import archive
from apps.webapps.models import AppSetting, WebApp
from tests.operations_helpers import FakeEngine, serving_release
from tests.test_log_retention import _data_dir, line, stamp  # noqa: F401 (an autouse fixture)
from tests.test_logstream import FakeFollower

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

APP = "hello-flask"
OLD = "berth-hello-flask-1"
SECRET = "retired-s3cr3t-value"
STARTED = "2025-01-01T09:59:59.000000000Z"


@dataclass
class StoppedContainers:
    """Stopped containers and what they printed, as the engine answers for them."""

    printed: dict[str, list[LogLine]] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    reads: list[dict] = field(default_factory=list)

    def install(self, monkeypatch) -> StoppedContainers:
        monkeypatch.setattr(engine, "container_state", self.container_state)
        monkeypatch.setattr(engine, "container_logs_stream", self.container_logs_stream)
        monkeypatch.setattr(engine, "container_environment", self.container_environment)
        return self

    def container_state(self, name: str) -> ContainerState:
        if name not in self.printed:
            raise ContainerMissing(f"Inspecting container {name}: not found")
        return ContainerState(name, "exited", 0, False, 0, STARTED, "", "", "", {})

    def container_logs_stream(
        self, name: str, since: str = "", tail="all", timestamps=True, *, follow=True
    ) -> FakeFollower:
        if name not in self.printed:
            raise ContainerMissing(f"Reading the logs of container {name}: not found")
        self.reads.append({"name": name, "since": since, "tail": tail, "follow": follow})
        lines = self.printed[name]
        if tail != "all":
            lines = lines[-int(tail) :]
        if since:  # inclusive, as the engine's
            lines = [ln for ln in lines if archive.to_ns(ln.timestamp) >= _since_ns(since)]
        return FakeFollower(lines, end=True)

    def container_environment(self, name: str) -> dict[str, str]:
        return self.env.get(name, {})


def _since_ns(since: str) -> int:
    seconds, _, nanos = since.partition(".")
    return int(seconds) * 1_000_000_000 + int(nanos or 0)


@pytest.fixture
def stopped(monkeypatch) -> StoppedContainers:
    return StoppedContainers().install(monkeypatch)


def archived() -> list[str]:
    return [f"{a.container} {a.stream} {a.text}" for a in archive.tail(APP, 1000)]


@pytest.fixture
def archiver_running():
    """Another archiver holds the lock (as `manage.py archive_logs` does)."""
    with archive.single_archiver() as alone:
        assert alone
        yield


# --- no archiver running: keep_last_lines writes them ---------------------------------


def test_without_an_archiver_the_lines_are_written_once_and_the_state_saved(webapp, stopped):
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=SECRET)
    stopped.printed[OLD] = [line(1, "booting"), line(2, f"pw={SECRET}", "stderr"), line(3, "bye")]
    kept = archive.keep_last_lines(APP, [OLD])
    assert kept == [archive.Kept(OLD, written=4)]
    assert archived() == [
        f"{OLD} marker container {OLD} started",
        f"{OLD} stdout booting",
        f"{OLD} stderr pw=***",
        f"{OLD} stdout bye",
    ]
    assert SECRET not in (archive.app_dir(APP) / "app.log").read_text()
    assert archive.load_state(APP) == {OLD: archive.to_ns(stamp(3))}
    assert (archive.app_dir(APP) / archive.STATE).exists()

    # Again (a retry, or the next release): nothing twice.
    assert archive.keep_last_lines(APP, [OLD]) == [archive.Kept(OLD, written=0)]
    assert len(archived()) == 4
    assert stopped.reads[-1]["since"] == "1735725603.000000001"
    # Read, never followed: the read ends even if the container still ran.
    assert [r["follow"] for r in stopped.reads] == [False, False]


def test_only_what_the_archiver_had_not_written_is_added(webapp, stopped):
    # The archiver wrote the first lines, then went down; the app went on.
    archive.append(
        APP,
        [
            archive.ArchivedLine(STARTED, OLD, "marker", f"container {OLD} started"),
            archive.ArchivedLine(stamp(1), OLD, "stdout", "one"),
        ],
    )
    archive.save_state(APP, {OLD: archive.to_ns(stamp(1))})
    stopped.printed[OLD] = [line(1, "one"), line(2, "two"), line(3, "three")]
    assert archive.keep_last_lines(APP, [OLD]) == [archive.Kept(OLD, written=2)]
    assert archived() == [
        f"{OLD} marker container {OLD} started",
        f"{OLD} stdout one",
        f"{OLD} stdout two",
        f"{OLD} stdout three",
    ]


def test_the_state_from_the_archive_tail_counts_when_state_json_lags(webapp, stopped):
    # The archiver was killed after writing "two" but before saving state.json.
    archive.append(APP, [archive.ArchivedLine(stamp(2), OLD, "stdout", "two")])
    archive.save_state(APP, {OLD: archive.to_ns(stamp(1))})
    stopped.printed[OLD] = [line(1, "one"), line(2, "two"), line(3, "three")]
    archive.keep_last_lines(APP, [OLD])
    assert archived() == [f"{OLD} stdout two", f"{OLD} stdout three"]


def test_a_container_that_printed_nothing_gets_its_start_marker_once(webapp, stopped):
    stopped.printed[OLD] = []
    archive.keep_last_lines(APP, [OLD])
    archive.keep_last_lines(APP, [OLD])
    assert archived() == [f"{OLD} marker container {OLD} started"]
    assert archive.load_state(APP) == {OLD: archive.to_ns(STARTED)}


def test_the_values_a_retired_container_was_started_with_are_masked(webapp, stopped):
    # A settings Save replaced the password: the old container printed the old one.
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value="the-new-password")
    stopped.env[OLD] = {
        "APPSETTING_DB_PASSWORD": SECRET,
        "DB_PASSWORD": SECRET,
        "POSTGRESQLCONNSTR_main": "host=db password=old-conn-pass",
        "WEBSITE_SITE_NAME": APP,
    }
    stopped.printed[OLD] = [
        line(1, f"connecting with {SECRET}"),
        line(2, "dsn host=db password=old-conn-pass"),
        line(3, "the-new-password is not this one's"),
        line(4, f"site {APP}"),  # not a setting: no secret
    ]
    archive.keep_last_lines(APP, [OLD])
    assert archived()[1:] == [
        f"{OLD} stdout connecting with ***",
        f"{OLD} stdout dsn ***",
        f"{OLD} stdout *** is not this one's",
        f"{OLD} stdout site {APP}",
    ]


def test_a_large_backlog_is_written_in_batches_capped_to_what_the_archive_holds(
    webapp, stopped, settings
):
    settings.BERTH_APP_LOG_MB = 0.05  # 52 kB
    stopped.printed[OLD] = [line(i, f"l{i:05d}") for i in range(3000)]
    archive.keep_last_lines(APP, [OLD])
    assert stopped.reads[-1]["tail"] == archive.max_bytes() // archive.MIN_LINE_BYTES + 1
    assert archive.size(APP) <= archive.max_bytes()
    assert archive.tail(APP, 1)[0].text == "l02999"


def test_a_container_already_gone_or_of_a_deleted_app_is_skipped(webapp, stopped):
    assert archive.keep_last_lines(APP, ["berth-hello-flask-7"]) == [
        archive.Kept("berth-hello-flask-7")
    ]
    stopped.printed[OLD] = [line(1, "late")]
    archive.delete_app_logs(APP, [OLD])
    assert archive.keep_last_lines(APP, [OLD]) == []
    assert not archive.app_dir(APP).exists()
    assert stopped.reads == []


def test_deleting_the_app_names_every_container_the_archive_knew(webapp):
    # berth-hello-flask-1 was retired before the delete (not among the
    # containers the delete removed); a lagging archiver still holds a line.
    archive.append(APP, [archive.ArchivedLine(stamp(1), OLD, "stdout", "one")])
    archiver = archive.Archiver()
    archiver.add((APP, OLD), archive.ArchivedLine(stamp(2), OLD, "stdout", "late"), 2)
    archive.delete_app_logs(APP, ["berth-hello-flask-2"])
    assert archive.removed_containers(APP) == {OLD, "berth-hello-flask-2"}
    archiver.flush()
    archiver.save()
    assert not archive.app_dir(APP).exists()


def test_an_engine_that_cannot_be_read_gives_a_warning_not_an_error(webapp, monkeypatch):
    def down(*args, **kwargs):
        raise EngineUnavailable("the Docker engine is not reachable")

    monkeypatch.setattr(engine, "container_environment", lambda name: {})
    monkeypatch.setattr(engine, "container_state", down)
    [kept] = archive.keep_last_lines(APP, [OLD])
    assert kept.written == 0
    assert (
        kept.warning
        == f"{OLD}: its last lines could not be read (the Docker engine is not reachable)"
    )


# --- an archiver running: it writes them; keep_last_lines waits, never writes --------------


def test_with_an_archiver_caught_up_nothing_is_written(webapp, stopped, archiver_running):
    stopped.printed[OLD] = [line(1, "one"), line(2, "two")]
    archive.append(
        APP,
        [
            archive.ArchivedLine(STARTED, OLD, "marker", f"container {OLD} started"),
            archive.ArchivedLine(stamp(1), OLD, "stdout", "one"),
            archive.ArchivedLine(stamp(2), OLD, "stdout", "two"),
        ],
    )
    before = (archive.app_dir(APP) / "app.log").read_bytes()
    started = time.monotonic()
    assert archive.keep_last_lines(APP, [OLD]) == [archive.Kept(OLD)]
    assert time.monotonic() - started < 0.5
    assert (archive.app_dir(APP) / "app.log").read_bytes() == before


def test_with_an_archiver_writing_the_end_during_the_wait_nothing_is_written(
    webapp, stopped, archiver_running
):
    stopped.printed[OLD] = [line(1, "one"), line(2, "the end")]
    archive.append(APP, [archive.ArchivedLine(stamp(1), OLD, "stdout", "one")])

    def archiver_catches_up() -> None:
        time.sleep(0.3)
        archive.append(APP, [archive.ArchivedLine(stamp(2), OLD, "stdout", "the end")])

    writer = threading.Thread(target=archiver_catches_up)
    writer.start()
    started = time.monotonic()
    assert archive.keep_last_lines(APP, [OLD], wait=3) == [archive.Kept(OLD)]
    writer.join()
    assert 0.25 < time.monotonic() - started < 2
    assert archived() == [f"{OLD} stdout one", f"{OLD} stdout the end"]


def test_with_an_archiver_stuck_nothing_is_written_and_it_warns_within_the_bound(
    webapp, stopped, archiver_running, caplog
):
    stopped.printed[OLD] = [line(1, "one"), line(2, "never archived")]
    archive.append(APP, [archive.ArchivedLine(stamp(1), OLD, "stdout", "one")])
    started = time.monotonic()
    [kept] = archive.keep_last_lines(APP, [OLD], wait=0.5)
    assert 0.5 <= time.monotonic() - started < 1.5
    assert kept.written == 0
    assert kept.warning == (
        f"{OLD}: the archiver running beside Berth had not written its last lines within "
        "0.5 s of the stop; they may be missing from the log archive"
    )
    assert kept.warning in caplog.text
    assert archived() == [f"{OLD} stdout one"]


def test_an_archiver_stopping_during_the_wait_leaves_the_rest_to_be_written_here_once(
    webapp, stopped
):
    # Or another release's keep_last_lines holding the lock for a moment.
    stopped.printed[OLD] = [line(1, "one"), line(2, "two"), line(3, "three")]
    archive.append(APP, [archive.ArchivedLine(stamp(1), OLD, "stdout", "one")])
    held = archive._take_lock()
    assert held is not None

    def archiver_writes_one_more_and_stops() -> None:
        archive.append(APP, [archive.ArchivedLine(stamp(2), OLD, "stdout", "two")])
        archive._release_lock(held)

    threading.Timer(0.3, archiver_writes_one_more_and_stops).start()
    started = time.monotonic()
    assert archive.keep_last_lines(APP, [OLD], wait=3) == [archive.Kept(OLD, written=1)]
    assert 0.25 < time.monotonic() - started < 2
    assert archived() == [f"{OLD} stdout one", f"{OLD} stdout two", f"{OLD} stdout three"]


def test_an_archiver_holds_the_lock_from_its_first_look_until_it_stops(webapp, stopped):
    running = [RunningContainer(OLD, "c" * 64, {"io.berth.app": APP})]
    stopped.printed[OLD] = [line(1, "one")]
    with mock.patch.object(engine, "running_containers", return_value=running):
        archiver = archive.Archiver()
        with archive.single_archiver() as alone:
            assert alone  # created, not yet looking
        archiver.tick()
        with archive.single_archiver() as alone:
            assert not alone
        second = archive.Archiver()
        assert second.tick() == 0  # the first one archives this DATA_DIR
        archiver.stop()
    with archive.single_archiver() as alone:
        assert alone
    # Stopped, it writes nothing more: the next writer takes its lines again.
    archiver.add((APP, OLD), archive.ArchivedLine(stamp(5), OLD, "stdout", "late"), 5)
    archiver.flush()
    archiver.save()
    assert "late" not in "\n".join(archived())


def test_the_command_waits_for_a_lock_held_a_moment(webapp):
    # keep_last_lines() holds the lock a moment while no archiver runs.
    held = archive._take_lock()
    assert held is not None
    threading.Timer(0.5, archive._release_lock, [held]).start()
    archiver = archive.Archiver()
    try:
        assert not archiver.claim()
        assert archiver.claim(wait=5)
    finally:
        archiver.stop()


# --- cutover.retire_others ---------------------------------------------------------------


def test_retire_others_keeps_the_last_lines_between_the_stop_and_the_removal(webapp, monkeypatch):
    fake = FakeEngine(containers={OLD: "running", "berth-hello-flask-2": "running"})
    fake.install(monkeypatch)
    calls: list[str] = []

    def keep(app_name: str, names, *, wait: float = archive.ARCHIVER_WAIT):
        calls.append(f"keep {app_name} {list(names)} after {fake.events}")
        assert all(n in fake.containers for n in names)  # not removed yet
        return [archive.Kept(OLD, warning=f"{OLD}: the archiver running beside Berth had not")]

    monkeypatch.setattr(archive, "keep_last_lines", keep)
    d = serving_release(webapp, "berth-hello-flask-2")
    log = deploylog.DeploymentLog(d)
    assert cutover.retire_others(webapp, keep="berth-hello-flask-2", log=log) == [OLD]
    assert calls == [f"keep {APP} ['{OLD}'] after ['stop {OLD}']"]
    assert fake.containers == {"berth-hello-flask-2": "running"}
    log.flush()
    text = Deployment.objects.get(pk=d.pk).log
    assert f"WARNING: {OLD}: the archiver running beside Berth had not." in text
    assert f"Stopped and removed the previous container {OLD}." in text


def test_retire_others_writes_the_lines_with_the_fake_engine_end_to_end(webapp, monkeypatch):
    fake = FakeEngine(containers={OLD: "running"})
    fake.install(monkeypatch)
    fake.printed = {OLD: [line(1, "last words")]}
    assert cutover.retire_others(WebApp.objects.get(pk=webapp.pk)) == [OLD]
    assert archived() == [f"{OLD} stdout last words"]
    assert OLD not in fake.containers
