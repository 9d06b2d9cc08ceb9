"""`make run` as a user runs it (scripts/run.sh: setup, then supervisord
keeping the worker, archiver, proxy watch and portal up), on its own data
folder and ports, against the real engine and nginx:

- a worker killed by a signal is started again, and the next deployment
  succeeds;
- with the worker stopped, `berth webapp up` says no worker runs and
  waits; once the worker is back the deployment goes through;
- a front proxy (nginx) that dies is started again by the proxy watch;
- Ctrl-C (SIGINT to run.sh's process group) stops the control plane only:
  the app keeps answering through the front proxy the whole time it is
  down, and when Berth starts again the app's container is the same one,
  never restarted (its StartedAt unchanged), and still answers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from apps.engine import client as engine
from tests.deploy_helpers import cleanup_app, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.nginx]

ROOT = Path(__file__).resolve().parents[1]
PORTAL_PORT = int(os.getenv("BERTH_TEST_RUN_PORT", "8123"))
HTTP_PORT = PORTAL_PORT + 1
HTTPS_PORT = PORTAL_PORT + 2
ADMIN_PASSWORD = "run-admin-password-1"
START_LIMIT = 300.0  # seconds for run.sh's setup and the first answers (collectstatic, migrate)
OUTAGE = 20.0  # seconds the control plane stays down while the app is polled
APP = """\
import os

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("served by " + os.environ["WEBSITE_SITE_NAME"]).encode()]
"""


def wait_for(what: str, check: Callable[[], object], limit: float, every: float = 0.5):
    """check()'s first true answer within `limit` seconds, else fail saying what."""
    deadline = time.monotonic() + limit
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit:.0f} s")
        time.sleep(every)


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1: never through a proxy
    return session


@dataclass
class Berth:
    data: Path
    log: Path
    process: subprocess.Popen | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{PORTAL_PORT}"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            BERTH_DATA_DIR=str(self.data),
            BERTH_PORT=str(PORTAL_PORT),
            BERTH_PROXY_HTTP_PORT=str(HTTP_PORT),
            BERTH_PROXY_HTTPS_PORT=str(HTTPS_PORT),
            BERTH_ADMIN_USER="admin",
            BERTH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            BERTH_START_TIME_LIMIT="60",
        )
        return env

    def start(self) -> None:
        """`make run`, in a session of its own like a terminal's job."""
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        wait_for("the portal answering", self.portal_answers, START_LIMIT, every=1)
        wait_for("a worker saying it is alive", self.worker_alive, 60)

    def ctrl_c(self) -> None:
        """What Ctrl-C in the terminal does: SIGINT to the whole process group."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"run.sh still runs 120 s after Ctrl-C:\n{self.tail()}") from None

    def portal_answers(self) -> bool:
        try:
            return http().get(f"{self.url}/login/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def worker_alive(self) -> bool:
        try:
            seen = json.loads((self.data / "worker-alive.json").read_text())["at"]
        except (OSError, ValueError, KeyError):
            return False
        return time.time() - seen < 10

    def supervisorctl(self, *args: str) -> str:
        done = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "supervisorctl"),
                "-c",
                str(self.data / "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=90,  # `stop` waits for the worker's warm shutdown (stopwaitsecs 30)
        )
        return done.stdout.strip()

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        if not self.token:
            answer = http().post(
                f"{self.url}/api/token",
                json={"username": "admin", "password": ADMIN_PASSWORD, "name": "run test"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
            self.token = answer.json()["token"]
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return http().request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def deploy(self, name: str, text: str) -> dict:
        """A zip deploy through the worker (asynchronous), followed to its end."""
        files = {"app.py": APP.replace("served by", text)}
        answer = self.api(
            "POST",
            f"/api/apps/{name}/zipdeploy?isAsync=true",
            data=zip_files(files),
            headers={"Content-Type": "application/zip"},
        )
        assert answer.status_code == 202, answer.text
        path = f"/api/apps/{name}/deployments/{answer.json()['id']}"
        done = wait_for(
            "the deployment finishing",
            lambda: (d := self.api("GET", path).json()).get("complete") and d,
            300,
            every=1,
        )
        assert done["status"] == "success", (done, self.api("GET", path + "/log").text[-3000:])
        return done

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=ROOT,
            env={**self.env(), "DJANGO_SETTINGS_MODULE": "portal.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()


def through_proxy(name: str) -> requests.Response | None:
    try:
        return http().get(
            f"http://127.0.0.1:{HTTP_PORT}/", headers={"Host": f"{name}.localhost"}, timeout=3
        )
    except requests.RequestException:
        return None


def started_at(name: str) -> tuple[str, str]:
    """(container name, StartedAt) of the app's one app container."""
    (container,) = engine.find_containers({"io.berth.app": name, "io.berth.role": "app"})
    return container, engine.container_state(container).started_at


