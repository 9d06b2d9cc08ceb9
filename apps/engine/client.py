"""The Docker engine, as typed functions: everything else in Berth calls them
and catches apps.engine.errors.*.

This module only re-exports: docker_api (the one module that imports
`docker`: connection, error translation), images, containers, networks
(and volumes), hostguard, execs, logstream and stats. Callers keep
`from apps.engine import client as engine` / `engine.create_container(...)`;
other apps import it this way (the redesign changes their import lines
separately), and tests patch `engine.<name>` for what those apps call.
"""

from __future__ import annotations

from apps.engine.containers import (
    ContainerState,
    commit_container,
    container_environment,
    container_exists,
    container_id,
    container_state,
    create_container,
    find_containers,
    follow_logs,
    get_archive,
    kill_container,
    published_port,
    put_archive,
    remove_container,
    run_once,
    start_container,
    stop_container,
    wait_container,
)
from apps.engine.docker_api import (
    LABEL,
    EngineStatus,
    client,
    engine_status,
    translated,
)
from apps.engine.execs import (
    TtyStream,
    exec_exit_code,
    exec_quick,
    exec_resize,
    exec_stream,
    exec_tty,
    find_app_container,
)
from apps.engine.hostguard import (
    GUARD_CHAIN,
    GUARD_SCRIPT,
    guard_host,
    host_rules,
)
from apps.engine.images import (
    ImageFacts,
    build_image,
    find_images,
    image_exists,
    image_facts,
    image_labels,
    image_size,
    import_image,
    pull_image,
    registry_has,
    remove_image,
)
from apps.engine.logstream import (
    LogFollower,
    LogLine,
    container_logs,
    container_logs_lines,
    container_logs_stream,
)
from apps.engine.networks import (
    container_networks,
    ensure_network,
    ensure_volume,
    find_networks,
    find_volumes,
    remove_network,
    remove_volume,
)
from apps.engine.stats import (
    ContainerStats,
    RunningContainer,
    container_oom_events,
    container_stats,
    running_containers,
)

__all__ = [
    "ContainerState",
    "ContainerStats",
    "EngineStatus",
    "GUARD_CHAIN",
    "GUARD_SCRIPT",
    "ImageFacts",
    "LABEL",
    "LogFollower",
    "LogLine",
    "RunningContainer",
    "TtyStream",
    "build_image",
    "client",
    "commit_container",
    "container_environment",
    "container_exists",
    "container_id",
    "container_logs",
    "container_logs_lines",
    "container_logs_stream",
    "container_networks",
    "container_oom_events",
    "container_state",
    "container_stats",
    "create_container",
    "engine_status",
    "ensure_network",
    "ensure_volume",
    "exec_exit_code",
    "exec_quick",
    "exec_resize",
    "exec_stream",
    "exec_tty",
    "find_app_container",
    "find_containers",
    "find_images",
    "find_networks",
    "find_volumes",
    "follow_logs",
    "get_archive",
    "guard_host",
    "host_rules",
    "image_exists",
    "image_facts",
    "image_labels",
    "image_size",
    "import_image",
    "kill_container",
    "published_port",
    "pull_image",
    "get_archive",
    "put_archive",
    "registry_has",
    "remove_container",
    "remove_image",
    "remove_network",
    "remove_volume",
    "run_once",
    "running_containers",
    "start_container",
    "stop_container",
    "translated",
    "wait_container",
]
