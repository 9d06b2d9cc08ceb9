"""Service Connector, Berth's way: connecting an app to a database service
makes what the app needs there and sets app settings with the names Service
Connector uses for the client type, so an app written for App Service runs
unchanged. The API, the CLI and (later) the page call these.

- `postgres-flexible`: a database and a role of the app's name on Berth's
  PostgreSQL service; django -> AZURE_POSTGRESQL_HOST/NAME/USER/PASSWORD,
  python -> AZURE_POSTGRESQL_CONNECTIONSTRING in libpq's keyword form with
  sslmode=require.
- `redis`: the app's own Redis; AZURE_REDIS_CONNECTIONSTRING =
  rediss://:<password>@<host>:6380/0 for both client types.

Deleting a connection removes the settings it set (as `az webapp connection
delete` does) and keeps the database unless asked to drop it (az never
deletes the target resource): the role may no longer log in, the data stays,
and connecting again gives it back.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.core import hooks
from apps.databases import pending, postgres, redis, tls
from apps.databases.models import ServiceConnection
from apps.engine import buildstate, dataservices
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.webapps import services as config
from apps.webapps.environment import mask
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

TARGETS = tuple(ServiceConnection.Target.values)
CLIENT_TYPES = tuple(ServiceConnection.ClientType.values)
# az infers the client type from the app's runtime: Python apps get "python".
DEFAULT_CLIENT_TYPE = ServiceConnection.ClientType.PYTHON
NAME_RE = re.compile(r"^[A-Za-z0-9_.]{1,60}$")
DEFAULT_NAMES = {"postgres-flexible": "postgres_flexible", "redis": "redis"}
# The service image each target runs on (apps.engine.dataservices' kinds).
SERVICE_KINDS = {"postgres-flexible": "postgres", "redis": "redis"}
# Of a connection made in the background, the image build's share of the percent.
BUILD_SHARE = 85


class ConnectionProblem(Exception):
    """Bad input or a state that refuses the change; `code` for the API,
    `status` its HTTP status. Nothing was changed."""

    def __init__(self, message: str, *, code: str = "InvalidArgument", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def settings_for(connection: ServiceConnection) -> dict[str, str]:
    """The app settings a connection sets, with their values."""
    if connection.target == ServiceConnection.Target.REDIS:
        url = f"rediss://:{connection.password}@{connection.host}:{redis.PORT}/0"
        return {"AZURE_REDIS_CONNECTIONSTRING": url}
    if connection.client_type == ServiceConnection.ClientType.DJANGO:
        return {
            "AZURE_POSTGRESQL_HOST": connection.host,
            "AZURE_POSTGRESQL_NAME": connection.database,
            "AZURE_POSTGRESQL_USER": connection.role,
            "AZURE_POSTGRESQL_PASSWORD": connection.password,
        }
    return {
        "AZURE_POSTGRESQL_CONNECTIONSTRING": (
            f"dbname={connection.database} host={connection.host} port={postgres.PORT} "
            f"sslmode=require user={connection.role} password={connection.password}"
        )
    }


def _check(app: WebApp, target: str, client_type: str, name: str) -> None:
    if target not in TARGETS:
        raise ConnectionProblem(
            f"{target!r} is not a target Berth connects: use one of {', '.join(TARGETS)}."
        )
    if client_type not in CLIENT_TYPES:
        raise ConnectionProblem(
            f"--client-type {client_type!r} is not supported: use one of {', '.join(CLIENT_TYPES)}."
        )
    if not NAME_RE.match(name):
        raise ConnectionProblem(f"Connection name {name!r}: use 1-60 letters, digits, '_' or '.'.")
    if target == ServiceConnection.Target.POSTGRES and app.name in postgres.RESERVED:
        raise ConnectionProblem(
            f"PostgreSQL keeps the name {app.name!r} for itself; an app of that name "
            "cannot have a database of its name."
        )
    existing = ServiceConnection.objects.filter(app=app, target=target).first()
    if existing:
        raise ConnectionProblem(
            f"{app.name} is already connected to {target} (connection {existing.name!r}); "
            f"delete it first: berth webapp connection delete -n {app.name} "
            f"--connection {existing.name}",
            code="Conflict",
            status=409,
        )
    if ServiceConnection.objects.filter(app=app, name=name).exists():
        raise ConnectionProblem(
            f"{app.name} already has a connection named {name!r}: choose another --connection.",
            code="Conflict",
            status=409,
        )


def prepare(app: WebApp, target: str, client_type: str = "", name: str = "") -> tuple[str, str]:
    """The client type and name a create would use, checked (ConnectionProblem
    when it would be refused, or another create of the target is under way)."""
    client_type = (client_type or DEFAULT_CLIENT_TYPE).lower()
    name = name or DEFAULT_NAMES.get(target, "")
    _check(app, target, client_type, name)
    busy = pending.read(app.name, target)
    if busy and busy.busy:
        raise ConnectionProblem(
            f"{app.name} is already being connected to {target} ({busy.percent}%: "
            f"{busy.message}); wait for it to finish.",
            code="Conflict",
            status=409,
        )
    return client_type, name


def needs_build(target: str) -> bool:
    """Must the target's service image be built first (the long part)?"""
    try:
        return not dataservices.is_current(SERVICE_KINDS[target])
    except EngineError:
        return False  # no engine: create says so at once


