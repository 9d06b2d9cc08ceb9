"""Database connections made by Service Connector (apps.databases): each
connection's real state, collected into the evidence (the service's health,
the role, the database, the sessions), beside the app's log lines for
connection refused, failed passwords, a missing database and too many
connections."""

from __future__ import annotations

from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Action, Finding, Item, Status, Step
from apps.diagnostics.registry import CONFIGURATION, detector

PATTERNS = {
    "refused": r"Connection refused|could not connect to server|Error 111 connecting",
    "auth": r"password authentication failed|WRONGPASS|invalid username-password|NOAUTH",
    "missing": r"database \"[^\"]+\" does not exist",
    "full": r"too many clients already|too many connections|remaining connection slots",
}
# Share of max_connections in use before it is worth a warning.
BUSY = 0.8


@detector(
    "database_connection",
    title="Database connections",
    category=CONFIGURATION,
    description="Checks each service connection's database service, role and database, "
    "and the app's log for refused connections, failed passwords, a missing database "
    "and too many connections.",
)
def check(evidence: Evidence) -> Finding | None:
    if not evidence.connections:
        return None
    hits = {kind: c.grep(evidence.runtime_lines(), p) for kind, p in PATTERNS.items()}
    items: list[Item] = []
    problems: list[str] = []
    action = None
    for now in evidence.connections:
        where = f"connection {now.name}"
        items.append(Item("container", f"{now.target} service: {now.service}", where))
        broken = ""
        if now.service != "healthy":
            broken = f"the {now.target} service is {now.service}"
        elif now.can_login is False:
            broken = f"role {now.role} may not log in (the connection was deleted once)"
        elif now.database_exists is False:
            broken = f"database {now.database} does not exist"
        if broken:
            problems.append(broken)
            action = action or Action("repair_connection", now.name, "Repair it")
        if now.sessions is not None and now.max_sessions:
            items.append(Item("setting", f"{now.sessions} of {now.max_sessions} sessions", where))
            if now.sessions >= BUSY * now.max_sessions:
                problems.append("the PostgreSQL service is near its connection limit")
        if now.error:
            items.append(Item("container", now.error, where))
    for kind in ("refused", "auth", "missing", "full"):
        items.extend(c.log_items(hits[kind], limit=2))
    logged = [kind for kind in ("refused", "auth", "missing", "full") if hits[kind]]
    if not problems and not logged:
        return None
    if problems:
        cause = "The app's database is not usable: " + "; ".join(problems) + "."
        status = Status.CRITICAL
    else:
        cause = (
            "The app's log shows database errors ("
            + ", ".join(
                {
                    "refused": "connection refused",
                    "auth": "authentication failed",
                    "missing": "database missing",
                    "full": "too many connections",
                }[k]
                for k in logged
            )
            + ") but the services are healthy now: a restart since, or the app's own settings."
        )
        status = Status.WARNING
    steps = (
        Step(
            "Check the connections: Validate connects from the app's network.",
            links.connector(evidence.app.name),
            "Service Connector",
        ),
        Step(
            "Too many connections: close them after use or pool them (Django: CONN_MAX_AGE), "
            "or raise BERTH_POSTGRES_MAX_CONNECTIONS."
        ),
    )
    return Finding(status, cause, tuple(items), steps, action=action)
