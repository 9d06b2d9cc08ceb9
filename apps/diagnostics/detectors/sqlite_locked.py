"""sqlite3.OperationalError: database is locked: SQLite used where a database server is meant."""

from __future__ import annotations

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Status, Step
from apps.diagnostics.registry import APPLICATION_LOGS, AVAILABILITY, detector


@detector(
    "sqlite_locked",
    title="SQLite: database is locked",
    category=AVAILABILITY,
    subcategory=APPLICATION_LOGS,
    description="Looks for 'database is locked' errors from SQLite.",
)
def check(evidence: Evidence) -> Finding | None:
    hits = c.grep(evidence.runtime_lines(), r"OperationalError: database is locked")
    if not hits:
        return None
    items = list(c.log_items(hits, limit=4))
    where = ""
    for path in src.settings_modules(evidence.source.python_files):
        text = evidence.source.read(path)
        if found := src.line_of(text, r"^\s*DATABASES\s*="):
            items.append(c.file_item(path, found))
            where = f"{path}:{found[0]}"
        if found := src.line_of(text, r"sqlite3"):
            items.append(c.file_item(path, found))
        break
    app = evidence.app.name
    cause = (
        "The app keeps its data in an SQLite file, which allows one writer at a time: "
        "with several gunicorn workers (or instances) writes wait and fail."
    )
    steps = (
        Step(
            "Create a PostgreSQL (or MySQL) database and add its connection string.",
            links.connection_strings(app),
            "Connection strings",
        ),
        Step(
            f"Point DATABASES{' at ' + where if where else ''} at it, e.g. "
            "dj_database_url.config() reading the POSTGRESQLCONNSTR_ variable."
        ),
        Step(
            "For a small app that must keep SQLite: run one worker (`--workers 1`) and "
            "set OPTIONS {'timeout': 20}."
        ),
    )
    return Finding(Status.CRITICAL, cause, tuple(items), steps, facts={"settings": where})
