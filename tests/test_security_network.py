"""Finding 5 of the security probe, against the real engine: app containers
reach neither each other nor the host's listeners; the proxy's way in (the
app's port on the host's 127.0.0.1) still works.

Two apps are deployed once for the module; each attack runs from app A's
container (docker exec through the engine layer) against app B or the host.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from django.contrib.auth.models import User
from django.test import override_settings

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.runtimes import image_tag
from apps.lifecycle import appnet, reconcile, steps
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app, zip_files
from tests.security_helpers import table_fixture

# django_db: the module's apps are deployed once, outside any test's transaction
# (the database must exist by then), and removed at the end.
pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db]

table = table_fixture("Network isolation: app to app, app to host")

# A WSGI app with no requirements: the build installs nothing.
APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"NAME"]
"""

# Run in app A's container: connect, print what happened as JSON.
CONNECT = """
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=3).close()
    print(json.dumps({"connected": True}))
except OSError as e:
    print(json.dumps({"connected": False, "error": type(e).__name__}))
"""

DEPLOY_SETTINGS = {
    "BERTH_PROXY_ROUTING": False,
    "BERTH_START_TIME_LIMIT": 60,
    "BERTH_BUILD_TIMEOUT": 300,
}


@dataclass(frozen=True)
class Running:
    app: str
    container: str
    host_port: int
    deployment: int


@dataclass(frozen=True)
class Pair:
    a: Running
    b: Running


def _deploy(owner: User, prefix: str) -> Running:
    app = WebApp.objects.create(name=f"{prefix}-{secrets.token_hex(3)}", owner=owner)
    files = {"app.py": APP.replace("NAME", app.name)}
    d = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    return Running(app.name, d.container, d.host_port, d.pk)


@pytest.fixture(scope="module")
def pair(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Pair]:
    """Apps A and B, deployed and serving (their rows are not needed after)."""
    names: list[str] = []
    data = tmp_path_factory.mktemp("network")
    try:
        with django_db_blocker.unblock(), override_settings(DATA_DIR=data, **DEPLOY_SETTINGS):
            owner = User.objects.create_user(f"net-{secrets.token_hex(3)}")
            a = _deploy(owner, "neta")
            names.append(a.app)
            b = _deploy(owner, "netb")
            names.append(b.app)
        yield Pair(a, b)
    finally:
        for name in names:
            cleanup_app(name)
            with contextlib.suppress(Exception):
                appnet.remove(name)
        with django_db_blocker.unblock():
            WebApp.objects.filter(name__in=names).delete()


def _connect_from(container: str, host: str, port: int) -> dict:
    code, out = engine.exec_quick(container, ["python3", "-c", CONNECT, host, str(port)])
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


def _get(port: int) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{port}/", timeout=10)


def _address(container: str) -> tuple[str, str]:
    """The container's (IP address, gateway) on its one network."""
    networks = engine.client().api.inspect_container(container)["NetworkSettings"]["Networks"]
    (settings,) = networks.values()
    return settings["IPAddress"], settings["Gateway"]


def test_an_app_cannot_reach_another_apps_container_address(table, pair):
    with table.attack("5", "app A connects to app B's container IP, port 8000") as row:
        ip, _ = _address(pair.b.container)
        answer = _connect_from(pair.a.container, ip, steps.APP_PORT)
        assert answer["connected"] is False, answer
        row.outcome = f"refused: {answer['error']} (B's network is not A's)"


def test_an_app_cannot_reach_another_app_by_container_name(table, pair):
    with table.attack("5", "app A connects to app B by container name, port 8000") as row:
        answer = _connect_from(pair.a.container, pair.b.container, steps.APP_PORT)
        assert answer["connected"] is False, answer
        row.outcome = f"refused: {answer['error']} (the name does not resolve outside B's network)"


def test_an_app_cannot_reach_another_apps_published_port_at_its_gateway(table, pair):
    with table.attack("5", "app A connects to its gateway at B's published host port") as row:
        _, gateway = _address(pair.a.container)
        answer = _connect_from(pair.a.container, gateway, pair.b.host_port)
        assert answer["connected"] is False, answer
        row.outcome = f"refused: {answer['error']} (published on 127.0.0.1 only)"


