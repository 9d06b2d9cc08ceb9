"""Logs kept across deploys and restarts (apps.logs.archive): the archive's
rotation, catch-up without duplicates, restart markers, history and download
from the archive when the container is gone, and the build log cap. The
engine is patched with autospec; tests/test_log_retention_e2e.py runs the
real thing."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.client import ContainerState, LogLine, RunningContainer
from apps.lifecycle import deploylog
from apps.lifecycle.deploylog import DeploymentLog
from apps.logs import archive
from apps.webapps.models import AppSetting
from tests.test_logstream import FakeFollower, data_of, read_events

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SECRET = "archived-s3cr3t-value"
CONTAINER = "berth-hello-flask-1"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_APP_LOG_MB = 10


def stamp(second: int) -> str:
    return f"2025-01-01T10:{second // 60:02d}:{second % 60:02d}.000000001Z"


def line(second: int, text: str, stream: str = "stdout") -> LogLine:
    return LogLine(stamp(second), stream, text)


def state(started: str = "2025-01-01T09:59:59.000000000Z") -> ContainerState:
    return ContainerState(CONTAINER, "running", 0, False, 0, started, "", "", "", {})


def run_archiver(lines: list[LogLine], started: str = "2025-01-01T09:59:59.000000000Z"):
    """One archiver pass over a container that printed `lines` and stopped."""
    running = [RunningContainer(CONTAINER, "c" * 64, {"io.berth.app": "hello-flask"})]
    with (
        mock.patch.object(engine, "running_containers", autospec=True, return_value=running),
        mock.patch.object(engine, "container_state", autospec=True, return_value=state(started)),
        mock.patch.object(engine, "container_environment", autospec=True, return_value={}),
        mock.patch.object(engine, "container_logs_stream", autospec=True) as stream,
    ):
        stream.return_value = FakeFollower(lines, end=True)
        archiver = archive.Archiver()
        assert archiver.tick() == 1
        for thread in archiver.threads.values():
            thread.join(5)
        archiver.stop()  # saves, and lets go of the lock for the next one
    return stream


def archived_texts() -> list[str]:
    return [f"{a.stream} {a.text}" for a in archive.tail("hello-flask", 1000)]


def test_it_archives_lines_masked_with_a_start_marker(webapp):
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=SECRET)
    run_archiver([line(1, "booting"), line(2, f"pw={SECRET}", "stderr")])
    assert archived_texts() == [
        f"marker container {CONTAINER} started",
        "stdout booting",
        "stderr pw=***",
    ]
    raw = (archive.app_dir("hello-flask") / "app.log").read_text()
    assert SECRET not in raw
    assert f"{stamp(1)} {CONTAINER} stdout booting\n" in raw


def test_it_catches_up_after_a_restart_without_duplicating(webapp):
    run_archiver([line(1, "one"), line(2, "two")])
    # The archiver restarts; the engine's `since` is inclusive, so it gives
    # the last line again, then the new ones.
    stream = run_archiver([line(2, "two"), line(3, "three")])
    assert stream.call_args.kwargs["since"] == "1735725602.000000001"
    assert archived_texts() == [
        f"marker container {CONTAINER} started",
        "stdout one",
        "stdout two",
        "stdout three",
    ]


def test_it_catches_up_from_the_archive_when_the_state_file_was_not_saved(webapp):
    run_archiver([line(1, "one"), line(2, "two")])
    (archive.app_dir("hello-flask") / archive.STATE).unlink()
    run_archiver([line(2, "two"), line(3, "three")])
    assert archived_texts().count("stdout two") == 1


def test_a_restart_of_the_container_gets_a_marker(webapp):
    run_archiver([line(1, "first run")])
    run_archiver([line(70, "second run")], started=stamp(69))
    assert archived_texts() == [
        f"marker container {CONTAINER} started",
        "stdout first run",
        f"marker container {CONTAINER} started",
        "stdout second run",
    ]


def test_a_line_a_little_older_than_the_one_before_is_still_archived(webapp):
    # stdout and stderr are copied apart: a stderr line can come after a
    # newer stdout line. It was never archived, so it is no repeat.
    run_archiver([line(1, "one"), line(3, "three"), line(2, "two", "stderr"), line(4, "four")])
    assert archived_texts()[1:] == ["stdout one", "stdout three", "stderr two", "stdout four"]
    assert archive.load_state("hello-flask") == {CONTAINER: archive.to_ns(stamp(4))}


def test_rotation_keeps_the_archive_bounded(settings):
    settings.BERTH_APP_LOG_MB = 0.05  # 52 kB
    budget = archive.max_bytes()
    for i in range(3000):
        archive.append(
            "hello-flask", [archive.ArchivedLine(stamp(i % 3600), CONTAINER, "stdout", f"l{i:05d}")]
        )
    assert archive.size("hello-flask") <= budget
    assert (archive.app_dir("hello-flask") / "app.log.1").exists()
    last = archive.tail("hello-flask", 1)[0]
    assert last.text == "l02999"
    assert archive.size("hello-flask") > budget // 3  # what fits is kept


def test_the_history_comes_from_the_archive_when_the_container_is_gone(alice, webapp):
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=SECRET)
    run_archiver([line(1, "last words"), line(2, f"Traceback: {SECRET}", "stderr")])
    with mock.patch.object(engine, "find_containers", autospec=True, return_value=[]):
        messages = read_events("/apps/hello-flask/logstream/events", alice, 6)[1:]  # retry:
    text = "\n".join(messages)
    assert "archived lines of hello-flask" in data_of(messages[0])
    assert f"container {CONTAINER} started" in data_of(messages[1])
    assert "last words" in data_of(messages[2])
    assert "Traceback: ***" in data_of(messages[3]) and SECRET not in text
    assert "No running container" in data_of(messages[4])


def test_the_download_reads_the_archive_when_the_container_is_gone(alice_client, webapp):
    run_archiver([line(1, "last words")])
    with mock.patch.object(engine, "find_containers", autospec=True, return_value=[]):
        body = alice_client.get("/apps/hello-flask/logstream/download").content.decode()
    assert body == (
        f"2025-01-01T09:59:59.000000000Z marker ──── container {CONTAINER} started ────\n"
        f"{stamp(1)} stdout last words\n"
    )


def test_the_download_adds_what_the_archive_has_not_got_yet(alice_client, webapp):
    Deployment.objects.create(app=webapp, status="success", active=True, container=CONTAINER)
    run_archiver([line(1, "one")])
    with mock.patch.object(engine, "container_logs_lines", autospec=True) as lines:
        lines.return_value = [line(1, "one"), line(2, "two")]
        body = alice_client.get("/apps/hello-flask/logstream/download").content.decode()
    assert body.splitlines()[1:] == [f"{stamp(1)} stdout one", f"{stamp(2)} stdout two"]


def test_only_one_archiver_runs_per_data_dir():
    with archive.single_archiver() as first, archive.single_archiver() as second:
        assert first and not second


# --- build logs -----------------------------------------------------------------


def test_a_long_build_log_keeps_head_and_tail():
    text = "".join(f"line {i}\n" for i in range(100_000))
    capped = deploylog.cap_text(text, 10_000)
    assert len(capped.encode()) <= 10_000
    assert capped.startswith("line 0\nline 1\n")
    assert capped.endswith("line 99999\n")
    cut = next(x for x in capped.splitlines() if "lines cut" in x)
    kept = len(capped.splitlines()) - 1
    assert cut == f"… {100_000 - kept} lines cut …"


def test_a_short_build_log_is_kept_whole():
    assert deploylog.cap_text("a\nb\n", 10) == "a\nb\n"


def test_deployment_log_is_capped_to_the_setting(settings, webapp):
    settings.BERTH_BUILD_LOG_MB = 0.01  # 10 kB
    deployment = Deployment.objects.create(app=webapp)
    log = DeploymentLog(deployment)
    for i in range(5000):
        log.write(f"pip output line {i}\n")
    log.flush()
    stored = Deployment.objects.get(pk=deployment.pk).log
    assert len(stored.encode()) <= 0.01 * 1024 * 1024
    assert "pip output line 0\n" in stored and stored.endswith("pip output line 4999\n")
    assert "lines cut" in stored
