"""`SSL connection is required` from the database: the connection does not ask for TLS."""

from __future__ import annotations

import re

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import CONFIGURATION, detector

PATTERNS = (
    r"SSL connection is required",
    r"SSL is required",
    r"no pg_hba\.conf entry for host .*(SSL off|no encryption)",
    r"Connections using insecure transport are prohibited",
    r"require_secure_transport",
    r"SSL connection error",
)


@detector(
    "database_ssl",
    title="Database requires an SSL connection",
    category=CONFIGURATION,
    description="Looks for databases refusing connections without SSL.",
)
def check(evidence: Evidence) -> Finding | None:
    hits = c.grep(evidence.runtime_lines(), "|".join(PATTERNS))
    if not hits:
        return None
    app = evidence.app.name
    items = list(c.log_items(hits, limit=4))
    for name, type_, value in evidence.app.connection_strings:
        has_ssl = re.search(r"ssl[-_]?mode|sslmode|ssl=|ssl-mode|Encrypt=", value, re.IGNORECASE)
        items.append(
            Item(
                "setting",
                f"{name} ({type_}): {'sets' if has_ssl else 'does not set'} sslmode",
                "connection string",
            )
        )
    for path in src.settings_modules(evidence.source.python_files)[:1]:
        if found := src.line_of(evidence.source.read(path), r"^\s*DATABASES\s*="):
            items.append(c.file_item(path, found))
    cause = "The database server only accepts SSL connections and the app connects without SSL."
    steps = (
        Step(
            "Add `sslmode=require` to the connection string (PostgreSQL: `?sslmode=require` "
            "or `sslmode=require` in the key=value form; MySQL: `ssl_mode=REQUIRED`).",
            links.connection_strings(app),
            "Connection strings",
        ),
        Step(
            'Or, in Django\'s DATABASES, add "OPTIONS": {"sslmode": "require"} '
            '(MySQL: {"ssl_mode": "REQUIRED"}).'
        ),
    )
    return Finding(Status.CRITICAL, cause, tuple(items), steps)
