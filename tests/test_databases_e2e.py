"""Database services against the real engine: an app connected to Berth's
PostgreSQL and to its own Redis, deployed, reads and writes over TLS with
the settings Service Connector's names carry, verifying Berth's CA (and
refusing another CA), and cannot reach a database not its own."""

from __future__ import annotations

import shutil
from unittest import mock

import pytest
import requests

from apps.databases import backups, connecting, connections, pending, postgres, redis, tasks
from apps.deployments import services, teardown
from apps.diagnostics import registry
from apps.diagnostics import services as fixes
from apps.diagnostics.evidence import collect
from apps.engine import client as engine
from apps.engine import dataservices
from apps.engine.versions import image_tag
from apps.lifecycle import appnet, storage
from apps.lifecycle.containers import RUN_AS
from apps.webapps.models import AppSetting
from tests.deploy_helpers import zip_files

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings"),
]

APP = """
import os
import socket
import ssl
from urllib.parse import urlparse

import psycopg
import redis
from flask import Flask, jsonify

app = Flask(__name__)
OTHER_CA = "/etc/ssl/certs/ca-certificates.crt"  # public CAs, not Berth's


def refused(connect):
    try:
        connect()
    except Exception as e:
        return type(e).__name__ + ": " + str(e)
    return "accepted"


@app.get("/")
def index():
    return "ok"


@app.get("/pg")
def pg():
    dsn = os.environ["AZURE_POSTGRESQL_CONNECTIONSTRING"]
    out = {}
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes (body) VALUES (%s)", ["written over TLS"])
        out["rows"] = [r[0] for r in conn.execute("SELECT body FROM notes ORDER BY id")]
        out["ssl"] = bool(conn.info.pgconn.ssl_in_use)
        out["user"] = conn.info.user
    # sslmode=require verifies the server against PGSSLROOTCERT (Berth's CA);
    # verify-full also checks the host name in its certificate.
    with psycopg.connect(dsn + " sslmode=verify-full", connect_timeout=10) as conn:
        out["verify_full"] = conn.execute("SELECT 1").fetchone()[0]
    out["wrong_ca"] = refused(
        lambda: psycopg.connect(dsn + f" sslrootcert={OTHER_CA}", connect_timeout=10)
    )
    out["plain"] = refused(lambda: psycopg.connect(dsn + " sslmode=disable", connect_timeout=10))
    other = dsn.replace("dbname=" + out["user"], "dbname=postgres")
    out["other_database"] = refused(lambda: psycopg.connect(other, connect_timeout=10))
    return jsonify(out)


@app.get("/redis")
def cache():
    url = os.environ["AZURE_REDIS_CONNECTIONSTRING"]
    client = redis.Redis.from_url(url, ssl_check_hostname=True, socket_timeout=10)
    client.incr("visits")
    out = {"visits": int(client.get("visits"))}
    # The default context trusts SSL_CERT_FILE (the host's CAs and Berth's) and
    # checks the name; a context with only other CAs refuses the server.
    out["tls"] = handshake(url, ssl.create_default_context())
    out["wrong_ca"] = refused(lambda: handshake(url, ssl.create_default_context(cafile=OTHER_CA)))
    return jsonify(out)


def handshake(url, context):
    host = urlparse(url).hostname
    with socket.create_connection((host, 6380), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.version()
"""


def get(deployment, path: str) -> dict:
    session = requests.Session()
    session.trust_env = False
    answer = session.get(f"http://127.0.0.1:{deployment.host_port}{path}", timeout=60)
    if answer.status_code != 200:
        logs = engine.container_logs(deployment.container, tail=40, timestamps=False)
        pytest.fail(f"GET {path}: {answer.status_code}\n" + "\n".join(logs))
    return answer.json()


@pytest.fixture
def tidy_services():
    made: list[str] = []
    yield made
    for app_name in made:
        shutil.rmtree(backups.backups_dir(app_name), ignore_errors=True)
        redis.remove(app_name, keep_data=False)
        if postgres.database_exists(app_name):
            postgres.drop(app_name)


