"""Start, stop and restart an app, each recorded as an Operation step by
step (apps.webapps.operations keeps the records: begin, progress; this
module runs them).

begin() records one, queued, when a user asks (Save, Restart, Start, Stop,
the API). The code here claims it once it holds the app's deploy lock, hands
a Recorder to apps.lifecycle.release and cutover as their progress
callback, which reports each step as it begins and ends, and finishes it
with the outcome. Because an operation only runs under the app's lock, one
still "running" when someone else holds that lock was abandoned by a worker
or portal that died: apps.lifecycle.reconcile fails it with abandon().
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from apps.core import failures
from apps.deployments.models import Deployment  # the release record: see deploylog.py
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.lifecycle import containers, cutover, defaultsite, locks, release, steps
from apps.lifecycle.deploylog import ScratchLog
from apps.lifecycle.errors import DeployFailed, failure_of
from apps.webapps import operations
from apps.webapps.environment import start_time_limit
from apps.webapps.models import Operation, WebApp
from apps.webapps.operations import FAILED, PENDING, RUNNING, SKIPPED

logger = logging.getLogger(__name__)


def _now() -> str:
    return timezone.now().isoformat()


class Recorder:
    """A claimed, running operation. Call it as the progress callback of
    apps.lifecycle.release and cutover: recorder(step, "running" | "done", detail).
    Every change is written at once (it is what the page polls), and only
    while the row is still running, so a late writer never revives an
    operation that reconcile has failed."""

    def __init__(self, op: Operation) -> None:
        self.op = op

    @classmethod
    def claim(cls, op: Operation) -> Recorder | None:
        """Queued -> running; None if someone else has it or it is over."""
        if not op.start():
            op.refresh_from_db()
            return None
        return cls(op)

    def __call__(self, step: str, state: str, detail: str = "") -> None:
        found = next((s for s in self.op.steps if s["name"] == step), None)
        if found is None:
            logger.warning("Operation %s has no step %r", self.op.pk, step)
            return
        found["status"] = state
        if detail:
            found["detail"] = detail
        if state == RUNNING:
            found["started"] = _now()
        else:
            found["finished"] = _now()
        self._write(steps=self.op.steps)

    def _write(self, **fields) -> bool:
        return (
            Operation.objects.filter(pk=self.op.pk, status=Operation.Status.RUNNING).update(
                **fields
            )
            == 1
        )

    def succeed(
        self, message: str, *, serving: str = "", cause: tuple[str, dict] | None = None
    ) -> None:
        """Done. `cause` (a code from apps.core.failures and its evidence) says
        why Berth itself did it, e.g. the Stop for a full /home."""
        for s in self.op.steps:
            if s["status"] in (PENDING, RUNNING):
                s["status"] = SKIPPED
        why = {"failure_code": cause[0], "failure_evidence": cause[1]} if cause else {}
        if not self.op.succeed(message, serving=serving, steps=self.op.steps, **why):
            logger.warning("Operation %s was finished by someone else", self.op.pk)
        self.op.refresh_from_db()

    def fail(
        self,
        code: str,
        message: str,
        evidence: dict | None = None,
        *,
        app_log: str = "",
        serving: str = "",
    ) -> None:
        """The step under way failed (a failure before the first step, such
        as a missing release image, marks none). `code` is from
        apps.core.failures."""
        for s in self.op.steps:
            if s["status"] == RUNNING:
                s["status"], s["finished"] = FAILED, _now()
        if not self.op.fail(
            code, message, evidence, app_log=app_log, serving=serving, steps=self.op.steps
        ):
            logger.warning("Operation %s was finished by someone else", self.op.pk)
        self.op.refresh_from_db()


def give_up(op: Operation, message: str, *, serving: str = "", waited: float = 0) -> None:
    """Fail an operation that never got to run (the app stayed busy)."""
    op.fail(
        failures.LOCK_TIMEOUT,
        message,
        {"waited_s": round(waited)},
        from_statuses=(Operation.Status.QUEUED,),
        serving=serving,
    )
    op.refresh_from_db()


def abandon(app: WebApp, *, serving: str, queued_before: datetime) -> list[str]:
    """Fail the app's operations nobody is running any more. Call with the
    app's deploy lock held: then a running one lost its worker or portal;
    a queued one older than `queued_before` lost its task. `serving` is the
    container serving the app now ("" if none). One line per operation."""
    done = []
    now = timezone.now()
    running = Operation.objects.filter(app=app, status=Operation.Status.RUNNING)
    lost = Operation.objects.filter(
        app=app, status=Operation.Status.QUEUED, created__lt=queued_before
    )
    for op in [*running, *lost]:
        was = op.status
        if was == Operation.Status.RUNNING:
            code = failures.WORKER_LOST
            why = (
                f"The {op.kind.lower()} never finished: the worker or portal doing it was stopped "
                "(found by reconcile)."
            )
        else:
            code = failures.NOT_PICKED_UP
            why = (
                f"No worker picked this {op.kind.lower()} up in time (found by reconcile): check "
                "that the worker runs (scripts/run.sh starts it), then try again."
            )
        for s in op.steps:
            if s["status"] == RUNNING:
                s["status"], s["finished"] = FAILED, now.isoformat()
        if op.fail(
            code, why, {"status": was}, from_statuses=(was,), serving=serving, steps=op.steps
        ):
            done.append(f"operation {op.pk} ({op.trigger}, {was}) failed: {why}")
    return done


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    log: str = ""
    operation: Operation | None = None  # its record, step by step


def active_deployment(app: WebApp) -> Deployment | None:
    return Deployment.objects.filter(app=app, active=True).first()


def restart_app(
    app: WebApp, *, reason: str = "", operation: Operation | None = None, actor=None
) -> Outcome:
    """Recreate the serving container with the current settings: a new one
    starts beside it and takes over only once it answers HTTP. Waits for a
    deployment of the app that is running. Recorded, step by step, in
    `operation` (a new Restart operation when none is given)."""
    op = operation or operations.begin(
        app, Operation.Trigger.RESTART, actor=actor, reason=reason or "restart requested"
    )
    try:
        with locks.app_lock(app.name, start_limit=start_time_limit(app)):
            return _restart_app(app, op, reason=reason or op.reason)
    except locks.AppBusy as e:
        give_up(op, e.message, serving=_serving(app), waited=e.waited)
        return Outcome(False, e.message, operation=op)


def _restart_app(app: WebApp, op: Operation, *, reason: str = "") -> Outcome:
    recorder = Recorder.claim(op)
    if recorder is None:  # a duplicate task: the first one ran it
        return Outcome(op.status != Operation.Status.FAILED, op.message, operation=op)
    try:
        return _restart_recorded(app, recorder, reason=reason)
    except Exception as e:
        # Berth's own error: still say so, don't leave it running.
        recorder.fail(
            failures.INTERNAL_ERROR,
            f"An error in Berth: {e!r}",
            {"error": repr(e)},
            serving=_serving(app),
        )
        raise


def _restart_recorded(app: WebApp, recorder: Recorder, *, reason: str) -> Outcome:
    op = recorder.op
    app.refresh_from_db()
    current = active_deployment(app)
    if current is None:
        if app.state == WebApp.State.RUNNING and defaultsite.serve(app):
            recorder.succeed("The app has no release yet: the default site serves until one does.")
        else:
            recorder.succeed("Nothing to restart: the app has no release yet.")
        return Outcome(True, op.message, operation=op)
    if app.state != WebApp.State.RUNNING:
        recorder.succeed("The app is stopped; it starts with the new settings.")
        return Outcome(True, op.message, operation=op)
    log = ScratchLog(current)
    log.line(f"Restart of {app.name}: {reason or 'requested'}.")
    oom = ""
    if current.container:
        oom = containers.oom_message(current.container, containers.app_limits(app).memory_mb)
        if oom:
            log.line(f"The serving container {current.container} was {oom}.")
    try:
        started = release.run_release(
            app, current, log, name=f"berth-{app.name}-{current.pk}", progress=recorder
        )
        cutover.swap(app, current, started, log, progress=recorder)
    except (DeployFailed, EngineError) as e:
        logger.warning("Restart of %s failed: %s", app.name, e.message)
        code, evidence = failure_of(e)
        recorder.fail(
            code,
            e.message,
            evidence,
            app_log=getattr(e, "app_log", ""),
            serving=_serving(app),
        )
        return Outcome(False, e.message, log.masked(), operation=op)
    before = f" (the previous container was {oom})" if oom else ""
    recorder.succeed(
        f"Restarted: serving from {started.container}{before}.", serving=started.container
    )
    return Outcome(True, op.message, log.masked(), operation=op)


def _serving(app: WebApp) -> str:
    """The app's serving container if it runs, else ""."""
    current = active_deployment(app)
    if current and current.container and _running(current.container):
        return current.container
    return ""


