"""Connecting an app, for the page, the API and the CLI alike: at once when
the service's image is there (the service starts in seconds), else queued
for the worker, which builds the image with progress first
(apps.databases.pending), as runtime image builds are."""

from __future__ import annotations

from django.db import transaction

from apps.databases import connections, pending, tasks
from apps.databases.models import ServiceConnection
from apps.webapps.models import WebApp

QUEUED = "Queued, waiting for a worker"


def connect(
    app: WebApp, target: str, *, client_type: str = "", name: str = "", actor=None
) -> ServiceConnection | pending.Pending:
    """The connection made now, or the record of one queued (a worker makes
    it once the transaction commits). ConnectionProblem: refused, nothing
    changed."""
    client_type, name = connections.prepare(app, target, client_type, name)
    if not connections.needs_build(target):
        made = connections.create(app, target, client_type=client_type, name=name, actor=actor)
        pending.forget(app.name, target)  # an older failure is history now
        return made
    state = pending.Pending(app.name, target, name, client_type, message=QUEUED)
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None

    def enqueue() -> None:
        # Recorded only once the app is surely there: a rolled-back request
        # (the Create page's app and connections together) leaves no record.
        pending.write(state)
        tasks.connect.delay(
            app_id=app.pk, target=target, client_type=client_type, name=name, actor_id=actor_id
        )

    transaction.on_commit(enqueue)
    return state
