"""apps.core.hooks: the callbacks lower layers call and higher apps register
when Django starts. Every process that runs Django has them, so the release
pipeline keeps a retired container's last lines, deleting an app removes its
log archive, the intake runs the pre-deployment check and a settings Save
queues a restart, without any of them importing the layer above."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.core import hooks
from apps.deployments import tasks
from apps.diagnostics import precheck
from apps.logs import archive
from apps.logs.archive import Kept


def test_the_log_archive_keeps_the_last_lines_the_pipeline_hands_it():
    with mock.patch.object(
        archive, "keep_last_lines", return_value=[Kept("c1"), Kept("c2", warning="c2: gone")]
    ) as keep:
        assert hooks.keep_last_lines("hello", ["c1", "c2"]) == ["c2: gone"]
    keep.assert_called_once_with("hello", ["c1", "c2"])


def test_deleting_an_app_removes_its_log_archive_through_the_hook():
    with mock.patch.object(archive, "delete_app_logs", return_value=True) as delete:
        assert hooks.delete_app_logs("hello", ["c1"]) is True
    delete.assert_called_once_with("hello", ["c1"])


def test_the_intake_gets_the_pre_deployment_checks_findings_and_log_lines():
    report = mock.Mock(findings=mock.Mock(return_value=[{"level": "warning", "message": "x"}]))
    with mock.patch.object(precheck, "check_zip", return_value=report) as check:
        found = hooks.precheck("/tmp/app.zip", "gunicorn app:app", "tree")
    check.assert_called_once_with("/tmp/app.zip", "gunicorn app:app", "tree")
    assert found == [{"level": "warning", "message": "x"}]
    assert hooks.precheck_log_lines(found) == precheck.log_lines(found)


def test_a_settings_save_queues_the_restart_task():
    with mock.patch.object(tasks.restart, "delay") as delay:
        hooks.request_restart(7, "settings changed", 11)
    delay.assert_called_once_with(app_id=7, reason="settings changed", operation_id=11)


def test_a_restart_with_no_restarter_registered_is_an_error_not_a_silent_no_op(monkeypatch):
    monkeypatch.setattr(hooks, "_restarters", [])
    with pytest.raises(RuntimeError, match="No restarter registered"):
        hooks.request_restart(7, "settings changed", 11)
