"""Helpers for the operation tests: a fake engine for the restart path (the
real-engine tests are tests/test_operations_e2e.py) and a serving release."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.client import ContainerState, LogLine
from apps.engine.errors import ContainerMissing, EngineError
from apps.lifecycle import health, storage
from apps.webapps.models import WebApp

FLASK = {
    "rule": "flask",
    "reason": "found app.py",
    "command": "gunicorn --bind=0.0.0.0:$PORT --timeout 600 app:app",
    "looked_for": ["Flask: app.py"],
}


@dataclass
class FakeEngine:
    """Containers by name and status; what release and services ask of the
    engine, answered from that. `healthy` says what the new container's
    health probe answers; `app_log` is what it printed."""

    containers: dict[str, str] = field(default_factory=dict)
    healthy: bool = True
    app_log: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    # What each container printed, for the log archive's read before removal.
    printed: dict[str, list[LogLine]] = field(default_factory=dict)

    def install(self, monkeypatch) -> FakeEngine:
        for name in (
            "ensure_network",
            "guard_host",
            "container_exists",
            "create_container",
            "start_container",
            "published_port",
            "container_state",
            "container_logs",
            "container_logs_stream",
            "container_environment",
            "find_containers",
            "stop_container",
            "remove_container",
            "image_facts",
            "container_oom_events",
            "ensure_volume",
            "run_once",
        ):
            monkeypatch.setattr(engine, name, getattr(self, name))
        monkeypatch.setattr(health, "probe", self.probe)
        return self

    def ensure_network(self, name: str, **options) -> None:
        pass

    def guard_host(self, image: str, interfaces: str, allow_tcp_ports: list[int]) -> None:
        pass

    def ensure_volume(self, name: str, labels=None, **options) -> bool:
        self.events.append(f"volume {name}")
        return False

    def run_once(self, image: str, command: list[str], timeout: int = 120, **options):
        """The code sync into /home (apps.lifecycle.storage): nothing to copy."""
        self.events.append(f"sync {image}")
        result = {"release": command[-1], "shipped": 1, "copied": 0, "unchanged": 1, "removed": 0}
        return 0, storage.RESULT_PREFIX + json.dumps(result) + "\n"

    def container_exists(self, name: str) -> bool:
        return name in self.containers

    def create_container(self, image: str, command, *, name: str, **options) -> str:
        self.containers[name] = "created"
        self.created.append(name)
        self.events.append(f"create {name}")
        return name

    def start_container(self, name: str) -> None:
        self.containers[name] = "running"

    def published_port(self, name: str, port: int) -> int:
        return 41000 + len(self.containers)

    def container_state(self, name: str) -> ContainerState:
        if name not in self.containers:
            raise EngineError(f"No such container: {name}")
        status = self.containers[name]
        code = 3 if status == "exited" else None
        return ContainerState(name, status, code, False, 0, "", "", "", "", {})

    def container_logs(self, name: str, tail: int = 500, timestamps: bool = True) -> list[str]:
        return list(self.app_log)

    def container_logs_stream(
        self, name: str, since: str = "", tail="all", timestamps=True, *, follow=True
    ) -> Iterator[LogLine]:
        if name not in self.containers:
            raise ContainerMissing(f"No such container: {name}")
        return iter(self.printed.get(name, []))

    def container_environment(self, name: str) -> dict[str, str]:
        return {}

    def find_containers(self, labels: dict[str, str]) -> list[str]:
        return list(self.containers)

    def stop_container(self, name: str, timeout: int = 10) -> None:
        self.containers[name] = "exited"
        self.events.append(f"stop {name}")

    def remove_container(self, name: str) -> None:
        self.containers.pop(name, None)

    def image_facts(self, tag: str):
        return None

    def container_oom_events(self, name: str, since: float) -> int:
        return 0

    def probe(self, app: WebApp, port: int, timeout: float = 5):
        self.events.append("probe")
        if self.healthy:
            return True, 200, "GET / answered 200"
        # The new container never listens, and gives up.
        for name in self.created:
            if name in self.containers:
                self.containers[name] = "exited"
        return False, None, "GET /: no answer (ConnectionError)"


def serving_release(app: WebApp, container: str = "") -> Deployment:
    """An active release whose container runs (in the fake engine, add it)."""
    return Deployment.objects.create(
        app=app,
        status=Deployment.Status.SUCCESS,
        active=True,
        image=f"berth/app-{app.name}:1",
        container=container or f"berth-{app.name}-1",
        host_port=40001,
        startup=FLASK,
    )
