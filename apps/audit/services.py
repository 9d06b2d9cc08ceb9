"""Recording the Activity log. The webapps services call `record()` inside
their own transaction, so a change and its audit event commit together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apps.audit.models import AuditEvent

MASK = "***"


def record(
    *,
    app,
    action: str,
    actor=None,
    before: Any = None,
    after: Any = None,
    summary: str = "",
) -> AuditEvent:
    """Store one event. `before`/`after` must already be masked (see `masked`)."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        app=app if app is not None and app.pk else None,
        app_name=app.name if app is not None else "",
        action=action,
        summary=summary,
        before=before,
        after=after,
    )


def masked(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{name: {"value": secret, ...}} -> the same with every value as ***."""
    return {name: {**row, "value": MASK} for name, row in sorted(rows.items())}


def describe_changes(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]], what: str
) -> str:
    """A one-line summary naming what was added, changed and removed (never values)."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(n for n in set(before) & set(after) if before[n] != after[n])
    parts = []
    for verb, names in (("added", added), ("changed", changed), ("removed", removed)):
        if names:
            parts.append(f"{verb} {_names(names)}")
    if not parts:
        return f"{what}: no change"
    return f"{what}: " + "; ".join(parts)


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)
