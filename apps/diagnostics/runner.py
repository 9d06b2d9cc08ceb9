"""Run every detector over one Evidence and put the results in order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from apps.diagnostics import registry
from apps.diagnostics.evidence import Evidence, collect
from apps.diagnostics.findings import Finding, Item, Status
from apps.webapps.environment import mask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    detector: registry.Detector
    finding: Finding | None
    error: str = ""  # the detector itself broke: say so rather than hide it

    @property
    def status(self) -> Status:
        return self.finding.status if self.finding else Status.HEALTHY

    def to_dict(self) -> dict:
        d = self.detector
        return {
            "id": d.id,
            "title": d.title,
            "category": d.category,
            "subcategory": d.subcategory,
            "description": d.description,
            "status": str(self.status),
            "finding": self.finding.to_dict() if self.finding else None,
            "error": self.error,
        }


@dataclass(frozen=True)
class Report:
    app: str
    results: tuple[Result, ...]
    collected_at: datetime | None = None
    problems: tuple[str, ...] = ()

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def critical(self) -> int:
        return self.count(Status.CRITICAL)

    @property
    def warnings(self) -> int:
        return self.count(Status.WARNING)

    @property
    def status(self) -> Status:
        if self.critical:
            return Status.CRITICAL
        return Status.WARNING if self.warnings else Status.HEALTHY

    def fired(self) -> list[Result]:
        return [r for r in self.results if r.finding is not None]

    def result(self, detector_id: str) -> Result | None:
        return next((r for r in self.results if r.detector.id == detector_id), None)

    def by_category(self) -> list[tuple[str, list[Result]]]:
        """Categories in App Service's order; problems first within each."""
        rank = {Status.CRITICAL: 0, Status.WARNING: 1, Status.HEALTHY: 2}
        out = []
        for category in registry.CATEGORIES:
            results = [r for r in self.results if r.detector.category == category]
            results.sort(key=lambda r: rank[r.status])
            out.append((category, results))
        return out

    def to_dict(self) -> dict:
        return {
            "app": self.app,
            "status": str(self.status),
            "summary": {"critical": self.critical, "warning": self.warnings},
            "collectedAt": self.collected_at.isoformat() if self.collected_at else None,
            "problems": list(self.problems),
            "detectors": [r.to_dict() for r in self.results],
        }


def _redact(finding: Finding, secrets: tuple[str, ...]) -> Finding:
    # Belt and braces: whatever a detector quotes, secret values never leave.
    if not secrets:
        return finding
    items = tuple(replace(i, text=mask(i.text, list(secrets))) for i in finding.evidence)
    return replace(finding, evidence=items, cause=mask(finding.cause, list(secrets)))


def run(evidence: Evidence) -> Report:
    results = []
    for d in registry.all_detectors():
        try:
            finding = d.check(evidence)
        except Exception as e:  # noqa: BLE001 - one broken detector must not hide the rest
            log.exception("Detector %s failed", d.id)
            results.append(
                Result(
                    d,
                    Finding(
                        Status.WARNING,
                        f"This detector could not run: {type(e).__name__}: {e}.",
                        evidence=(Item("detector", d.id),),
                    ),
                    error=f"{type(e).__name__}: {e}",
                )
            )
            continue
        if finding is not None:
            finding = _redact(finding, evidence.app.secrets)
        results.append(Result(d, finding))
    return Report(
        app=evidence.app.name,
        results=tuple(results),
        collected_at=evidence.collected_at,
        problems=evidence.problems,
    )


def diagnose(app) -> Report:
    """Collect the evidence for a WebApp and run every detector over it."""
    return run(collect(app))
