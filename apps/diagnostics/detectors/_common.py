"""Small helpers the detectors share: finding lines, quoting them as evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable

from apps.core import failures
from apps.diagnostics import source as src
from apps.diagnostics.evidence import Evidence, LogLine
from apps.diagnostics.findings import Action, Item
from apps.lifecycle.source import SourceTree
from apps.lifecycle.startup import detect

# A Python exception's last line (the pipeline and the detectors read it alike).
EXCEPTION_LINE = failures.EXCEPTION_LINE


def grep(lines: Iterable[LogLine], pattern: str, flags: int = re.IGNORECASE) -> list[LogLine]:
    rx = re.compile(pattern, flags)
    return [ln for ln in lines if rx.search(ln.text)]


def log_item(line: LogLine) -> Item:
    return Item("log", line.text.strip(), line.where, line.timestamp)


def log_items(lines: Iterable[LogLine], limit: int = 6) -> tuple[Item, ...]:
    seen: set[str] = set()
    out = []
    for ln in lines:
        key = ln.text.strip()
        if key in seen:
            continue
        seen.add(key)
        out.append(log_item(ln))
    # Keep the first and the latest: when it started and that it still happens.
    if len(out) > limit:
        out = out[: limit - 1] + out[-1:]
    return tuple(out)


def file_item(path: str, line: tuple[int, str] | None = None, note: str = "") -> Item:
    if line is None:
        return Item("file", note or path, path)
    return Item("file", line[1].strip(), f"{path}:{line[0]}")


def setting_item(name: str, value: str = "", where: str = "app setting") -> Item:
    return Item("setting", f"{name}={value}" if value else name, where)


def exceptions(lines: list[LogLine]) -> list[LogLine]:
    return [ln for ln in lines if EXCEPTION_LINE.match(ln.text)]


def last_exception(lines: list[LogLine]) -> LogLine | None:
    found = exceptions(lines)
    return found[-1] if found else None


def traceback_tail(lines: list[LogLine], exc: LogLine, context: int = 3) -> list[LogLine]:
    """The exception line and the traceback lines just above it (the file and
    code that raised), never unrelated lines."""
    same = [ln for ln in lines if ln.origin == exc.origin]
    try:
        i = same.index(exc)
    except ValueError:
        return [exc]
    start = i
    while start > 0 and i - start < context and _TRACEBACK.match(same[start - 1].text):
        start -= 1
    return same[start : i + 1]


_TRACEBACK = re.compile(r"^(\s+\S|Traceback \(most recent call last\))")


def app_object(evidence: Evidence) -> src.AppObject | None:
    objects = src.find_app_objects(evidence.source.python_files)
    non_django = [o for o in objects if o.kind != "django"]
    return (non_django or objects or [None])[0]


def startup_action(command: str) -> Action:
    return Action("startup_command", command, f"Set the startup command to {command}")


def expected_port(evidence: Evidence) -> int:
    value = evidence.app.setting("WEBSITES_PORT") or "8000"
    return int(value) if value.isdigit() else 8000


def startup_detection(evidence: Evidence) -> dict:
    """How start-up decided to run the latest release (rule, reason, command,
    looked_for): as recorded by the deploy, else worked out from the code with
    the deploy pipeline's own rules."""
    latest = evidence.latest
    if latest is not None and latest.startup:
        return latest.startup
    if not evidence.source:
        return {}
    tree = SourceTree(frozenset(evidence.source.files), dict(evidence.source.contents))
    return detect(tree).to_dict()