@pytest.fixture
def host_listener() -> Iterator[socket.socket]:
    """A listener on the host's 0.0.0.0, on a free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def _accepted(listener: socket.socket) -> int:
    """How many connections reached the listener (it never blocks)."""
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_an_app_cannot_reach_a_host_listener_on_all_addresses(table, pair, host_listener):
    port = host_listener.getsockname()[1]
    with table.attack("5", "app A connects to a host listener on 0.0.0.0 via its gateway") as row:
        own_gateway = _address(pair.a.container)[1]
        other_gateway = _address(pair.b.container)[1]
        answers = {
            gw: _connect_from(pair.a.container, gw, port) for gw in (own_gateway, other_gateway)
        }
        # The exec has returned: a connection that got through is queued by now.
        assert _accepted(host_listener) == 0, answers
        assert not any(a["connected"] for a in answers.values()), answers
        errors = sorted({a["error"] for a in answers.values()})
        row.outcome = f"refused: {', '.join(errors)}; the listener saw no connection"


def test_the_proxy_path_still_reaches_the_app(table, pair):
    with table.attack("5", "(allowed) the proxy's way in: the app's port on 127.0.0.1") as row:
        answer = _get(pair.a.host_port)
        assert (answer.status_code, answer.text) == (200, pair.a.app)
        networks = engine.container_networks(pair.a.container)
        assert networks == [appnet.network_name(pair.a.app)]
        row.outcome = f"answered 200 from {pair.a.container}, alone on {networks[0]}"


def test_nothing_of_an_app_is_published_beyond_127_0_0_1(pair):
    for running in (pair.a, pair.b):
        ports = engine.client().api.inspect_container(running.container)["HostConfig"]
        bindings = [b for spec in ports["PortBindings"].values() for b in spec]
        assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings


def test_the_app_network_has_a_bridge_the_host_rule_matches(pair):
    name = appnet.network_name(pair.a.app)
    network = engine.client().api.inspect_network(name)
    bridge = network["Options"]["com.docker.network.bridge.name"]
    assert bridge == appnet.bridge_name(pair.a.app)
    assert bridge.startswith(appnet.BRIDGE_PREFIX) and len(bridge) <= 15
    assert network["Labels"]["io.berth.app"] == pair.a.app


def test_reconcile_moves_an_app_off_the_shared_network(make_app, deploy_settings, monkeypatch):
    app = make_app("netold")
    with monkeypatch.context() as old_berth:
        # As an older Berth started it: on the one network every app shared.
        def shared(app_name: str, python_version: str) -> str:
            engine.ensure_network(appnet.SHARED_NETWORK)
            return appnet.SHARED_NETWORK

        old_berth.setattr(appnet, "ensure", shared)
        d = services.run_deployment(
            services.create_deployment(app, zip_files({"app.py": APP.replace("NAME", "old")})).pk
        )
    assert d.status == Deployment.Status.SUCCESS, d.log
    assert engine.container_networks(d.container) == [appnet.SHARED_NETWORK]

    done = reconcile.reconcile(app)

    active = lifecycle_ops.active_deployment(app)
    assert active.container != d.container
    assert engine.container_networks(active.container) == [appnet.network_name(app.name)]
    assert not engine.container_exists(d.container)
    assert _get(active.host_port).text == "old"
    assert done == [f"{app.name} moved to network berth-app-{app.name}: {active.container}"]
    assert reconcile.reconcile(app) == []  # moved once


def test_an_app_network_takes_a_small_subnet_from_the_pool(make_app, deploy_settings):
    deploy_settings.BERTH_APP_SUBNET_POOL = "10.213.0.0/16"
    app = make_app("netpool")
    d = services.run_deployment(
        services.create_deployment(app, zip_files({"app.py": APP.replace("NAME", "pool")})).pk
    )
    assert d.status == Deployment.Status.SUCCESS, d.log
    network = engine.client().api.inspect_network(appnet.network_name(app.name))
    (config,) = network["IPAM"]["Config"]
    assert config["Subnet"].startswith("10.213.") and config["Subnet"].endswith("/27")
    assert _get(d.host_port).text == "pool"


def test_the_host_rule_is_written_once_however_often_it_is_applied(settings):
    image = image_tag("3.11")
    engine.guard_host(image, appnet.BRIDGE_PREFIX, [1])  # an older proxy port
    for _ in range(2):
        engine.guard_host(image, appnet.BRIDGE_PREFIX, [settings.BERTH_PROXY_HTTP_PORT])
    rules = engine.host_rules(image)
    assert rules.count("-A INPUT -i berth+ -j BERTH-APPS") == 1, rules
    chain = [r for r in rules if r.startswith("-A BERTH-APPS")]
    assert chain[0] == "-A BERTH-APPS -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
    allowed = f"-A BERTH-APPS -p tcp -m tcp --dport {settings.BERTH_PROXY_HTTP_PORT} -j RETURN"
    assert allowed in chain
    assert not any("--dport 1 " in r for r in chain), chain
    assert chain[-2:] == [
        "-A BERTH-APPS -p tcp -j REJECT --reject-with tcp-reset",
        "-A BERTH-APPS -j DROP",
    ]
    assert len(chain) == len(set(chain)), chain


# A build's PRE_BUILD_COMMAND: connect to app B and to the host's listener at
# the build container's gateway; print one PROBE line a target.
BUILD_PROBE = """
import json, socket, sys

def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            return socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])

for host, port in ((sys.argv[1], 8000), (gateway(), int(sys.argv[2]))):
    try:
        socket.create_connection((host, port), timeout=3).close()
        connected = True
    except OSError:
        connected = False
    print("PROBE " + json.dumps({"host": host, "port": port, "connected": connected}))
"""


def test_a_build_cannot_reach_another_app_or_a_host_listener(table, pair, host_listener, tmp_path):
    port = host_listener.getsockname()[1]
    with table.attack(
        "5", "app C's PRE_BUILD_COMMAND connects to app B and a host listener"
    ) as row:
        b_address = _address(pair.b.container)[0]
        with override_settings(DATA_DIR=tmp_path, **DEPLOY_SETTINGS):
            owner = User.objects.create_user(f"netc-{secrets.token_hex(3)}")
            app = WebApp.objects.create(name=f"netc-{secrets.token_hex(3)}", owner=owner)
            try:
                config.set_app_settings(
                    app,
                    [
                        config.SettingInput(
                            "PRE_BUILD_COMMAND", f"python3 probe.py {b_address} {port}"
                        )
                    ],
                    restart=False,
                )
                files = {"app.py": APP.replace("NAME", app.name), "probe.py": BUILD_PROBE}
                d = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
                assert d.status == Deployment.Status.SUCCESS, d.log
            finally:
                cleanup_app(app.name)
                with contextlib.suppress(Exception):
                    appnet.remove(app.name)
        probes = [
            json.loads(line.split("PROBE ", 1)[1])
            for line in d.log.splitlines()
            if "PROBE {" in line
        ]
        assert len(probes) == 2, d.log
        assert _accepted(host_listener) == 0, probes
        assert not any(p["connected"] for p in probes), probes
        row.outcome = "refused: neither app B's address nor the host listener answered the build"
