"""What an app container may use and do: its limits (memory, CPU,
processes), its hardening (user, capabilities), and whether the kernel
killed it for memory. Plain functions of an app's settings and the engine;
apps.lifecycle.release applies them when it starts a container."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.engine.runtimes import image_tag
from apps.webapps.models import WebApp

# App containers run as this user when the release was prepared for it (the
# build runs as it, so the code is its own; images made before that carry no
# RUN_AS_LABEL). Build containers always run as it.
RUN_AS = "1000:1000"
RUN_AS_LABEL = "io.berth.run-as"
# What a root app container keeps of root's powers (all else is dropped):
# enough for start-up scripts that chown, switch users or write root's files.
ROOT_CAPS = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"]


TRUE = ("1", "true", "yes", "on")


def memory_mb(text: str) -> int:
    """Docker's "1g" / "512m" / "256" (MB when bare) as MB; 0 when unreadable."""
    value = str(text).strip().lower().rstrip("b")
    factor = {"k": 1 / 1024, "m": 1, "g": 1024}.get(value[-1:] or "m")
    number = value[:-1] if factor is not None and value[-1:].isalpha() else value
    try:
        return max(0, int(float(number) * (factor or 1)))
    except ValueError:
        return 0


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpus: float
    pids: int
    notes: tuple[str, ...] = ()  # why a setting was not used

    def describe(self) -> str:
        return f"memory {self.memory_mb} MB, {self.cpus:g} CPU, {self.pids} processes"


def app_limits(app: WebApp) -> Limits:
    """The app's container limits: the app settings WEBSITE_MEMORY_LIMIT_MB and
    WEBSITE_CPU_LIMIT, else BERTH_APP_MEMORY and BERTH_APP_CPUS."""
    values = {
        s.name: s.value
        for s in app.app_settings.filter(name__in=["WEBSITE_MEMORY_LIMIT_MB", "WEBSITE_CPU_LIMIT"])
    }
    notes = []
    memory = memory_mb(settings.BERTH_APP_MEMORY) or 1024
    cpus = float(settings.BERTH_APP_CPUS)
    if raw := values.get("WEBSITE_MEMORY_LIMIT_MB", "").strip():
        try:
            wanted = int(raw)
            if wanted < 16:
                raise ValueError
            memory = wanted
        except ValueError:
            notes.append(
                f"WEBSITE_MEMORY_LIMIT_MB={raw!r} is not a number of MB (16 or more): "
                f"using the default {memory} MB."
            )
    if raw := values.get("WEBSITE_CPU_LIMIT", "").strip():
        try:
            wanted_cpus = float(raw)
            if not 0.01 <= wanted_cpus <= (os.cpu_count() or 1):
                raise ValueError
            cpus = wanted_cpus
        except ValueError:
            notes.append(
                f"WEBSITE_CPU_LIMIT={raw!r} is not a number of CPUs between 0.01 and "
                f"{os.cpu_count() or 1}: using the default {cpus:g}."
            )
    return Limits(memory, cpus, int(settings.BERTH_APP_PIDS_LIMIT), tuple(notes))


@dataclass(frozen=True)
class Hardening:
    user: str  # "" is root
    cap_add: tuple[str, ...]
    why_root: str = ""

    def options(self) -> dict:
        return {
            "cap_drop": ["ALL"],
            "cap_add": list(self.cap_add),
            "security_opt": ["no-new-privileges"],
            "user": self.user,
        }


def hardening(app: WebApp, image: str) -> Hardening:
    """Never privileged, no engine socket (Berth mounts nothing into app
    containers), every capability dropped, no privilege gain through setuid
    files; and a non-root user unless the app says it needs root
    (WEBSITES_RUN_AS_ROOT=true) or its release predates the user."""
    as_root = app.app_settings.filter(name="WEBSITES_RUN_AS_ROOT").values_list("value", flat=True)
    if any(v.strip().lower() in TRUE for v in as_root):
        return Hardening("", tuple(ROOT_CAPS), "the app setting WEBSITES_RUN_AS_ROOT is true")
    facts = engine.image_facts(image)
    if facts is None or facts.labels.get(RUN_AS_LABEL) != RUN_AS:
        return Hardening(
            "",
            tuple(ROOT_CAPS),
            "its release image was built before Berth handed the code to a non-root "
            "user: deploy again to run as uid 1000",
        )
    return Hardening(RUN_AS, ())


def stale_image_settings(app: WebApp, image: str, env: dict[str, str]) -> list[str]:
    """Names a release image built before Berth kept settings out of images
    still holds in its config (the build container's environment): those
    that neither the runtime image nor `env`, the container's current
    environment, sets. A container would inherit their old values, a
    deleted secret's too; run_release blanks them."""
    release_image = engine.image_facts(image)
    runtime = engine.image_facts(image_tag(app.python_version))
    if release_image is None or runtime is None:
        return []
    keep = {*runtime.env_names, "PATH", "PYTHONPATH", *env}
    return sorted(name for name in release_image.env_names if name not in keep)


def oom_message(container: str, limit_mb: int, since: float = 0.0) -> str:
    """ "killed: out of memory (limit 256 MB)" when the kernel killed a process
    of the container for memory (since `since`, a Unix time, else since the
    container was created), else "". The engine's State.OOMKilled is set only
    when the main process dies of it; a gunicorn worker killed for memory
    (the usual case) shows only as an "oom" event, so both are asked."""
    killed = False
    try:
        state = engine.container_state(container)
    except EngineError:
        return ""
    killed = state.oom_killed
    if not killed:
        since = since or _epoch(state.created)
        with contextlib.suppress(EngineError):
            killed = engine.container_oom_events(container, since) > 0
    return f"killed: out of memory (limit {limit_mb} MB)" if killed else ""


def _epoch(rfc3339: str) -> float:
    """The engine's "2026-01-01T10:00:00.123456789Z" as a Unix time (0 if unreadable)."""
    text = rfc3339.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # nanoseconds: Python reads at most microseconds
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0