@pytest.fixture(scope="module")
def berth(tmp_path_factory) -> Iterator[Berth]:
    for port in (PORTAL_PORT, HTTP_PORT, HTTPS_PORT):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is taken: set BERTH_TEST_RUN_PORT to a free range")
    data = tmp_path_factory.mktemp("make-run")
    running = Berth(data=data, log=data.parent / "run.log")
    try:
        running.start()
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.ctrl_c()
        running.manage("proxy", "stop")


@pytest.fixture(scope="module")
def app_name(berth) -> Iterator[str]:
    name = f"run-{secrets.token_hex(3)}"
    answer = berth.api("PUT", f"/api/apps/{name}", json={"resourceGroup": "default"})
    assert answer.status_code == 201, answer.text
    yield name
    cleanup_app(name)


def test_a_killed_worker_is_started_again_and_deploys(berth, app_name):
    first = int(berth.supervisorctl("pid", "worker"))
    assert first > 0
    os.kill(first, signal.SIGKILL)
    again = wait_for(
        "supervisord starting the worker again",
        lambda: (pid := berth.supervisorctl("pid", "worker")).isdigit()
        and int(pid) not in (0, first)
        and int(pid),
        60,
    )
    assert again != first
    wait_for("the new worker saying it is alive", berth.worker_alive, 60)
    berth.deploy(app_name, "first release of")
    answer = wait_for("the app answering through the proxy", lambda: through_proxy(app_name), 30)
    assert answer.status_code == 200 and answer.text == f"first release of {app_name}"


def test_up_says_when_no_worker_runs_and_goes_on_when_one_does(berth, app_name, tmp_path):
    env = {
        **berth.env(),
        "BERTH_CONFIG_DIR": str(tmp_path / "cfg"),
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1",
    }
    cli = [str(ROOT / ".venv" / "bin" / "python"), "-m", "berth_cli"]
    login = [*cli, "login", "--url", berth.url, "-u", "admin", "--password-stdin"]
    done = subprocess.run(
        login, input=ADMIN_PASSWORD + "\n", env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(APP.replace("served by", "second release of"))

    assert berth.supervisorctl("stop", "worker").endswith("stopped")
    up = subprocess.Popen(
        [*cli, "webapp", "up", "-n", app_name],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = ""
        deadline = time.monotonic() + 90  # STALE_AFTER (30 s) and a margin
        while "No worker is running: deployments wait in the queue" not in said:
            line = up.stderr.readline()
            assert line and time.monotonic() < deadline, f"up never said so; it said:\n{said}"
            said += line
        assert up.poll() is None  # still waiting, not failed
    finally:
        berth.supervisorctl("start", "worker")
    out, err = up.communicate(timeout=300)
    assert up.returncode == 0, said + err
    assert json.loads(out)["name"] == app_name
    answer = wait_for("the new release answering", lambda: through_proxy(app_name), 30)
    assert answer.text == f"second release of {app_name}"


def test_a_proxy_that_dies_is_started_again(berth, app_name):
    if through_proxy(app_name) is None:
        berth.deploy(app_name, "first release of")  # alone, without the test above
    master = int(re.search(r"nginx master (\d+)", berth.manage("proxy", "status")).group(1))
    os.kill(master, signal.SIGTERM)  # nginx's fast shutdown: master and workers go
    wait_for("the old nginx gone", lambda: through_proxy(app_name) is None, 30, every=0.1)
    answer = wait_for("the app answering again", lambda: through_proxy(app_name), 30)
    assert answer.status_code == 200 and app_name in answer.text
    again = int(re.search(r"nginx master (\d+)", berth.manage("proxy", "status")).group(1))
    assert again != master


def test_apps_outlive_the_control_plane(berth, app_name):
    if through_proxy(app_name) is None:
        berth.deploy(app_name, "first release of")  # alone, without the test above
    container, before = started_at(app_name)

    berth.ctrl_c()
    assert not berth.portal_answers()
    # Down for OUTAGE seconds: every look through the proxy gets the app.
    looks, deadline = 0, time.monotonic() + OUTAGE
    while time.monotonic() < deadline:
        answer = through_proxy(app_name)
        assert answer is not None and answer.status_code == 200, (looks, answer)
        assert app_name in answer.text
        looks += 1
        time.sleep(0.5)
    assert looks >= OUTAGE  # polled all along, not once
    assert started_at(app_name) == (container, before)

    berth.start()
    # Reconcile, as the worker's beat does every minute: it finds the app
    # serving and changes nothing.
    done = berth.manage("reconcile", app_name)
    assert done.endswith("Reconciled: 0 change(s)."), done
    assert started_at(app_name) == (container, before)
    answer = through_proxy(app_name)
    assert answer is not None and answer.status_code == 200
    site = berth.api("GET", f"/api/apps/{app_name}").json()
    assert site["state"] == "Running"
