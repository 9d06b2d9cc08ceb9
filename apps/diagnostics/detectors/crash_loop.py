"""The app's container keeps stopping: exit codes, out-of-memory kills, restarts."""

from __future__ import annotations

import re

from apps.core import failures
from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import ContainerRecord, Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import AVAILABILITY, CONTAINER_CRASH, detector

RESTARTS_CRITICAL = 3


EXIT_CODES = {
    0: "the start-up command finished instead of running a server",
    1: "the app's process stopped with an error",
    2: "the start-up command was given wrong arguments",
    3: "gunicorn could not load the app (worker failed to boot)",
    4: "gunicorn could not find the app object",
    126: "the start-up command is not executable",
    127: "the start-up command was not found",
    137: "the process was killed (SIGKILL), usually for using too much memory",
    139: "the process crashed (segmentation fault)",
    143: "the process was stopped (SIGTERM)",
}


def _state_item(ct: ContainerRecord) -> Item:
    text = f"status {ct.status}, exit code {ct.exit_code}, OOMKilled {str(ct.oom_killed).lower()}, RestartCount {ct.restart_count}"
    if ct.error:
        text += f", error: {ct.error}"
    return Item("container", text, f"container {ct.name}", ct.finished_at or ct.started_at)


def _crashed(ct: ContainerRecord) -> bool:
    if (
        ct.status in ("restarting", "dead")
        or ct.oom_killed
        or ct.restart_count >= RESTARTS_CRITICAL
    ):
        return True
    return (
        ct.status == "exited"
        and ct.exit_code not in (None, 143)
        and ct.exit_code != 0
        or (ct.status == "exited" and ct.exit_code == 0 and ct.restart_count > 0)
    )


@detector(
    "crash_loop",
    title="Container crash",
    category=AVAILABILITY,
    subcategory=CONTAINER_CRASH,
    description="Checks the app's containers for exits, out-of-memory kills and restarts.",
)
def check(evidence: Evidence) -> Finding | None:
    if evidence.app.state != "Running":
        return None
    containers = list(evidence.relevant_containers())
    latest = evidence.latest
    if latest is not None and latest.failure_code == failures.EXITED:
        # A release that never became healthy is removed; its failure keeps its state.
        seen = latest.failure_evidence
        containers.insert(
            0,
            ContainerRecord(
                str(seen.get("container", "")),
                "exited",
                seen.get("exit_code"),
                restart_count=int(seen.get("restart_count") or 0),
                finished_at=latest.finished,
                deployment_id=latest.id,
                logs=latest.failure_lines(),
            ),
        )
    oom_lines = [
        ln
        for ln in evidence.runtime_lines()
        if re.search(
            r"was sent SIGKILL! Perhaps out of memory|was terminated due to signal 9\b", ln.text
        )
    ]
    if oom_lines and not any(ct.oom_killed for ct in containers):
        # gunicorn's master survives and keeps spawning workers that get killed.
        return Finding(
            Status.CRITICAL,
            f"gunicorn's workers are killed for running out of memory ({len(oom_lines)} times in the log).",
            c.log_items(oom_lines, limit=4),
            (
                Step(
                    "Load less at import (large files, models) or use fewer workers (`--workers 1`).",
                    links.general_settings(evidence.app.name),
                    "General settings",
                ),
                Step("Or give the app more memory (BERTH_APP_MEMORY)."),
            ),
            facts={"oom_killed": "true", "workers_killed": str(len(oom_lines))},
        )
    crashed = [ct for ct in containers if _crashed(ct)]
    restarted = [
        ct
        for ct in containers
        if 0 < ct.restart_count < RESTARTS_CRITICAL and ct.status == "running"
    ]
    if not crashed and not restarted:
        return None
    app = evidence.app.name
    ct = (crashed or restarted)[0]
    items = [_state_item(ct)]
    tail = [ln for ln in ct.logs if ln.text.strip()][-5:]
    items += [c.log_item(ln) for ln in tail]
    facts = {
        "container": ct.name,
        "exit_code": str(ct.exit_code),
        "restarts": str(ct.restart_count),
        "oom_killed": str(ct.oom_killed).lower(),
    }
    if ct.oom_killed or (ct.exit_code == 137 and not ct.error):
        cause = (
            f"The container {ct.name} was killed for running out of memory "
            f"(exit code {ct.exit_code}, OOMKilled {str(ct.oom_killed).lower()})."
        )
        steps = [
            Step(
                "Use fewer gunicorn workers (`--workers 2`) or load less at start-up.",
                links.general_settings(app),
                "General settings",
            ),
            Step("Look for memory that grows per request (caches, large files read whole)."),
        ]
    else:
        why = EXIT_CODES.get(ct.exit_code or 0, "the app's process stopped")
        if not ct.exit_code and ct.restart_count:
            # Sampled between a crash and the engine's restart, the exit code
            # says little; the restarts say it all.
            why = "it keeps stopping after it started and the engine keeps restarting it"
        cause = f"The container {ct.name} stopped with exit code {ct.exit_code}: {why}"
        cause += f"; it was restarted {ct.restart_count} times." if ct.restart_count else "."
        steps = [
            Step(
                "Read the last lines of its log above; the full log is in the log stream.",
                links.log_stream(app),
                "Log stream",
            )
        ]
        if ct.exit_code in (0, 126, 127, 2):
            steps.append(
                Step(
                    "Check the startup command: it must start a server that keeps running, "
                    "e.g. `gunicorn --bind=0.0.0.0 --timeout 600 app:app`.",
                    links.general_settings(app),
                    "General settings",
                )
            )
    status = Status.CRITICAL if crashed else Status.WARNING
    return Finding(status, cause, tuple(items), tuple(steps), facts=facts)
