"""What a restart, start or stop of an app is doing, step by step (the
Operation rows the Overview, the Configuration pages and the API show).

begin() records one, queued, when a user asks (Save, Restart, Start, Stop,
the API). The code that does the work (apps.deployments.services) claims it
once it holds the app's deploy lock, hands a Recorder to
apps.deployments.release as its progress callback, which reports each step
as it begins and ends, and finishes it with the outcome. Because an
operation only runs under the app's lock, one still "running" when someone
else holds that lock was abandoned by a worker or portal that died:
apps.deployments.reconcile fails it with abandon().
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from apps.core import failures
from apps.webapps.models import Operation, WebApp

logger = logging.getLogger(__name__)

# The steps, in the order they run, as apps.deployments.release names them
# (STEP_START, STEP_HEALTH, STEP_SWITCH, STEP_RETIRE).
RESTART_STEPS = (
    ("start", "Starting the new container"),
    ("health", "Waiting for HTTP (health check)"),
    ("switch", "Switching traffic"),
    ("retire", "Stopping the old container"),
)
STOP_STEPS = (
    ("switch", "Switching traffic off"),
    ("retire", "Stopping the container"),
)

# Step states: pending -> running -> done, or failed; skipped when the
# operation ended without needing it ("nothing to restart").
PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"

KEEP = 50  # finished operations kept per app


def steps_for(trigger: str) -> list[dict]:
    steps = STOP_STEPS if trigger == Operation.Trigger.STOP else RESTART_STEPS
    return [
        {"name": name, "title": title, "status": PENDING, "detail": "", "started": None,
         "finished": None}
        for name, title in steps
    ]  # fmt: skip


def begin(app: WebApp, trigger: str, *, actor=None, reason: str = "") -> Operation:
    """Record that `actor` asked for this; it runs when claimed."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    op = Operation.objects.create(
        app=app,
        trigger=trigger,
        reason=reason[:255],
        actor=user,
        actor_name=user.get_username() if user else "",
        steps=steps_for(trigger),
    )
    _prune(app)
    return op


def _prune(app: WebApp) -> None:
    old = list(
        Operation.objects.filter(app=app, finished__isnull=False).values_list("pk", flat=True)[
            KEEP:
        ]
    )
    if old:
        Operation.objects.filter(pk__in=old).delete()


def latest(app: WebApp) -> Operation | None:
    return Operation.objects.filter(app=app).first()


def unfinished(app: WebApp):
    return Operation.objects.filter(
        app=app, status__in=(Operation.Status.QUEUED, Operation.Status.RUNNING)
    )


def _now() -> str:
    return timezone.now().isoformat()


class Recorder:
    """A claimed, running operation. Call it as the progress callback of
    apps.deployments.release: recorder(step, "running" | "done", detail).
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

    def succeed(self, message: str, *, serving: str = "") -> None:
        for s in self.op.steps:
            if s["status"] in (PENDING, RUNNING):
                s["status"] = SKIPPED
        if not self.op.succeed(message, serving=serving, steps=self.op.steps):
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


def progress(op: Operation) -> dict:
    """What the templates draw: each step's state, the bar's percent, a label."""
    steps = op.steps or []
    total = len(steps) or 1
    done = sum(1 for s in steps if s["status"] in (DONE, SKIPPED))
    running = next((s for s in steps if s["status"] == RUNNING), None)
    failed = next((s for s in steps if s["status"] == FAILED), None)
    if op.status == Operation.Status.SUCCESS:
        percent, label = 100, "Done"
    else:
        percent = round(100 * (done + (0.5 if running else 0)) / total)
        if op.status == Operation.Status.QUEUED:
            label = "Waiting to start (a worker takes it, after any deployment of the app)"
        elif op.status == Operation.Status.FAILED:
            label = f"Failed at: {failed['title']}" if failed else "Failed"
        elif running:
            label = running["title"] + "…"
        else:
            label = "Running…"
    return {
        "steps": steps,
        "percent": percent,
        "label": label,
        "finished": op.is_finished,
        "failed": op.status == Operation.Status.FAILED,
    }
