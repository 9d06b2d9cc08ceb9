"""What a detector says: a status, the evidence, the cause in one sentence and
the fix as steps. Plain values, so the page, the API and the tests share them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Item:
    """One piece of evidence: a log line, a file, a setting, a container state."""

    kind: str  # log | file | setting | container | deployment
    text: str
    where: str = ""  # "container berth-hello-3", "mysite/settings.py:88", ...
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Step:
    text: str
    url: str = ""
    link_text: str = ""


@dataclass(frozen=True)
class Action:
    """A one-click fix. Only changes Berth can make safely and undo by hand."""

    kind: str  # startup_command | linux_fx_version | repair_connection
    value: str
    label: str


@dataclass(frozen=True)
class Finding:
    status: Status
    cause: str
    evidence: tuple[Item, ...] = ()
    steps: tuple[Step, ...] = ()
    action: Action | None = None
    # Extra facts for the API and the tests (e.g. {"module": "yaml"}).
    facts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = str(self.status)
        for item in data["evidence"]:
            if item["timestamp"] is not None:
                item["timestamp"] = item["timestamp"].isoformat()
        return data
