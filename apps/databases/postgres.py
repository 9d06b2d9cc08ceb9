"""Berth's PostgreSQL service: one container for every app connected to it,
a database and a role of its own for each app (pg_hba's "sameuser": a role
reaches only the database of its name), TLS only, scram-sha-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from django.conf import settings

from apps.databases import tls
from apps.engine import buildstate, dataservices
from apps.engine import client as engine
from apps.engine.errors import EngineError

CONTAINER = HOST = "berth-postgres"
VOLUME = "berth-postgres-data"
PORT = 5432
# Where the shared services start before they join the apps' networks:
# containers on it cannot talk to each other (no inter-container traffic),
# and its bridge is named berth* so the host rule closes the host to it.
SERVICES_NETWORK = "berth-services"
SERVICES_BRIDGE = "berthservices"
# Names PostgreSQL keeps for itself.
RESERVED = frozenset({"postgres", "template0", "template1", "public"})


def ensure_services_network() -> str:
    engine.ensure_network(
        SERVICES_NETWORK,
        labels={"io.berth.role": "services-network"},
        options={
            "com.docker.network.bridge.name": SERVICES_BRIDGE,
            "com.docker.network.bridge.enable_icc": "false",
        },
        subnet_pool=settings.BERTH_APP_SUBNET_POOL,
    )
    return SERVICES_NETWORK


def ensure_running(progress: buildstate.Progress | None = None) -> None:
    """The service's image built, its container up and healthy."""
    dataservices.ensure_image("postgres", progress)
    dataservices.ensure_service(
        dataservices.ServiceContainer(
            name=CONTAINER,
            kind="postgres",
            volume=VOLUME,
            volume_target="/var/lib/postgresql/data",
            tls_dir=tls.server_dir(HOST),
            network=ensure_services_network(),
            memory_mb=settings.BERTH_POSTGRES_MEMORY_MB,
            cpus=settings.BERTH_POSTGRES_CPUS,
            environment={
                "BERTH_MAX_CONNECTIONS": str(settings.BERTH_POSTGRES_MAX_CONNECTIONS),
                "BERTH_SHARED_BUFFERS": f"{max(settings.BERTH_POSTGRES_MEMORY_MB // 4, 16)}MB",
            },
        )
    )


def attach(network: str) -> None:
    dataservices.connect(network, CONTAINER)


def restart() -> None:
    engine.stop_container(CONTAINER)
    engine.start_container(CONTAINER)
    dataservices.wait_healthy(CONTAINER)


# SQL, as the superuser over the container's socket


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def psql(sql: str, *, database: str = "postgres") -> str:
    """One statement through psql in the container; its output (-tA)."""
    code, output = engine.exec_quick(
        CONTAINER, ["berth-psql", "-tA", "-d", database, "-c", sql], user="postgres"
    )
    if code != 0:
        raise EngineError(f"PostgreSQL refused: {output.strip()[-500:]}")
    return output.strip()


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """What PostgreSQL stores for a scram-sha-256 password (RFC 5802/7677):
    the role is made with it, so the password itself never reaches the
    server's logs or the engine's process list."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def create_database(name: str, password: str) -> bool:
    """A role and a database called `name`, the role owning it and the only
    one (besides the superuser) that may connect. A role or database kept
    from an earlier connection is reused (its data too), with the new
    password. True when the database was made now."""
    verifier = literal(scram_verifier(password))
    if psql(f"SELECT 1 FROM pg_roles WHERE rolname = {literal(name)}") == "1":
        psql(f"ALTER ROLE {ident(name)} WITH LOGIN PASSWORD {verifier}")
    else:
        psql(f"CREATE ROLE {ident(name)} WITH LOGIN PASSWORD {verifier}")
    made = psql(f"SELECT 1 FROM pg_database WHERE datname = {literal(name)}") != "1"
    if made:
        psql(f"CREATE DATABASE {ident(name)} OWNER {ident(name)}")
    psql(f"REVOKE ALL ON DATABASE {ident(name)} FROM PUBLIC")
    psql(f"GRANT ALL ON DATABASE {ident(name)} TO {ident(name)}")
    return made


def database_exists(name: str) -> bool:
    return psql(f"SELECT 1 FROM pg_database WHERE datname = {literal(name)}") == "1"


def disable(name: str) -> None:
    """The role may no longer log in; its sessions end. The database stays."""
    psql(f"ALTER ROLE {ident(name)} WITH NOLOGIN")
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {literal(name)}")


def drop(name: str) -> None:
    """The database and its role, gone."""
    psql(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")
    psql(f"DROP ROLE IF EXISTS {ident(name)}")


# Dumps and restores, run as postgres in the service container

PGBIN = '"$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"'


def _run(script: str, *args: str) -> str:
    code, output = engine.exec_quick(CONTAINER, ["sh", "-c", script, "sh", *args], user="postgres")
    if code != 0:
        raise EngineError(output.strip()[-500:] or f"exit code {code}")
    return output


def dump(database: str, dest: Path) -> int:
    """pg_dump's custom format of `database` into `dest`, verified first:
    pg_restore reads it back in the container. Its size."""
    inside = f"/tmp/berth-dump-{secrets.token_hex(6)}"
    try:
        _run(f'{PGBIN}/pg_dump -Fc -h /run/postgresql -U postgres -f "$1" "$2"', inside, database)
        _run(f'{PGBIN}/pg_restore --list "$1" > /dev/null', inside)
        return dataservices.copy_out(CONTAINER, inside, dest)
    finally:
        engine.exec_quick(CONTAINER, ["rm", "-f", inside], user="postgres")


def restore(database: str, role: str, source: Path) -> None:
    """Replace what the dump holds in `database` (pg_restore --clean), the
    objects owned by `role`."""
    name = f"berth-restore-{secrets.token_hex(6)}"
    dataservices.copy_in(CONTAINER, source, "/tmp", name, owner=postgres_uid())
    try:
        _run(
            f'{PGBIN}/pg_restore --clean --if-exists --no-owner --no-privileges --role="$1" '
            '-h /run/postgresql -U postgres -d "$2" "$3"',
            role,
            database,
            f"/tmp/{name}",
        )
    finally:
        engine.exec_quick(CONTAINER, ["rm", "-f", f"/tmp/{name}"], user="postgres")


def postgres_uid() -> int:
    code, output = engine.exec_quick(CONTAINER, ["id", "-u", "postgres"])
    return int(output.strip()) if code == 0 and output.strip().isdigit() else 0


def retire(name: str, stamp: str) -> str:
    """Keep the database of a deleted app out of reach of a later app of the
    same name: its sessions ended, the role's login and password gone, both
    renamed to `del-<stamp>-<name>`. Its new name ("" when it had none)."""
    if not database_exists(name):
        return ""
    kept = f"del-{stamp}-{name}"[:63]
    disable(name)
    psql(f"ALTER ROLE {ident(name)} WITH PASSWORD NULL")
    psql(f"ALTER ROLE {ident(name)} RENAME TO {ident(kept)}")
    psql(f"ALTER DATABASE {ident(name)} RENAME TO {ident(kept)}")
    return kept
