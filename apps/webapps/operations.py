"""The records of restarts, starts and stops, step by step (the Operation
rows the Overview, the Configuration pages and the API show).

begin() records one, queued, when a user asks (Save, Restart, Start, Stop,
the API); progress() is what the pages draw. Running them is
apps.lifecycle.operations': it claims the record once it holds the app's
lock and reports each step as it begins and ends.
"""

from __future__ import annotations

import logging

from apps.core.worker import worker_state
from apps.webapps.models import Operation, WebApp

logger = logging.getLogger(__name__)

# The steps, in the order they run, as apps.lifecycle.steps names them
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
            label = (
                worker_state().message
                or "Waiting to start (a worker takes it, after any deployment of the app)"
            )
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
