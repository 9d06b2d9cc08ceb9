"""Redis for an app: a container of its own (Redis has no per-tenant
databases behind a password-only login, which Service Connector's
`rediss://:<password>@host:6380/0` form uses), on the app's network only,
TLS on 6380, its data in a volume of its own."""

from __future__ import annotations

import hashlib

from django.conf import settings

from apps.databases import tls
from apps.databases.postgres import ensure_services_network
from apps.engine import buildstate, dataservices
from apps.engine import client as engine

PORT = 6380
APP_LABEL = "io.berth.app"


def container_name(app_name: str) -> str:
    """Also its host name, so one DNS label (63 characters at most)."""
    name = f"berth-redis-{app_name}"
    if len(name) > 63:
        name = f"berth-redis-{app_name[:42]}-{hashlib.sha256(app_name.encode()).hexdigest()[:8]}"
    return name


def volume_name(app_name: str) -> str:
    return f"berth-redis-{app_name}-data"


def ensure_running(
    app_name: str, password: str, progress: buildstate.Progress | None = None
) -> str:
    """The app's Redis up and healthy with this password; its host name.
    A new password makes a new container on the same volume."""
    dataservices.ensure_image("redis", progress)
    name = container_name(app_name)
    dataservices.ensure_service(
        dataservices.ServiceContainer(
            name=name,
            kind="redis",
            volume=volume_name(app_name),
            volume_target="/data",
            tls_dir=tls.server_dir(name),
            network=ensure_services_network(),
            memory_mb=settings.BERTH_REDIS_MEMORY_MB,
            cpus=0.5,
            pids=64,
            environment={
                "REDIS_PASSWORD": password,
                "BERTH_MAXMEMORY": f"{settings.BERTH_REDIS_MEMORY_MB * 3 // 4}mb",
            },
            labels={APP_LABEL: app_name},
        )
    )
    return name


def attach(app_name: str, network: str) -> None:
    dataservices.connect(network, container_name(app_name))


def remove(app_name: str, *, keep_data: bool) -> None:
    engine.remove_container(container_name(app_name))
    if not keep_data:
        engine.remove_volume(volume_name(app_name))