def restart_app_by_id(app_id: int, *, reason: str = "", operation_id: int | None = None) -> None:
    app = WebApp.objects.get(pk=app_id)
    op = Operation.objects.filter(pk=operation_id, app=app).first() if operation_id else None
    outcome = restart_app(app, reason=reason, operation=op)
    logger.info("Restart of %s: %s", app.name, outcome.message)


def stop_app(
    app: WebApp,
    *,
    operation: Operation | None = None,
    actor=None,
    reason: str = "stop",
    cause: tuple[str, dict] | None = None,
    message: str = "",
) -> Outcome:
    """State Stopped: the proxy stops routing and the containers go. Waits
    for a deployment or restart of the app that is running, so it cannot
    bring a container back after the stop. When Berth stops the app itself,
    `cause` (code, evidence) and `message` say why on the operation."""
    op = operation or operations.begin(app, Operation.Trigger.STOP, actor=actor, reason=reason)
    try:
        with locks.app_lock(app.name, start_limit=start_time_limit(app)):
            recorder = Recorder.claim(op)
            if recorder is None:
                return Outcome(op.status != Operation.Status.FAILED, op.message, operation=op)
            try:
                _stop(app, recorder, cause=cause, message=message)
            except Exception as e:
                message = getattr(e, "message", "") or f"An error in Berth: {e!r}"
                if isinstance(e, (DeployFailed, EngineError)):
                    code, evidence = failure_of(e)
                else:
                    code, evidence = failures.INTERNAL_ERROR, {"error": repr(e)}
                recorder.fail(code, f"{app.name} is marked Stopped, but: {message}", evidence)
                raise
    except locks.AppBusy as e:
        give_up(op, e.message, serving=_serving(app), waited=e.waited)
        return Outcome(False, e.message, operation=op)
    return Outcome(True, op.message, operation=op)