def test_an_app_reads_and_writes_postgresql_and_redis_over_verified_tls(make_app, tidy_services):
    app = make_app("dbs-e2e")
    tidy_services.append(app.name)
    pg = connections.create(app, "postgres-flexible", client_type="python")
    cache = connections.create(app, "redis", client_type="django")
    assert dataservices.health(postgres.CONTAINER) == "healthy"
    assert dataservices.health(redis.container_name(app.name)) == "healthy"
    for name in (postgres.CONTAINER, redis.container_name(app.name)):
        attrs = engine.client().api.inspect_container(name)
        assert not attrs["HostConfig"].get("PortBindings"), f"{name} publishes a port"
        assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert attrs["HostConfig"]["Memory"] > 0

    files = {
        "app.py": APP,
        "requirements.txt": "flask\npsycopg[binary]\nredis\n",
    }
    deployment = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert deployment.status == "success", deployment.log
    assert pg.password not in deployment.log and cache.password not in deployment.log

    answer = get(deployment, "/pg")
    assert answer["rows"] == ["written over TLS"]
    assert answer["ssl"] is True and answer["user"] == app.name
    assert answer["verify_full"] == 1
    assert "certificate verify failed" in answer["wrong_ca"]
    assert "no encryption" in answer["plain"] or "pg_hba.conf" in answer["plain"]
    assert "pg_hba.conf" in answer["other_database"]

    assert get(deployment, "/redis")["visits"] == 1
    again = get(deployment, "/redis")
    assert again["visits"] == 2
    assert again["tls"].startswith("TLSv1.")
    assert "certificate verify failed" in again["wrong_ca"]

    # The data is the service's, not the container's: a second write keeps the first.
    assert get(deployment, "/pg")["rows"] == ["written over TLS"] * 2

    # Validate connects from the app's network with the app's settings.
    for connection in (pg, cache):
        validation = connections.validate(app, connection.name)
        assert validation.ok, validation.checks
        assert connection.password not in str(validation.checks)

    # Deleting the connection keeps the database; the role can no longer log in.
    deleted = connections.delete(app, pg.name)
    assert not deleted.warnings and postgres.database_exists(app.name)
    assert f"berth-app-{app.name}" not in engine.container_networks(postgres.CONTAINER)
    assert postgres.psql("SELECT count(*) FROM notes", database=app.name) == "2"
    assert postgres.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{app.name}'") == "f"
    with pytest.raises(connections.ConnectionProblem, match="no connection named"):
        connections.validate(app, pg.name)


def in_home(app, script: str) -> str:
    """Run a shell script as the app's user with its /home volume at /apphome."""
    code, output = engine.run_once(
        image_tag(app.python_version),
        ["sh", "-c", script],
        user=RUN_AS,
        network_disabled=True,
        # Not at /home: an empty volume mounted over the image's /home would
        # take that folder's owner (root), as the engine copies it in.
        mounts=[{"Type": "volume", "Source": storage.volume_name(app), "Target": "/apphome"}],
    )
    assert code == 0, output
    return output.strip()


def test_a_backup_restores_the_database_into_the_same_app_and_a_new_one(make_app, tidy_services):
    app = make_app("dbs-bak", app_command_line="gunicorn --workers 1 app:app")
    tidy_services.append(app.name)
    pg = connections.create(app, "postgres-flexible", client_type="django")
    storage.ensure(app, image_tag(app.python_version))
    in_home(app, "mkdir -p /apphome/data && echo kept-file > /apphome/data/note.txt")
    AppSetting.objects.create(app=app, name="OWN", value="own-secret-value-123")
    role = f'SET ROLE "{app.name}"; '
    postgres.psql(
        role + "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')",
        database=app.name,
    )

    backup = backups.create(app)
    folder = backups.backups_dir(app.name) / backup.name
    assert backup.databases == [app.name] and backup.size > 0
    assert {p.name for p in folder.iterdir()} == {
        f"{app.name}.dump",
        "config.enc",
        "manifest.json",
        "home.tar.gz",
    }
    assert backup.home_files == 1 and backup.stack == app.linux_fx_version
    for path in folder.iterdir():
        data = path.read_bytes()
        assert pg.password.encode() not in data and b"own-secret-value-123" not in data

    postgres.psql(role + "INSERT INTO notes VALUES ('after')", database=app.name)
    AppSetting.objects.filter(app=app, name="OWN").update(value="changed")
    in_home(app, "echo later > /apphome/data/later.txt")
    backups.restore(app, backup.name)
    assert in_home(app, "ls /apphome/data") == "note.txt"  # /home is as the backup has it
    [before] = [b for b in backups.list_backups(app) if b.trigger == "pre-restore"]
    assert before.home_files == 2  # what the restore replaced is kept
    assert postgres.psql("SELECT string_agg(body, ',') FROM notes", database=app.name) == "kept"
    assert AppSetting.objects.get(app=app, name="OWN").value == "own-secret-value-123"
    assert AppSetting.objects.get(app=app, name="AZURE_POSTGRESQL_PASSWORD").value == pg.password

    # A new app on another stack, never started: no volume, nothing to keep.
    other = make_app("dbs-bak2", linux_fx_version="PYTHON|3.13")
    tidy_services.append(other.name)
    backups.restore(app, backup.name, target=other)
    other.refresh_from_db()
    assert (other.linux_fx_version, other.app_command_line) == (
        app.linux_fx_version,
        "gunicorn --workers 1 app:app",
    )
    assert in_home(other, "cat /apphome/data/note.txt; stat -c %u:%g /apphome/data/note.txt") == (
        f"kept-file\n{RUN_AS}"
    )
    assert backups.list_backups(other) == []
    made = other.service_connections.get()
    assert (made.database, made.client_type) == (other.name, "django")
    assert made.password != pg.password
    assert postgres.psql("SELECT string_agg(body, ',') FROM notes", database=other.name) == "kept"
    owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'"
    assert postgres.psql(owner, database=other.name) == other.name
    assert AppSetting.objects.get(app=other, name="OWN").value == "own-secret-value-123"
    assert (
        AppSetting.objects.get(app=other, name="AZURE_POSTGRESQL_PASSWORD").value == made.password
    )


