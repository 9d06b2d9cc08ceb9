"""The front proxy end to end: Berth's own nginx on free ports on 127.0.0.1,
in front of small HTTP servers running in this process."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.proxy import nginx

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(
        not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
        reason="needs nginx (scripts/ensure-nginx.sh installs it)",
    ),
]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """An app stand-in: answers with its name and the headers it received."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

        class Echo(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(handler) -> None:  # noqa: N805
                body = json.dumps({"upstream": tag, "headers": dict(handler.headers)}).encode()
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        # Refuse new connections at once, as a stopped container does;
        # shutdown() alone would keep accepting for up to half a second.
        with contextlib.suppress(OSError):
            self.server.socket.shutdown(socket.SHUT_RDWR)
        self.server.socket.close()
        self.server.shutdown()


@pytest.fixture
def upstreams() -> Iterator[list[Upstream]]:
    made = [Upstream("blue"), Upstream("green")]
    yield made
    for u in made:
        u.close()


@pytest.fixture
def proxy(settings, tmp_path) -> Iterator[object]:
    settings.DATA_DIR = tmp_path
    settings.BERTH_APPS_DOMAIN = "localhost"
    settings.BERTH_PROXY_MODE = "managed"
    settings.BERTH_PROXY_LISTEN = "127.0.0.1"
    settings.BERTH_PROXY_HTTP_PORT = free_port()
    settings.BERTH_PROXY_HTTPS_PORT = free_port()
    settings.BERTH_PROXY_WORKERS = 2
    settings.BERTH_TLS_CERT = settings.BERTH_TLS_KEY = ""
    try:
        nginx.ensure_running()
        yield settings
    finally:
        nginx.stop()


class _AppHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 that asks for (and checks) the app's host name."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def get(settings, host: str, https: bool = False, headers: dict | None = None, verify: bool = True):
    if https:
        context = ssl.create_default_context(cafile=str(nginx.layout().tls / "cert.pem"))
        if not verify:
            # The certificate names routed apps only: an unknown one can't match.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = _AppHTTPS(host, settings.BERTH_PROXY_HTTPS_PORT, timeout=5, context=context)
        conn.request("GET", "/", headers=headers or {})
    else:
        conn = http.client.HTTPConnection("127.0.0.1", settings.BERTH_PROXY_HTTP_PORT, timeout=5)
        conn.request("GET", "/", headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


def test_it_runs_its_own_nginx_under_the_data_folder(proxy, tmp_path):
    pid = nginx.master_pid()
    assert pid
    assert str(tmp_path / "proxy") in Path(f"/proc/{pid}/cmdline").read_text()
    assert nginx.status().running


def test_it_routes_an_app_by_host_name(proxy, upstreams):
    nginx.set_route("myapp", upstreams[0].address)
    status, body = get(proxy, "myapp.localhost", headers={"X-Forwarded-For": "6.6.6.6"})
    assert status == 200
    seen = json.loads(body)
    assert seen["upstream"] == "blue"
    h = seen["headers"]
    assert h["Host"] == "myapp.localhost"
    assert h["X-Forwarded-Proto"] == "http"
    assert h["X-Forwarded-Host"] == "myapp.localhost"
    assert h["X-Forwarded-For"] == "127.0.0.1"  # the client's own claim is not passed on
    assert h["X-Real-IP"] == "127.0.0.1"


def test_it_terminates_https_with_a_certificate_for_the_app(proxy, upstreams):
    nginx.set_route("myapp", upstreams[0].address)
    status, body = get(proxy, "myapp.localhost", https=True)
    assert status == 200
    h = json.loads(body)["headers"]
    assert h["X-Forwarded-Proto"] == "https"
    assert h["X-Forwarded-Host"] == f"myapp.localhost:{proxy.BERTH_PROXY_HTTPS_PORT}"


def test_it_passes_websocket_upgrades_through(proxy, upstreams):
    nginx.set_route("myapp", upstreams[0].address)
    _, body = get(
        proxy, "myapp.localhost", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    h = json.loads(body)["headers"]
    assert h["Upgrade"] == "websocket"
    assert h["Connection"] == "upgrade"


def test_it_answers_an_unknown_host_with_a_clear_404(proxy, upstreams):
    nginx.set_route("myapp", upstreams[0].address)
    for https in (False, True):
        status, body = get(proxy, "nosuch.localhost", https=https, verify=False)
        assert status == 404
        assert "No app named nosuch here" in body


def test_it_does_not_echo_odd_host_names_into_the_404_page(proxy):
    status, body = get(proxy, "<script>x</script>.localhost")
    assert status in (400, 404)
    assert "<script>x" not in body


def test_it_shows_a_friendly_page_when_the_app_is_down(proxy):
    nginx.set_route("myapp", f"127.0.0.1:{free_port()}")  # nothing listens there
    status, body = get(proxy, "myapp.localhost")
    assert status == 502
    assert "myapp is not running" in body
    assert "nginx" not in body


def test_it_stops_routing_a_removed_app(proxy, upstreams):
    nginx.set_route("myapp", upstreams[0].address)
    nginx.remove_route("myapp")
    status, body = get(proxy, "myapp.localhost")
    assert status == 404
    assert "No app named myapp here" in body


def test_it_swaps_upstreams_without_failing_a_request(proxy, upstreams, capsys):
    blue, green = upstreams
    nginx.set_route("myapp", blue.address)
    results: list[str] = []
    failures: list[str] = []
    done = threading.Event()

    def hammer() -> None:
        while not done.is_set():
            try:
                status, body = get(proxy, "myapp.localhost")
                if status == 200:
                    results.append(json.loads(body)["upstream"])
                else:
                    failures.append(f"HTTP {status}")
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))

    clients = [threading.Thread(target=hammer) for _ in range(2)]
    for c in clients:
        c.start()
    swaps = []
    try:
        time.sleep(0.3)
        for target in (green, blue, green, blue, green):
            started = time.monotonic()
            nginx.set_route("myapp", target.address)
            swaps.append(time.monotonic() - started)
            time.sleep(0.3)
    finally:
        done.set()
        for c in clients:
            c.join(10)
    with capsys.disabled():
        print(
            f"\n[proxy swap] {len(results)} requests during 5 swaps, {len(failures)} failed; "
            f"set_route took {min(swaps) * 1000:.0f}-{max(swaps) * 1000:.0f} ms "
            f"(mean {sum(swaps) / len(swaps) * 1000:.0f} ms)"
        )
    assert failures == []
    assert len(results) > 50
    assert results[-1] == "green"
    # Once set_route has returned, new connections reach the new upstream.
    assert all(get(proxy, "myapp.localhost")[1].count("green") for _ in range(10))


def test_it_restarts_cleanly_and_keeps_its_routes(proxy, upstreams):
    nginx.set_route("myapp", upstreams[0].address)
    assert nginx.stop() is True
    assert nginx.master_pid() is None
    assert nginx.stop() is False
    nginx.ensure_running()
    assert get(proxy, "myapp.localhost")[0] == 200


def test_it_explains_a_port_in_use(proxy):
    nginx.stop()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", proxy.BERTH_PROXY_HTTP_PORT))
        busy.listen()
        with pytest.raises(nginx.ProxyError, match="BERTH_PROXY_HTTP_PORT"):
            nginx.ensure_running()


def test_the_proxy_service_applies_configs_written_elsewhere(proxy, upstreams, tmp_path):
    """compose.yaml: `manage.py proxy run` owns nginx; the worker only writes."""
    nginx.stop()
    env = {
        **os.environ,
        "BERTH_DATA_DIR": str(tmp_path),
        "BERTH_PROXY_HTTP_PORT": str(proxy.BERTH_PROXY_HTTP_PORT),
        "BERTH_PROXY_HTTPS_PORT": str(proxy.BERTH_PROXY_HTTPS_PORT),
        "BERTH_PROXY_WORKERS": "1",
        "BERTH_APPS_DOMAIN": "localhost",
    }
    service = subprocess.Popen(
        [sys.executable, "manage.py", "proxy", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proxy.BERTH_PROXY_MODE = "external"
        proxy.BERTH_PROXY_APPLY_TIMEOUT = 20
        nginx.set_route("myapp", upstreams[1].address)  # waits until the service applied it
        # Applied means listening: no retry on a refused connection.
        status, body = get(proxy, "myapp.localhost")
        assert status == 200
        assert json.loads(body)["upstream"] == "green"
        assert nginx.status().running
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(15)
    assert service.returncode == 0


def test_the_old_upstream_may_stop_once_set_route_returns(proxy, capsys):
    """The deploy pipeline stops the old container right after the switch."""
    results: list[str] = []
    failures: list[str] = []
    done = threading.Event()

    def hammer() -> None:
        while not done.is_set():
            try:
                status, body = get(proxy, "myapp.localhost")
                if status == 200:
                    results.append(json.loads(body)["upstream"])
                else:
                    failures.append(f"HTTP {status}")
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))

    old = Upstream("v0")
    nginx.set_route("myapp", old.address)
    clients = [threading.Thread(target=hammer) for _ in range(2)]
    for c in clients:
        c.start()
    try:
        for version in range(1, 6):
            time.sleep(0.2)
            new = Upstream(f"v{version}")
            nginx.set_route("myapp", new.address)
            old.close()  # no grace period at all
            old = new
        time.sleep(0.2)
    finally:
        done.set()
        for c in clients:
            c.join(10)
        old.close()
    with capsys.disabled():
        print(f"\n[proxy stop-old] {len(results)} requests, 5 releases, {len(failures)} failed")
    assert failures == []
    assert results[-1] == "v5"


def test_an_https_only_app_redirects_plain_http_and_keeps_its_choice(proxy, upstreams):
    nginx.set_route("secure", upstreams[0].address)
    nginx.set_https_only("secure", True)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.BERTH_PROXY_HTTP_PORT, timeout=5)
    conn.request("GET", "/path?q=1", headers={"Host": "secure.localhost"})
    response = conn.getresponse()
    conn.close()
    assert response.status == 301
    port = proxy.BERTH_PROXY_HTTPS_PORT
    assert response.getheader("Location") == f"https://secure.localhost:{port}/path?q=1"
    status, body = get(proxy, "secure.localhost", https=True)
    assert status == 200 and json.loads(body)["upstream"] == "blue"

    # Stopped and started again (route removed, then set): still HTTPS only.
    nginx.remove_route("secure")
    nginx.set_route("secure", upstreams[1].address)
    status, _ = get(proxy, "secure.localhost")
    assert status == 301
    nginx.set_https_only("secure", False)
    status, body = get(proxy, "secure.localhost")
    assert status == 200 and json.loads(body)["upstream"] == "green"
