"""The detectors, in the order the page shows them. Each lives in its own
module under apps/diagnostics/detectors/ and registers itself here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding

# App Service's "Diagnose and solve problems" categories.
AVAILABILITY = "Availability and Performance"
DEPLOYMENT = "Deployment and build"
CONFIGURATION = "Configuration"
CATEGORIES = (AVAILABILITY, DEPLOYMENT, CONFIGURATION)

# Availability's sub-categories.
APPLICATION_LOGS = "Application logs"
CONTAINER_CRASH = "Container crash"
CONTAINER_ISSUES = "Container issues"

Check = Callable[[Evidence], Finding | None]


@dataclass(frozen=True)
class Detector:
    id: str
    title: str
    category: str
    subcategory: str
    description: str  # what it looks for, shown when healthy
    check: Check


_DETECTORS: dict[str, Detector] = {}

# One module a detector; this order is the page's order within a category.
MODULES = (
    "default_site",
    "service_unavailable",
    "http_500",
    "module_not_found",
    "sqlite_locked",
    "crash_loop",
    "storage_full",
    "startup_timeout",
    "startup_command_failed",
    "build_failed",
    "missing_header",
    "requirements_file",
    "python_version",
    "static_files",
    "database_ssl",
    "database_connection",
)


def detector(
    id: str, *, title: str, category: str, description: str, subcategory: str = ""
) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _DETECTORS[id] = Detector(id, title, category, subcategory, description, check)
        return check

    return register


def all_detectors() -> list[Detector]:
    for module in MODULES:
        importlib.import_module(f"apps.diagnostics.detectors.{module}")
    return list(_DETECTORS.values())


def get(id: str) -> Detector | None:
    all_detectors()
    return _DETECTORS.get(id)