def _audit_view(connection: ServiceConnection) -> dict:
    return {
        "name": connection.name,
        "targetType": connection.target,
        "clientType": connection.client_type,
        "settings": sorted(connection.setting_names),
    }


def create(
    app: WebApp,
    target: str,
    *,
    client_type: str = "",
    name: str = "",
    actor=None,
    progress: buildstate.Progress | None = None,
) -> ServiceConnection:
    """Connect the app: the service started if needed (its image built once),
    the database/role or the app's Redis made, then the connection and its
    app settings saved together (and the app restarted to take them)."""
    client_type = (client_type or DEFAULT_CLIENT_TYPE).lower()
    name = name or DEFAULT_NAMES.get(target, "")
    _check(app, target, client_type, name)
    password = secrets.token_urlsafe(24)
    connection = ServiceConnection(
        app=app,
        name=name,
        target=target,
        client_type=client_type,
        password=password,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    say = progress or (lambda percent, message: None)

    def building(percent: int, message: str) -> None:
        say(percent * BUILD_SHARE // 100, message)

    try:
        if target == ServiceConnection.Target.POSTGRES:
            postgres.ensure_running(building)
            say(BUILD_SHARE + 5, f"PostgreSQL is up; making database and role {app.name}")
            postgres.create_database(app.name, password)
            connection.host, connection.database, connection.role = (
                postgres.HOST,
                app.name,
                app.name,
            )
        else:
            connection.host = redis.ensure_running(app.name, password, building)
            say(BUILD_SHARE + 5, f"Redis of {app.name} is up")
    except EngineError as e:
        raise ConnectionProblem(
            f"The {target} service could not be made ready: {e.message}",
            code="ServiceUnavailable",
            status=503,
        ) from e
    values = settings_for(connection)
    connection.setting_names = sorted(values)
    with transaction.atomic():
        connection.save()
        config.set_app_settings(
            app, [config.SettingInput(k, v) for k, v in values.items()], actor=actor
        )
        record(
            app=app,
            action=AuditEvent.Action.CONNECTION_CREATE,
            actor=actor,
            after=_audit_view(connection),
            summary=f"Connected to {target} as {name} ({client_type}): "
            f"set {', '.join(connection.setting_names)}",
        )
    return connection


def run_queued(app: WebApp, target: str, *, client_type: str, name: str, actor=None):
    """A create queued by apps.databases.connecting, run by the worker with
    its progress recorded; the record (None: it was not queued, or another
    worker has it)."""
    state = pending.read(app.name, target)
    if state is None or state.status != pending.Status.QUEUED:
        return None
    recorder = pending.Recorder(state)
    recorder(0, f"Connecting {app.name} to {target}")
    try:
        create(app, target, client_type=client_type, name=name, actor=actor, progress=recorder)
    except ConnectionProblem as e:
        recorder.finish(e.message, e.code)
    except Exception as e:
        recorder.finish(f"Unexpected error: {e!r}", "InternalError")
        raise
    else:
        recorder.finish()
    return recorder.state


def get(app: WebApp, name: str) -> ServiceConnection:
    connection = ServiceConnection.objects.filter(app=app, name=name).first()
    if connection is None:
        names = ", ".join(app.service_connections.values_list("name", flat=True)) or "none"
        raise ConnectionProblem(
            f"{app.name} has no connection named {name!r} (its connections: {names}).",
            code="ResourceNotFound",
            status=404,
        )
    return connection


@dataclass
class Deleted:
    name: str
    target: str
    settings_removed: list[str]
    database_deleted: bool
    warnings: list[str] = field(default_factory=list)


def delete(app: WebApp, name: str, *, delete_database: bool = False, actor=None) -> Deleted:
    """Remove the connection and the settings it set; the database is kept
    (its role may no longer log in) unless `delete_database`."""
    connection = get(app, name)
    with transaction.atomic():
        config.delete_app_settings(app, connection.setting_names, actor=actor)
        view = _audit_view(connection)
        connection.delete()
        record(
            app=app,
            action=AuditEvent.Action.CONNECTION_DELETE,
            actor=actor,
            before=view,
            summary=f"Deleted connection {name} to {connection.target}; "
            + ("deleted its data" if delete_database else "kept its data"),
        )
    result = Deleted(name, connection.target, sorted(connection.setting_names), delete_database)
    try:
        if connection.target == ServiceConnection.Target.POSTGRES:
            postgres.ensure_running()
            if delete_database:
                postgres.drop(connection.database)
            else:
                postgres.disable(connection.role)
            # The app reaches only the services it is connected to.
            if network := _app_network(app):
                dataservices.disconnect(network, postgres.CONTAINER)
        else:
            redis.remove(app.name, keep_data=not delete_database)
    except EngineError as e:
        result.warnings.append(
            f"The connection is gone, but the service could not be tidied: {e.message}"
        )
    return result


def container_extras(app_name: str, network: str) -> hooks.ContainerExtras:
    """apps.core.hooks.container_extras for the release pipeline: the app's
    services up and attached to its network, the CA mounted and named."""
    connections = list(ServiceConnection.objects.filter(app__name=app_name))
    if not connections:
        return hooks.ContainerExtras()
    warnings = []
    for connection in connections:
        try:
            if connection.target == ServiceConnection.Target.POSTGRES:
                postgres.ensure_running()
                postgres.attach(network)
            else:
                redis.ensure_running(app_name, connection.password)
                redis.attach(app_name, network)
        except EngineError as e:
            warnings.append(f"The {connection.target} service is not ready: {e.message}")
    return hooks.ContainerExtras(
        environment=tls.trust_environment(),
        mounts={str(tls.trust_dir()): (tls.TRUST_TARGET, "ro")},
        warnings=warnings,
    )


@dataclass(frozen=True)
class Validation:
    """`az webapp connection validate`: whether the app can connect, checked
    from the app's own network with the app's settings."""

    name: str
    ok: bool
    checks: list[dict]


def _app_network(app: WebApp) -> str:
    # apps.lifecycle.appnet names it; found by its labels, not imported (layers).
    found = engine.find_networks({"io.berth.app": app.name, "io.berth.role": "app-network"})
    return found[0] if found else ""


def validate(app: WebApp, name: str) -> Validation:
    connection = get(app, name)
    checks: list[dict] = []

    def check(what: str, ok: bool, detail: str) -> bool:
        checks.append({"name": what, "result": "success" if ok else "failure", "detail": detail})
        return ok

    try:
        network = _app_network(app)
    except EngineError as e:
        check("app network", False, e.message)
        return Validation(name, False, checks)
    if not check(
        "app network",
        bool(network),
        network or "The app has no network yet: deploy or start it, then validate again.",
    ):
        return Validation(name, False, checks)
    values = settings_for(connection)
    trust = tls.trust_dir()
    env = {**tls.trust_environment(), "HOME": "/tmp"}
    try:
        if connection.target == ServiceConnection.Target.POSTGRES:
            command = ["psql", "-X", "-tA", "-c", "SELECT current_user"]
            env["PGCONNECT_TIMEOUT"] = "10"
            dsn = values.get("AZURE_POSTGRESQL_CONNECTIONSTRING") or (
                f"dbname={connection.database} host={connection.host} port={postgres.PORT} "
                f"sslmode=require user={connection.role} password={connection.password}"
            )
            command.insert(1, dsn)
            kind, expect = "postgres", connection.role
        else:
            command = ["redis-cli", "--tls", "--cacert", f"{tls.TRUST_TARGET}/berth-ca.crt"]
            command += ["-h", connection.host, "-p", str(redis.PORT), "ping"]
            env["REDISCLI_AUTH"] = connection.password
            kind, expect = "redis", "PONG"
        code, output = dataservices.probe(
            kind,
            network,
            command,
            environment=env,
            trust_dir=trust,
            trust_target=tls.TRUST_TARGET,
        )
    except EngineError as e:
        check("connect", False, e.message)
        return Validation(name, False, checks)
    text = mask(output.strip(), [connection.password])[-500:]
    ok = check(
        "connect over TLS with the app's settings",
        code == 0 and expect in output,
        text or f"exit code {code}",
    )
    return Validation(name, ok, checks)


@dataclass(frozen=True)
class ConnectionState:
    """What is true of a connection's service right now, for the detectors."""

    name: str
    target: str
    service: str  # healthy | unhealthy | starting | stopped | missing | unknown
    database: str = ""
    role: str = ""
    can_login: bool | None = None  # PostgreSQL: the role may log in
    database_exists: bool | None = None
    sessions: int | None = None  # PostgreSQL: sessions open, all databases
    max_sessions: int | None = None
    error: str = ""


def state(connection: ServiceConnection) -> ConnectionState:
    container = (
        postgres.CONTAINER
        if connection.target == ServiceConnection.Target.POSTGRES
        else redis.container_name(connection.app.name)
    )
    known = {"database": connection.database, "role": connection.role}
    try:
        service = dataservices.health(container)
    except EngineError as e:
        return ConnectionState(
            connection.name, connection.target, "unknown", **known, error=e.message
        )
    if connection.target != ServiceConnection.Target.POSTGRES or service != "healthy":
        return ConnectionState(connection.name, connection.target, service, **known)
    try:
        role = postgres.literal(connection.role)
        login = postgres.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = {role}")
        sessions = postgres.psql("SELECT count(*) FROM pg_stat_activity")
        most = postgres.psql("SHOW max_connections")
        exists = postgres.database_exists(connection.database)
    except EngineError as e:
        return ConnectionState(
            connection.name, connection.target, service, **known, error=e.message
        )
    return ConnectionState(
        connection.name,
        connection.target,
        service,
        **known,
        can_login=login == "t",
        database_exists=exists,
        sessions=int(sessions or 0),
        max_sessions=int(most or 0),
    )


def repair(app: WebApp, name: str) -> str:
    """The one-click fix: the service started (or made again on its volume)
    and the role and database made as the connection says, with its password.
    Never drops anything."""
    connection = get(app, name)
    try:
        if connection.target == ServiceConnection.Target.POSTGRES:
            postgres.ensure_running()
            postgres.create_database(connection.database, connection.password)
        else:
            redis.ensure_running(app.name, connection.password)
    except EngineError as e:
        raise ConnectionProblem(
            f"The {connection.target} service could not be repaired: {e.message}",
            code="ServiceUnavailable",
            status=503,
        ) from e
    return f"{connection.get_target_display()} is running and {connection.name} is set up again."


def retire_app(sender, instance: WebApp, **kwargs) -> None:
    """pre_delete of an app: its PostgreSQL database is kept (as az webapp
    delete keeps the server's databases) but renamed, its role locked, so an
    app made later with the same name starts clean."""
    pending.forget(instance.name)
    connection = instance.service_connections.filter(
        target=ServiceConnection.Target.POSTGRES
    ).first()
    if connection is None:
        return
    try:
        postgres.ensure_running()
        kept = postgres.retire(connection.database, timezone.now().strftime("%Y%m%d%H%M%S"))
    except EngineError as e:
        logger.error("The database of deleted app %s was not retired: %s", instance.name, e)
        return
    logger.info("Deleted app %s: its database is kept as %s", instance.name, kept)
