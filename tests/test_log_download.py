# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
"""`az webapp log download`: the app's logs as one zip, masked (apps.logs.dump
and GET /api/apps/<name>/dump), without an engine: the serving container's
lines are the engine client's answer, patched."""

from __future__ import annotations

import base64
import io
import zipfile
from unittest import mock

import pytest

from apps.access.models import Role, RoleAssignment
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.logs import archive, dump
from apps.webapps.models import AppSetting, WebApp
from tests.apiutil import alice_token, api, bob_api  # noqa: F401

pytestmark = [pytest.mark.django_db]

SECRET = "s3cret-download-value"
NEW_SECRET = "added-after-archiving"


@pytest.fixture
def app(alice, settings, tmp_path) -> WebApp:
    settings.DATA_DIR = tmp_path
    app = WebApp.objects.create(name="hello", owner=alice)
    AppSetting.objects.create(app=app, name="API_KEY", value=SECRET)
    # The archive: an earlier container, and the serving one's first lines.
    # NEW_SECRET was not a setting when these were written: unmasked on disk.
    archive.append(
        app.name,
        [
            archive.ArchivedLine(
                "2026-01-01T10:00:00.000000001Z", "berth-hello-1", "stdout", "old one"
            ),
            archive.ArchivedLine(
                "2026-01-01T10:00:01.000000000Z", "berth-hello-1", "stderr", f"late {NEW_SECRET}"
            ),
            archive.ArchivedLine(
                "2026-01-01T11:00:00.000000000Z", "berth-hello-2", "marker", "container started"
            ),
            archive.ArchivedLine("2026-01-01T11:00:01.000000000Z", "berth-hello-2", "stdout", "up"),
        ],
    )
    AppSetting.objects.create(app=app, name="LATE_TOKEN", value=NEW_SECRET)
    Deployment.objects.create(app=app, status="failed", log=f"build said {NEW_SECRET}\nfailed")
    Deployment.objects.create(
        app=app, status="success", active=True, container="berth-hello-2", log="built fine\n"
    )
    return app


def live(*lines: tuple[str, str, str]) -> list[engine.LogLine]:
    return [engine.LogLine(t, s, text) for t, s, text in lines]


def read(found: dump.Dump) -> dict[str, str]:
    with zipfile.ZipFile(found.file) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


def test_it_zips_the_archive_the_live_lines_and_the_build_logs_masked(app):
    basic = base64.b64encode(f"user:{SECRET}".encode()).decode()
    answer = live(
        # Archived already (the archive reached 11:00:01): not repeated.
        ("2026-01-01T11:00:01.000000000Z", "stdout", "up"),
        ("2026-01-01T11:00:02.000000000Z", "stdout", f"key={SECRET}"),
        ("2026-01-01T11:00:03.000000000Z", "stderr", f"Authorization: Basic {basic}"),
    )
    with mock.patch.object(engine, "container_logs_lines", return_value=answer) as logs:
        found = dump.dump(app)
    logs.assert_called_once_with("berth-hello-2", tail=dump.LIVE_LINES)
    files = read(found)
    first, second = Deployment.objects.order_by("pk")
    assert list(files) == [
        "LogFiles/hello_docker.log",
        f"deployments/{second.pk}/log.log",
        f"deployments/{first.pk}/log.log",
    ]
    *lines, last = files["LogFiles/hello_docker.log"].splitlines()
    assert lines == [
        "2026-01-01T10:00:00.000000001Z berth-hello-1 stdout old one",
        "2026-01-01T10:00:01.000000000Z berth-hello-1 stderr late ***",
        "2026-01-01T11:00:00.000000000Z berth-hello-2 marker container started",
        "2026-01-01T11:00:01.000000000Z berth-hello-2 stdout up",
        "2026-01-01T11:00:02.000000000Z berth-hello-2 stdout key=***",
    ]
    # The password inside Basic auth's base64 is masked too (the user name stays).
    assert last.startswith("2026-01-01T11:00:03.000000000Z berth-hello-2 stderr Authorization: ")
    assert last.endswith("***") and basic not in last
    everything = "".join(files.values())
    assert SECRET not in everything and NEW_SECRET not in everything and basic not in everything
    assert files[f"deployments/{first.pk}/log.log"] == "build said ***\nfailed"
    assert found.warnings == []


def test_an_unreachable_engine_leaves_the_archive_and_says_so(app):
    with mock.patch.object(
        engine, "container_logs_lines", side_effect=EngineError("The engine is down.")
    ):
        found = dump.dump(app)
    assert "The engine is down." in found.warnings[0]
    assert "old one" in read(found)["LogFiles/hello_docker.log"]


def test_an_app_with_no_logs_gets_an_empty_zip_entry(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    app = WebApp.objects.create(name="quiet", owner=alice)
    with mock.patch.object(engine, "find_containers", return_value=[]):
        assert read(dump.dump(app)) == {"LogFiles/quiet_docker.log": ""}


def test_the_api_answers_a_zip(api, app):
    with mock.patch.object(engine, "container_logs_lines", return_value=[]):
        r = api.get("/api/apps/hello/dump")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/zip"
    assert r["Content-Disposition"].startswith('attachment; filename="hello-logs-')
    body = b"".join(r.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert "late ***" in zf.read("LogFiles/hello_docker.log").decode()


def test_a_reader_may_download_and_a_stranger_may_not(bob_api, bob, app):
    assert bob_api.get("/api/apps/hello/dump").status_code == 404
    RoleAssignment.objects.create(app=app, user=bob, role=Role.READER)
    with mock.patch.object(engine, "container_logs_lines", return_value=[]):
        assert bob_api.get("/api/apps/hello/dump").status_code == 200
