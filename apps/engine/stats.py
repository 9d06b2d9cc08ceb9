"""What running containers use: CPU and memory samples, OOM kills, the
running containers the log archiver follows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.engine import docker_api


@dataclass(frozen=True)
class ContainerStats:
    cpu_percent: float  # of one core, as `docker stats` shows it (200% = two cores busy)
    memory_bytes: int
    memory_limit: int


def container_stats(name: str) -> ContainerStats:
    """One `docker stats` sample. Takes about a second: the engine waits for
    two CPU readings to compute the percentage."""
    with docker_api.translated(f"Reading the stats of container {name}"):
        s = docker_api.client().api.stats(name, stream=False)
    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    percent = cpu_delta / system_delta * cpus * 100.0 if cpu_delta > 0 and system_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage = int(mem.get("usage", 0))
    # `docker stats` leaves the page cache out (cgroup v2: inactive_file).
    cache = int((mem.get("stats") or {}).get("inactive_file", 0))
    return ContainerStats(
        cpu_percent=round(percent, 2),
        memory_bytes=max(usage - cache, 0),
        memory_limit=int(mem.get("limit", 0)),
    )


def container_oom_events(name: str, since: float) -> int:
    """How many times the kernel OOM-killed a process in the container since
    `since` (a Unix time), from the engine's recent events. The State's
    OOMKilled flag is reset when the engine restarts the container; the
    events are not."""
    filters = {"container": [name], "event": ["oom"], "type": ["container"]}
    with docker_api.translated(f"Reading the events of container {name}"):
        events = docker_api.client().events(
            since=int(since), until=int(time.time()) + 1, filters=filters, decode=True
        )
        return sum(1 for _ in events)


# The log archiver (apps.logs.archive).


@dataclass(frozen=True)
class RunningContainer:
    name: str
    id: str
    labels: dict[str, str]


def running_containers(label: str) -> list[RunningContainer]:
    """Running containers carrying `label` (any value), oldest first."""
    with docker_api.translated("Listing running containers"):
        found = docker_api.client().api.containers(filters={"label": [label], "status": "running"})
    found.sort(key=lambda c: c.get("Created", 0))
    return [
        RunningContainer(c["Names"][0].lstrip("/"), c.get("Id", ""), c.get("Labels") or {})
        for c in found
        if c.get("Names")
    ]
