"""CPU and memory of an app's serving container over the last hour: sampled
from the engine (`docker stats`) into AppMetric, drawn as SVG sparklines."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.logs.models import AppMetric
from apps.logs.services import serving_container
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
# A page view samples only if the last sample is older than this, so many
# viewers don't ask the engine many times (a sample takes about a second).
MIN_INTERVAL = timedelta(seconds=20)


def sample(app: WebApp) -> AppMetric | None:
    """Read the serving container's stats now and keep them; forget samples
    older than an hour. None when no container serves or the engine fails."""
    name = serving_container(app) if app.state == WebApp.State.RUNNING else ""
    if not name:
        return None
    try:
        stats = engine.container_stats(name)
    except EngineError as e:
        logger.info("No stats for %s: %s", app.name, e.message)
        return None
    now = timezone.now()
    metric = AppMetric.objects.create(
        app=app,
        at=now,
        cpu_percent=stats.cpu_percent,
        memory_bytes=stats.memory_bytes,
        memory_limit=stats.memory_limit,
    )
    AppMetric.objects.filter(app=app, at__lt=now - WINDOW).delete()
    return metric


def sample_if_stale(app: WebApp) -> AppMetric | None:
    last = AppMetric.objects.filter(app=app).order_by("-at").first()
    if last and timezone.now() - last.at < MIN_INTERVAL:
        return None
    return sample(app)


def sample_all() -> int:
    """One sample of every running app (the periodic task). Returns how many."""
    return sum(1 for app in WebApp.objects.filter(state=WebApp.State.RUNNING) if sample(app))


def last_hour(app: WebApp) -> list[AppMetric]:
    return list(AppMetric.objects.filter(app=app, at__gte=timezone.now() - WINDOW).order_by("at"))


# --- charts ------------------------------------------------------------------


@dataclass(frozen=True)
class Sparkline:
    """What the template needs to draw one chart as inline SVG."""

    title: str
    latest: str
    peak: str
    line: str  # polyline points
    area: str  # polygon points (the line closed along the bottom)
    width: int
    height: int
    empty: bool
    samples: int
    last_x: str = ""  # the newest sample, drawn as a dot (one sample makes no line)
    last_y: str = ""


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def sparkline(
    title: str,
    points: list[tuple[float, float]],
    *,
    floor_max: float,
    fmt,
    width: int = 320,
    height: int = 64,
) -> Sparkline:
    """points: (seconds from the window's start, value). x spans the hour."""
    if not points:
        return Sparkline(title, "no data", "", "", "", width, height, True, 0)
    top = max(floor_max, max(v for _, v in points)) * 1.1
    span = WINDOW.total_seconds()
    pad = 2

    def xy(t: float, v: float) -> str:
        x = min(max(t / span, 0), 1) * (width - 2 * pad) + pad
        y = height - pad - (v / top) * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    line = " ".join(xy(t, v) for t, v in points)
    first_x, last_x = line.split(" ")[0].split(",")[0], line.split(" ")[-1].split(",")[0]
    area = f"{first_x},{height - pad} {line} {last_x},{height - pad}"
    peak = max(v for _, v in points)
    last_x, last_y = line.split(" ")[-1].split(",")
    return Sparkline(
        title,
        fmt(points[-1][1]),
        fmt(peak),
        line,
        area,
        width,
        height,
        False,
        len(points),
        last_x,
        last_y,
    )


def charts(app: WebApp) -> list[Sparkline]:
    metrics = last_hour(app)
    start = timezone.now() - WINDOW
    cpu = [((m.at - start).total_seconds(), m.cpu_percent) for m in metrics]
    mem = [((m.at - start).total_seconds(), float(m.memory_bytes)) for m in metrics]
    return [
        sparkline("CPU", cpu, floor_max=5.0, fmt=lambda v: f"{v:.1f} %"),
        sparkline("Memory", mem, floor_max=64 * 1024 * 1024, fmt=_fmt_bytes),
    ]