def test_the_detector_reads_the_real_state_and_its_fix_repairs_it(make_app, tidy_services):
    app = make_app("dbs-diag")
    tidy_services.append(app.name)
    connection = connections.create(app, "postgres-flexible")
    detector = registry.get("database_connection")
    assert detector.check(collect(app)) is None
    postgres.psql(f'ALTER ROLE "{app.name}" NOLOGIN')
    finding = detector.check(collect(app))
    assert finding.status == "critical" and "may not log in" in finding.cause
    fixes.apply_action(app, finding.action)
    assert connections.state(connection).can_login is True
    assert detector.check(collect(app)) is None


def test_deleting_a_connected_app_removes_its_network_and_redis_and_retires_its_database(
    make_app, tidy_services
):
    app = make_app("dbs-del")
    tidy_services.append(app.name)
    connections.create(app, "postgres-flexible")
    connections.create(app, "redis")
    network = appnet.ensure(app.name, app.python_version)
    connections.container_extras(app.name, network)  # as the app's container start does
    assert network in engine.container_networks(postgres.CONTAINER)

    teardown.delete_app(app)
    assert not engine.find_networks({"io.berth.app": app.name})
    assert network not in engine.container_networks(postgres.CONTAINER)
    assert dataservices.health(postgres.CONTAINER) == "healthy"
    assert dataservices.health(redis.container_name(app.name)) == "missing"
    # Kept, as az webapp delete keeps the server's databases, but out of reach
    # of a later app of the same name.
    assert not postgres.database_exists(app.name)
    kept = postgres.psql(f"SELECT datname FROM pg_database WHERE datname LIKE 'del-%-{app.name}'")
    assert kept.startswith("del-")
    login = postgres.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{kept}'")
    assert login == "f"
    postgres.drop(kept)


def test_a_connection_waiting_for_its_image_is_made_by_the_worker_or_says_why_not(
    make_app, tidy_services, settings
):
    app = make_app("dbs-bg")
    tidy_services.append(app.name)
    # An image that cannot be made: a suite of its own, on a base from a
    # registry at 127.0.0.1 that refuses the connection.
    settings.BERTH_SERVICE_SUITE = "berthnone"
    settings.BERTH_RUNTIME_SOURCE = "pull"
    settings.BERTH_SERVICE_BASE_IMAGE = "127.0.0.1:9/berth-none:{suite}"
    with mock.patch.object(tasks.connect, "delay", autospec=True) as queued:
        assert isinstance(connecting.connect(app, "redis"), pending.Pending)
    tasks.connect(**queued.call_args.kwargs)  # what the worker runs
    state = pending.read(app.name, "redis")
    assert (state.status, state.code) == ("failed", "ServiceUnavailable"), state
    assert "127.0.0.1:9" in state.error and not app.service_connections.exists()

    # The image is there (built once): the worker's path makes the connection.
    settings.BERTH_SERVICE_SUITE = ""
    with (
        mock.patch.object(connections, "needs_build", autospec=True, return_value=True),
        mock.patch.object(tasks.connect, "delay", autospec=True) as queued,
    ):
        connecting.connect(app, "redis")
    tasks.connect(**queued.call_args.kwargs)
    state = pending.read(app.name, "redis")
    assert (state.status, state.percent) == ("done", 100), state
    assert app.service_connections.get().host == redis.container_name(app.name)
    assert dataservices.health(redis.container_name(app.name)) == "healthy"
