"""The "Storage (/home) full" detector, on hand-made evidence: Berth's stop
for a full /home, 'No space left on device' in the app's log, /home near
its limit, and a healthy app it says nothing about."""

from __future__ import annotations

import dataclasses

import pytest

from apps.diagnostics.detectors import storage_full
from apps.diagnostics.evidence import StorageRecord
from apps.diagnostics.findings import Status
from tests.diagnostics_helpers import HEALTHY_LOG, T0, evidence

MB = 1024 * 1024
ENOSPC_LOG = (
    HEALTHY_LOG
    + """2025-05-01T12:05:00Z Traceback (most recent call last):
2025-05-01T12:05:00Z   File "/home/site/wwwroot/app.py", line 12, in upload
2025-05-01T12:05:00Z OSError: [Errno 28] No space left on device
"""
)
STOPPED = (
    "Stopped by Berth: /home holds 6.0 MiB, more than its limit of 5.0 MiB "
    "(WEBSITE_STORAGE_LIMIT_MB=5). Nothing was deleted."
)


def with_storage(ev, **fields):
    return dataclasses.replace(ev, storage=StorageRecord(**fields))


def test_a_healthy_app_with_room_in_home_has_no_finding():
    ev = with_storage(evidence(), limit_bytes=1024 * MB, used_bytes=20 * MB, measured=T0)
    assert storage_full.check(ev) is None
    assert storage_full.check(evidence()) is None  # never measured


def test_it_names_the_stop_berth_made_for_a_full_home(settings):
    ev = with_storage(
        evidence(app={"state": "Stopped"}),
        limit_bytes=5 * MB,
        used_bytes=6 * MB,
        measured=T0,
        stopped_message=STOPPED,
        stopped_at=T0,
    )
    finding = storage_full.check(ev)
    assert finding.status == Status.CRITICAL
    assert finding.cause == (
        "Berth stopped hello: its /home held 6.0 MiB, more than its storage limit of "
        "5.0 MiB. Nothing was deleted."
    )
    assert [i.text for i in finding.evidence][:3] == [
        "/home holds 6.0 MiB of its 5.0 MiB limit (120%)",
        "WEBSITE_STORAGE_LIMIT_MB=5",
        STOPPED,
    ]
    assert finding.steps[0].url == "/apps/hello/configuration/general/#storage-limit"
    assert "du -sh /home/*" in finding.steps[1].text
    assert finding.facts["stopped"] == "yes"


def test_no_space_left_in_the_log_with_home_at_its_limit_is_a_full_home():
    ev = with_storage(evidence(container_log=ENOSPC_LOG), limit_bytes=100 * MB, used_bytes=99 * MB)
    finding = storage_full.check(ev)
    assert finding.status == Status.CRITICAL
    assert finding.cause == "/home is full: it holds 99.0 MiB against a limit of 100.0 MiB."
    assert "OSError: [Errno 28] No space left on device" in [i.text for i in finding.evidence]
    assert finding.facts["enospc"] == "yes"


def test_no_space_left_with_room_in_home_points_at_the_host_disk():
    ev = with_storage(evidence(container_log=ENOSPC_LOG), limit_bytes=1024 * MB, used_bytes=10 * MB)
    finding = storage_full.check(ev)
    assert finding.status == Status.CRITICAL
    assert "the disk that is full is the Docker host's" in finding.cause
    assert "docker system df" in finding.steps[0].text


def test_home_near_its_limit_is_a_warning_before_berth_stops_the_app():
    ev = with_storage(evidence(), limit_bytes=100 * MB, used_bytes=95 * MB, measured=T0)
    finding = storage_full.check(ev)
    assert finding.status == Status.WARNING
    assert (
        finding.cause
        == "/home holds 95.0 MiB, 95% of its 100.0 MiB limit: past it, Berth stops hello."
    )


@pytest.mark.parametrize(
    "line",
    [
        "sqlite3.OperationalError: database or disk is full",
        "Error: ENOSPC: no space left on device, write",
    ],
)
def test_it_knows_other_words_for_a_full_disk(line):
    ev = with_storage(
        evidence(container_log=HEALTHY_LOG + f"2025-05-01T12:05:00Z {line}\n"),
        limit_bytes=10 * MB,
        used_bytes=10 * MB,
    )
    assert storage_full.check(ev).facts["enospc"] == "yes"


def test_without_persistent_storage_the_limit_is_not_compared():
    ev = with_storage(evidence(), enabled=False, limit_bytes=5 * MB, used_bytes=50 * MB)
    assert storage_full.check(ev) is None