def _stop(
    app: WebApp, recorder: Recorder, *, cause: tuple[str, dict] | None = None, message: str = ""
) -> None:
    WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.STOPPED)
    app.state = WebApp.State.STOPPED
    recorder(steps.STEP_SWITCH, steps.RUNNING, "removing the proxy route")
    cutover.unroute(app)
    recorder(steps.STEP_SWITCH, steps.DONE, f"{app.default_host_name} no longer routed")
    recorder(steps.STEP_RETIRE, steps.RUNNING, "")
    retired = cutover.retire_others(app)
    recorder(steps.STEP_RETIRE, steps.DONE, cutover.retired_text(retired))
    recorder.succeed(message or f"Stopped: {app.name} no longer answers.", cause=cause)


def start_app(app: WebApp, *, operation: Operation | None = None, actor=None) -> Outcome:
    """State Running, and a container from the active release unless one runs."""
    op = operation or operations.begin(app, Operation.Trigger.START, actor=actor, reason="start")
    WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.RUNNING)
    app.state = WebApp.State.RUNNING
    try:
        with locks.app_lock(app.name, start_limit=start_time_limit(app)):
            current = active_deployment(app)
            if current and current.container and _running(current.container):
                recorder = Recorder.claim(op)
                if recorder is not None:
                    recorder.succeed("Already running.", serving=current.container)
                return Outcome(True, "Already running.", operation=op)
            return restart_app(app, reason="started", operation=op)
    except locks.AppBusy as e:
        give_up(op, e.message, serving=_serving(app), waited=e.waited)
        return Outcome(False, e.message, operation=op)


def _running(container: str) -> bool:
    try:
        return engine.container_state(container).status == "running"
    except EngineError:
        return False
