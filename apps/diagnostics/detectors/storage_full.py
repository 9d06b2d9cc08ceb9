"""/home is full: the app went past its storage limit (Berth stopped it), is
close to it, or its writes failed with "No space left on device"."""

from __future__ import annotations

from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import AVAILABILITY, CONTAINER_ISSUES, detector
from apps.lifecycle.quota import SETTING
from apps.lifecycle.storage import human_size

# Python says "[Errno 28] No space left on device"; SQLite "database or disk is full".
ENOSPC = r"No space left on device|\bENOSPC\b|\[Errno 28\]|database or disk is full"
NEAR = 0.9  # of the limit: warn before Berth stops the app


@detector(
    "storage_full",
    title="Storage (/home) full",
    category=AVAILABILITY,
    subcategory=CONTAINER_ISSUES,
    description="Compares what /home holds with its storage limit and looks for "
    "'No space left on device' in the app's logs.",
)
def check(evidence: Evidence) -> Finding | None:
    home = evidence.storage
    hits = c.grep(evidence.runtime_lines(), ENOSPC)
    fraction = home.fraction if home.enabled else None
    over = fraction is not None and fraction > 1
    near = fraction is not None and fraction >= NEAR
    if not (home.stopped_message or hits or near):
        return None
    app = evidence.app.name
    used = human_size(home.used_bytes) if home.used_bytes is not None else "an unknown amount"
    limit = human_size(home.limit_bytes)
    items: list[Item] = []
    if home.used_bytes is not None:
        items.append(
            Item(
                "storage",
                f"/home holds {used} of its {limit} limit ({round(100 * (fraction or 0))}%)",
                "measured by Berth",
                home.measured,
            )
        )
    items.append(c.setting_item(SETTING, str(home.limit_bytes // (1024 * 1024))))
    if home.stopped_message:
        items.append(Item("operation", home.stopped_message, "Stop by Berth", home.stopped_at))
    items.extend(c.log_items(hits, limit=4))

    if home.stopped_message:
        cause = (
            f"Berth stopped {app}: its /home held {used}, more than its storage limit of "
            f"{limit}. Nothing was deleted."
        )
    elif over or (hits and near):
        cause = f"/home is full: it holds {used} against a limit of {limit}."
    elif hits:
        cause = (
            "The app's writes failed with 'No space left on device', but /home is under its "
            f"limit ({used} of {limit}): the disk that is full is the Docker host's (or the "
            "container's own, e.g. a large /tmp)."
        )
    else:
        cause = (
            f"/home holds {used}, {round(100 * (fraction or 0))}% of its {limit} limit: past "
            f"it, Berth stops {app}."
        )
    steps = [
        Step(
            f"Raise the storage limit (the app setting {SETTING}), then start the app if it "
            "is stopped.",
            links.storage_limit(app),
            "Storage limit",
        ),
        Step(
            "Remove what the app does not need under /home (old logs, caches, exports); "
            "`du -sh /home/* | sort -h` in the SSH console shows what takes the space.",
            links.ssh(app),
            "SSH",
        ),
        Step(
            "Keep data that grows out of /home: a database (PostgreSQL) for records, logs "
            "to stdout (the log stream keeps them), large files in object storage."
        ),
    ]
    if hits and not near:
        steps.insert(
            0,
            Step(
                "Free space on the Docker host (`docker system df` shows what holds it) "
                "and keep temporary files small."
            ),
        )
    status = Status.CRITICAL if (home.stopped_message or over or hits) else Status.WARNING
    return Finding(
        status,
        cause,
        tuple(items),
        tuple(steps),
        facts={
            "used_bytes": str(home.used_bytes if home.used_bytes is not None else ""),
            "limit_bytes": str(home.limit_bytes),
            "stopped": "yes" if home.stopped_message else "no",
            "enospc": "yes" if hits else "no",
        },
    )
