"""Callbacks a lower layer calls and a higher one provides, so layers
point one way (STYLE.md point 13: "takes it as an argument or a callback").
Each higher app registers its function when Django starts (its
AppConfig.ready), so every portal and worker process has them.

- keep_last_lines: the release pipeline (apps.deployments) sits below the
  log archive (apps.logs) and must not import it. Before it removes an
  app's containers it calls this; apps.logs registers the archive's.
- delete_app_logs: deleting an app (apps.deployments.teardown) removes
  its log archive; apps.logs registers the archive's function.
- precheck, precheck_log_lines: the intake (apps.deployments) runs the
  pre-deployment check that apps.diagnostics provides.
- request_restart: configuration (apps.webapps) sits below the app's
  lifecycle; a settings Save asks for a restart through this, and
  apps.deployments registers the task that does it.
- container_extras: an app's container gets what the services connected
  to it need (apps.databases: its services attached to the app's network,
  the CA that signs their certificates); the release pipeline asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# keeper(app_name, container_names) -> warnings, one per container whose
# last lines could not be kept.
Keeper = Callable[[str, list[str]], list[str]]

_keepers: list[Keeper] = []


def register_keeper(keeper: Keeper) -> None:
    if keeper not in _keepers:
        _keepers.append(keeper)


def keep_last_lines(app_name: str, containers: Iterable[str]) -> list[str]:
    """Call with the containers stopped, before removing them; returns warnings."""
    names = list(containers)
    warnings: list[str] = []
    for keeper in _keepers:
        warnings += keeper(app_name, names)
    return warnings


# restarter(app_id, reason, operation_id): queue the restart of an app.
Restarter = Callable[[int, str, int], None]

_restarters: list[Restarter] = []


def register_restarter(restarter: Restarter) -> None:
    if restarter not in _restarters:
        _restarters.append(restarter)


def request_restart(app_id: int, reason: str, operation_id: int) -> None:
    if not _restarters:
        raise RuntimeError("No restarter registered: is apps.deployments installed?")
    for restarter in _restarters:
        restarter(app_id, reason, operation_id)


# greeter(app_id): a new app was created (after its transaction commits);
# apps.deployments registers what starts its default site.
Greeter = Callable[[int], None]

_greeters: list[Greeter] = []


def register_greeter(greeter: Greeter) -> None:
    if greeter not in _greeters:
        _greeters.append(greeter)


def app_created(app_id: int) -> None:
    for greeter in _greeters:
        greeter(app_id)


# rebuilder(app_id, previous_linux_fx_version, actor) -> the id of the
# deployment that builds the active release again on the app's new stack,
# or None when there is nothing to build (no release yet). A General
# settings Save (apps.webapps) calls it inside its transaction;
# apps.deployments registers it.
Rebuilder = Callable[[int, str, object], "int | None"]

_rebuilders: list[Rebuilder] = []


def register_rebuilder(rebuilder: Rebuilder) -> None:
    if rebuilder not in _rebuilders:
        _rebuilders.append(rebuilder)


def request_rebuild(app_id: int, previous: str, actor: object) -> int | None:
    if not _rebuilders:
        raise RuntimeError("No rebuilder registered: is apps.deployments installed?")
    found = None
    for rebuilder in _rebuilders:
        found = rebuilder(app_id, previous, actor) or found
    return found


# log_remover(app_name, container_names) -> whether there were logs; raises
# OSError if they stay. Deleting an app removes its log archive through it.
LogRemover = Callable[[str, list[str]], bool]

_log_removers: list[LogRemover] = []


def register_log_remover(remover: LogRemover) -> None:
    if remover not in _log_removers:
        _log_removers.append(remover)


def delete_app_logs(app_name: str, containers: Iterable[str]) -> bool:
    names = list(containers)
    found = False
    for remover in _log_removers:
        found = remover(app_name, names) or found
    return found


# The pre-deployment check (apps.diagnostics.precheck, above the intake that
# runs it): checker(zip_path, app_command_line, source_tree) -> findings as
# dicts, and log_lines(findings) -> the build log's first lines.
Checker = Callable[[Path, str, object], list[dict]]
LogLines = Callable[[list[dict]], list[str]]

_prechecks: list[tuple[Checker, LogLines]] = []


def register_precheck(checker: Checker, log_lines: LogLines) -> None:
    if (checker, log_lines) not in _prechecks:
        _prechecks.append((checker, log_lines))


def precheck(path: Path, app_command_line: str, tree: object) -> list[dict]:
    return [f for checker, _ in _prechecks for f in checker(path, app_command_line, tree)]


def precheck_log_lines(findings: list[dict]) -> list[str]:
    return [line for _, lines in _prechecks for line in lines(findings)]


# What the services connected to an app add to each of its containers
# (apps.databases, above the release pipeline that starts them): extras(
# app_name, network) makes sure the app's services run and are attached to
# `network`, and returns the environment and mounts (host path or volume ->
# (container path, "ro"|"rw")) the container gets, and warnings to log.
@dataclass(frozen=True)
class ContainerExtras:
    environment: dict[str, str] = field(default_factory=dict)
    mounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


Extras = Callable[[str, str], ContainerExtras]

_extras: list[Extras] = []


def register_container_extras(extras: Extras) -> None:
    if extras not in _extras:
        _extras.append(extras)


def container_extras(app_name: str, network: str) -> ContainerExtras:
    environment: dict[str, str] = {}
    mounts: dict[str, tuple[str, str]] = {}
    warnings: list[str] = []
    for extras in _extras:
        found = extras(app_name, network)
        environment.update(found.environment)
        mounts.update(found.mounts)
        warnings += found.warnings
    return ContainerExtras(environment, mounts, warnings)
