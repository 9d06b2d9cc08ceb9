"""Changing routes: tested before applied, one change at a time, errors that
say what to do. nginx here is a stand-in script; test_proxy_nginx.py runs
the real one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.proxy import nginx, process
from apps.proxy.errors import ProxyError

FAKE_NGINX = """#!/bin/sh
echo "$@" >> "{dir}/calls"
case " $* " in
  *" -t "*)
    sleep 0.05
    if [ -e "{dir}/refuse" ]; then
      echo 'nginx: [emerg] unknown directive "bogus" in candidate:3' >&2
      exit 1
    fi ;;
esac
exit 0
"""


@pytest.fixture
def fake_nginx(settings, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nginx"
    script.write_text(FAKE_NGINX.format(dir=bin_dir))
    script.chmod(0o755)
    settings.DATA_DIR = tmp_path / "data"
    settings.BERTH_NGINX = str(script)
    settings.BERTH_APPS_DOMAIN = "localhost"
    settings.BERTH_TLS_CERT = settings.BERTH_TLS_KEY = ""
    settings.BERTH_PROXY_MODE = "managed"
    # No real master: record what would be started or reloaded.
    events: list[str] = []
    monkeypatch.setattr(process, "master_pid", lambda: 4242)
    monkeypatch.setattr(process, "reload_nginx", lambda pid, text: events.append("reload") or 0.0)
    monkeypatch.setattr(process, "start_nginx", lambda: events.append("start") or 4242)
    return bin_dir, events


def test_it_saves_the_route_and_reloads(fake_nginx):
    _, events = fake_nginx
    nginx.set_route("myapp", "127.0.0.1:32768")
    assert nginx.routes() == {"myapp": "127.0.0.1:32768"}
    saved = json.loads((nginx.layout().routes_dir / "myapp.json").read_text())
    assert saved["upstream"] == "127.0.0.1:32768"
    assert "server_name myapp.localhost;" in nginx.layout().conf.read_text()
    assert events == ["reload"]


def test_it_tests_the_candidate_config_before_swapping_it_in(fake_nginx):
    bin_dir, _ = fake_nginx
    nginx.set_route("myapp", "127.0.0.1:32768")
    tested = [c for c in (bin_dir / "calls").read_text().splitlines() if " -t " in f" {c} "]
    assert tested and "nginx.conf.candidate." in tested[-1]


def test_it_never_applies_a_config_nginx_refuses(fake_nginx):
    bin_dir, events = fake_nginx
    nginx.set_route("myapp", "127.0.0.1:32768")
    good = nginx.layout().conf.read_text()
    (bin_dir / "refuse").touch()
    with pytest.raises(ProxyError, match=r"(?s)refused by `nginx -t`.*unknown directive"):
        nginx.set_route("other", "127.0.0.1:32769")
    assert nginx.layout().conf.read_text() == good
    assert nginx.routes() == {"myapp": "127.0.0.1:32768"}
    assert events == ["reload"]  # only the first change was applied
    assert not list(nginx.layout().prefix.glob("nginx.conf.candidate*"))


def test_it_keeps_the_route_when_removing_is_refused(fake_nginx):
    bin_dir, _ = fake_nginx
    nginx.set_route("myapp", "127.0.0.1:32768")
    (bin_dir / "refuse").touch()
    with pytest.raises(ProxyError):
        nginx.remove_route("myapp")
    assert nginx.routes() == {"myapp": "127.0.0.1:32768"}


def test_it_removes_a_route(fake_nginx):
    nginx.set_route("myapp", "127.0.0.1:32768")
    nginx.set_route("other", "127.0.0.1:32769")
    nginx.remove_route("myapp")
    nginx.remove_route("never-there")
    assert nginx.routes() == {"other": "127.0.0.1:32769"}
    assert "myapp.localhost" not in nginx.layout().conf.read_text()


def test_it_starts_nginx_when_it_is_not_running(fake_nginx, monkeypatch):
    _, events = fake_nginx
    monkeypatch.setattr(process, "master_pid", lambda: None)
    nginx.set_route("myapp", "127.0.0.1:32768")
    assert events == ["start"]


def test_it_does_not_reload_when_nothing_changed(fake_nginx):
    _, events = fake_nginx
    nginx.set_route("myapp", "127.0.0.1:32768")
    process._mark_applied(nginx.layout().conf.read_text())
    nginx.ensure_running()
    assert events == ["reload"]


def test_it_skips_a_damaged_route_file(fake_nginx):
    nginx.set_route("myapp", "127.0.0.1:32768")
    (nginx.layout().routes_dir / "broken.json").write_text("{not json")
    (nginx.layout().routes_dir / "evil.json").write_text(
        json.dumps({"name": "evil", "upstream": "1.2.3.4:80; include /etc/passwd"})
    )
    assert nginx.routes() == {"myapp": "127.0.0.1:32768"}


def test_it_refuses_a_bad_upstream_before_touching_anything(fake_nginx):
    with pytest.raises(ProxyError, match="host:port"):
        nginx.set_route("myapp", "127.0.0.1:80;evil")
    assert not nginx.layout().conf.exists()


def test_it_says_how_to_install_nginx(fake_nginx, settings):
    settings.BERTH_NGINX = "nginx-that-is-not-here"
    with pytest.raises(ProxyError, match="apt-get install nginx-light"):
        nginx.set_route("myapp", "127.0.0.1:32768")


def test_it_holds_a_lock_other_processes_see(fake_nginx):
    probe = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError: sys.exit(3)"
    )
    lock = str(nginx.layout().lock)
    with nginx.locked():
        held = subprocess.run([sys.executable, "-c", probe, lock], check=False)
    free = subprocess.run([sys.executable, "-c", probe, lock], check=False)
    assert (held.returncode, free.returncode) == (3, 0)


def test_it_gives_up_on_a_lock_held_too_long(fake_nginx):
    started = time.monotonic()
    # The inner lock opens another file description, as another process would.
    with (
        nginx.locked(),
        pytest.raises(ProxyError, match="held its lock"),
        nginx.locked(timeout=0.2),
    ):
        pass
    assert time.monotonic() - started >= 0.2


def test_it_waits_for_the_lock_then_proceeds(fake_nginx):
    order: list[str] = []

    def later() -> None:
        with nginx.locked(timeout=5):
            order.append("second")

    with nginx.locked():
        thread = threading.Thread(target=later)
        thread.start()
        time.sleep(0.2)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def test_it_loses_no_route_when_deploys_run_at_once(fake_nginx):
    errors: list[Exception] = []

    def deploy(i: int) -> None:
        try:
            nginx.set_route(f"app{i}", f"127.0.0.1:{30000 + i}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=deploy, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(nginx.routes()) == 6
    conf = nginx.layout().conf.read_text()
    assert all(f"server_name app{i}.localhost;" in conf for i in range(6))


def test_the_command_prints_the_status(fake_nginx):
    nginx.set_route("myapp", "127.0.0.1:32768")
    out = StringIO()
    call_command("proxy", "status", stdout=out)
    assert "running (nginx master 4242)" in out.getvalue()
    assert "http://myapp.localhost:8080/ -> 127.0.0.1:32768" in out.getvalue()


def test_the_command_reports_errors_plainly(fake_nginx, settings):
    settings.BERTH_NGINX = "nginx-that-is-not-here"
    with pytest.raises(CommandError, match="apt-get install nginx-light"):
        call_command("proxy", "start")
