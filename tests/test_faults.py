"""The fault suite, against the real thing: a portal (uvicorn), a Celery worker
and the managed nginx run as subprocesses on one temporary data folder, as the
README runs them. An app is deployed first and answers through the proxy;
after every case it must still answer with the release it had, and nothing
the user made (deployments, settings) may be lost.

The cases share that stack and run in order; restarting dockerd is the most
disruptive one and runs last. At the end the module prints the table of
cases (and writes test-artifacts/fault-table.md). The cases that need no
engine are in tests/test_faults_input.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.deploy_helpers import SAMPLES, zip_sample
from tests.faults_helpers import (
    NONE,
    FaultTable,
    Stack,
    bad_uploads,
    docker_answers,
    dockerd_pid,
    ensure_dockerd,
    free_port,
    restart_dockerd,
    wait_for,
)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.nginx,
    pytest.mark.skipif(
        not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
        reason="needs nginx (scripts/ensure-nginx.sh installs it)",
    ),
]

APP = f"ft-{os.urandom(3).hex()}"
CRASHER = f"ft-crash-{os.urandom(2).hex()}"
SETUP = """
from django.contrib.auth.models import User
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps.models import WebApp, AppSetting
alice = User.objects.create_user("alice", "alice@example.org", "alice-password-1")
out = {}
for name in %r:
    app = WebApp.objects.create(name=name, owner=alice)
    out[name] = [app.publishing_username, app.publishing_password]
AppSetting.objects.create(app=WebApp.objects.get(name=%r), name="KEEP_ME", value="s3cret-value")
"""


@pytest.fixture(scope="module")
def table(request) -> Iterator[FaultTable]:
    t = FaultTable("Faults against the real engine, worker, portal and proxy (SQLite, WAL)")
    yield t
    t.finish(request.config)


class Fixture:
    def __init__(self, stack: Stack, creds: dict[str, list[str]]) -> None:
        self.stack = stack
        self.creds = creds
        self.http = requests.Session()
        self.http.trust_env = False  # 127.0.0.1 only, never through a proxy
        self.serving = ""  # the version the app must answer with

    def auth(self, app: str = APP) -> tuple[str, str]:
        return tuple(self.creds[app])  # type: ignore[return-value]

    def zipdeploy(self, data: bytes, *, app: str = APP, sync: bool = True, timeout=240):
        query = "" if sync else "?isAsync=true"
        return self.http.post(
            f"{self.stack.url}/api/apps/{app}/zipdeploy{query}",
            data=data,
            headers={"Content-Type": "application/zip"},
            auth=self.auth(app),
            timeout=timeout,
        )

    def deployment(self, pk: int, app: str = APP) -> dict:
        answer = self.http.get(
            f"{self.stack.url}/api/apps/{app}/deployments/{pk}", auth=self.auth(app), timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def deployments(self, app: str = APP) -> list[dict]:
        answer = self.http.get(
            f"{self.stack.url}/api/apps/{app}/deployments/", auth=self.auth(app), timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def through_proxy(self, app: str = APP) -> tuple[int, str]:
        try:
            answer = self.http.get(
                f"http://127.0.0.1:{self.stack.http_port}/",
                headers={"Host": f"{app}.localhost"},
                timeout=10,
            )
        except requests.RequestException as e:
            return 0, repr(e)
        return answer.status_code, answer.text

    def version(self, app: str = APP) -> str:
        status, body = self.through_proxy(app)
        assert status == 200, f"{app} answered {status} through the proxy: {body[:300]}"
        return json.loads(body)["version"]

    def assert_serving(self) -> None:
        assert self.version() == self.serving

    def settings(self) -> dict[str, str]:
        return self.stack.shell(
            "from apps.webapps.models import AppSetting\n"
            f"out = dict(AppSetting.objects.filter(app__name={APP!r}).values_list('name', 'value'))"
        )

    def set_setting(self, name: str, value: str | None) -> None:
        code = (
            "from apps.webapps import services\n"
            "from apps.webapps.models import WebApp\n"
            f"app = WebApp.objects.get(name={APP!r})\n"
        )
        if value is None:
            code += f"services.delete_app_settings(app, [{name!r}], restart=False)\n"
        else:
            code += (
                "services.set_app_settings(app, "
                f"[services.SettingInput({name!r}, {value!r})], restart=False)\n"
            )
        self.stack.shell(code)


def echo_v(version: str) -> bytes:
    source = (SAMPLES / "echo_app" / "app.py").read_text()
    return zip_sample("echo_app", {"app.py": source.replace('"v1"', f'"{version}"')})


def containers(prefix: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"name={prefix}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    return [n for n in out if n.startswith(prefix)]


def cleanup_engine() -> None:
    for app in (APP, CRASHER):
        names = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=io.berth.app={app}"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        if names:
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True, timeout=60)
        images = subprocess.run(
            ["docker", "images", "-q", f"berth/app-{app}"], capture_output=True, text=True
        ).stdout.split()
        if images:
            subprocess.run(["docker", "rmi", "-f", *set(images)], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def f(tmp_path_factory) -> Iterator[Fixture]:
    if not docker_answers():
        pytest.skip("no Docker engine answers (scripts/ensure-docker.sh starts one)")
    data = tmp_path_factory.mktemp("faults-data")
    stack = Stack(data, http_port=free_port(), https_port=free_port())
    # Small limits so the bad uploads are cheap; the sample apps are tiny.
    stack.env.update(BERTH_MAX_ZIP_MB="1", BERTH_MAX_UNZIPPED_MB="5")
    stack.manage("migrate", "--noinput", "-v0")
    creds = stack.shell(SETUP % ([APP, CRASHER], APP) + "\n")
    fx = Fixture(stack, creds)
    try:
        stack.start_portal()
        stack.start_worker()
        answer = fx.zipdeploy(echo_v("v1"))
        assert answer.status_code == 200, answer.text
        fx.serving = "v1"
        fx.assert_serving()
        yield fx
    finally:
        stack.stop("worker")
        stack.stop("portal")
        ensure_dockerd()
        try:
            stack.shell("from apps.proxy import nginx\nnginx.stop()", timeout=60)
        except AssertionError as e:
            print(f"nginx.stop failed: {e}")
        cleanup_engine()


def test_a_worker_killed_mid_build_leaves_the_deployment_failed_and_the_app_serving(f, table):
    with table.case("worker killed mid-build (SIGKILL)") as row:
        before = f.deployments()
        f.set_setting("PRE_BUILD_COMMAND", "sleep 120")
        answer = f.zipdeploy(echo_v("v-never"), sync=False)
        assert answer.status_code == 202, answer.text
        pk = answer.json()["id"]
        build = f"berth-build-{APP}-{pk}"
        wait_for(lambda: containers(build), 90, f"the build container {build}")
        f.stack.kill("worker")
        f.assert_serving()
        f.stack.start_worker()  # reconciles at start
        d = wait_for(
            lambda: (d := f.deployment(pk))["status"] == "failed" and d,
            60,
            "reconcile to fail the deployment",
        )
        assert "the worker stopped during the build" in d["status_text"].lower(), d
        assert d["complete"] and not d["active"]
        wait_for(lambda: not containers(build), 20, "the build container to go")
        f.assert_serving()
        after = f.deployments()
        assert {x["id"] for x in before} | {pk} == {x["id"] for x in after}
        assert f.settings()["KEEP_ME"] == "s3cret-value"
        f.set_setting("PRE_BUILD_COMMAND", None)
        row.outcome = f"deployment {pk} failed: {d['status_text'][:60]}...; v1 kept serving"
        row.lost = NONE


def test_a_portal_killed_mid_deploy_never_leaves_it_stuck(f, table):
    with table.case("portal killed mid-deploy (sync zipdeploy)") as row:
        f.set_setting("PRE_BUILD_COMMAND", "sleep 120")
        before = {d["id"] for d in f.deployments()}
        errors: list[BaseException] = []

        def post() -> None:
            try:
                f.zipdeploy(echo_v("v-interrupted"), timeout=200)
            except requests.RequestException as e:
                errors.append(e)

        thread = threading.Thread(target=post)
        thread.start()
        try:
            pk = wait_for(
                lambda: ({d["id"] for d in f.deployments()} - before or {0}).pop(),
                30,
                "the deployment row",
            )
            build = f"berth-build-{APP}-{pk}"
            wait_for(lambda: containers(build), 90, f"the build container {build}")
            f.stack.kill("portal")
        finally:
            thread.join(30)
        assert errors, "the request should have been cut off"
        f.assert_serving()
        f.stack.start_portal()
        assert f.deployment(pk)["status"] == "building"  # what the dead portal left
        done = f.stack.manage("reconcile")
        d = f.deployment(pk)
        assert d["status"] == "failed", (d, done)
        assert "the worker stopped during the build" in d["status_text"].lower()
        wait_for(lambda: not containers(build), 20, "the build container to go")
        f.assert_serving()
        assert before | {pk} == {d["id"] for d in f.deployments()}
        f.set_setting("PRE_BUILD_COMMAND", None)
        row.outcome = f"deployment {pk} failed by reconcile (not stuck); v1 kept serving"
        row.lost = NONE


def test_two_deploys_of_one_app_at_once_are_serialized_and_both_recorded(f, table):
    with table.case("two deploys of one app at once") as row:
        # A short pre-build step so the two builds would overlap without the lock.
        f.set_setting("PRE_BUILD_COMMAND", "sleep 2")
        answers: dict[str, requests.Response] = {}

        def deploy(version: str) -> None:
            answers[version] = f.zipdeploy(echo_v(version))

        threads = [threading.Thread(target=deploy, args=(v,)) for v in ("v2", "v3")]
        for t in threads:
            t.start()
            time.sleep(0.3)
        for t in threads:
            t.join(300)
        f.set_setting("PRE_BUILD_COMMAND", None)
        assert {v: a.status_code for v, a in answers.items()} == {"v2": 200, "v3": 200}, {
            v: a.text[:300] for v, a in answers.items()
        }
        rows = sorted(
            (f.deployment(a.json()["id"]) for a in answers.values()), key=lambda d: d["end_time"]
        )
        first, second = rows
        assert first["status"] == second["status"] == "success"
        # Serialized: the second started building after the first had finished.
        assert second["start_time"] >= first["end_time"], rows
        assert second["active"] and not first["active"]
        later = next(v for v, a in answers.items() if a.json()["id"] == second["id"])
        f.serving = later
        f.assert_serving()
        row.outcome = (
            f"both succeeded, one after the other ({first['id']} then {second['id']}); "
            f"the later ({later}) serves"
        )
        row.lost = NONE


def test_bad_uploads_are_refused_and_the_app_keeps_serving(f, table):
    before = f.deployments()
    for case, (body, message) in bad_uploads().items():
        with table.case(f"bad upload: {case}") as row:
            answer = f.zipdeploy(body)
            # Over BERTH_MAX_ZIP_MB: 413 as it arrives, before it is stored.
            status = 413 if case == "oversized" else 400
            assert answer.status_code == status, (case, answer.status_code, answer.text[:300])
            error = answer.json()["error"]
            assert message in error, (case, error)
            assert f.deployments() == before, case
            f.assert_serving()
            row.outcome = f"{status}: {error[:70]}"
            row.lost = NONE


def test_an_app_in_a_crash_loop_is_reported_and_others_are_unaffected(f, table):
    with table.case("an app in a crash loop") as row:
        answer = f.zipdeploy(zip_sample("crashloop_app"), app=CRASHER)
        assert answer.status_code == 200, answer.text
        container = f.deployment(answer.json()["id"], app=CRASHER)
        name = f.stack.shell(
            "from apps.deployments.models import Deployment\n"
            f"out = Deployment.objects.get(app__name={CRASHER!r}, active=True).container"
        )

        def restarts() -> int:
            out = subprocess.run(
                ["docker", "inspect", "-f", "{{.RestartCount}}", name],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return int(out.stdout.strip() or 0)

        count = wait_for(lambda: (n := restarts()) >= 3 and n, 90, "3 restarts", 1)
        found = f.stack.shell(
            "from apps.diagnostics import runner\n"
            "from apps.webapps.models import WebApp\n"
            f"r = runner.diagnose(WebApp.objects.get(name={CRASHER!r})).result('crash_loop')\n"
            "out = r.finding and {'status': str(r.finding.status), 'cause': r.finding.cause,"
            " 'facts': dict(r.finding.facts)}"
        )
        assert found, "diagnostics did not report the crash loop"
        assert "restarted" in found["cause"] and int(found["facts"]["restarts"]) >= 3, found
        # The other app never noticed.
        f.assert_serving()
        main = f.stack.shell(
            "from apps.deployments.models import Deployment\n"
            f"out = Deployment.objects.get(app__name={APP!r}, active=True).container"
        )
        assert (
            subprocess.run(
                ["docker", "inspect", "-f", "{{.RestartCount}}", main],
                capture_output=True,
                text=True,
            ).stdout.strip()
            == "0"
        )
        # Out of the way before dockerd restarts.
        f.stack.shell(
            "from apps.lifecycle import operations as lifecycle_ops\n"
            "from apps.webapps.models import WebApp\n"
            f"lifecycle_ops.stop_app(WebApp.objects.get(name={CRASHER!r}))"
        )
        assert container["status"] == "success"
        row.outcome = f"{count} restarts; diagnostics: {found['cause'][:70]}...; other app fine"
        row.lost = NONE


@pytest.mark.skipif(os.geteuid() != 0, reason="restarting dockerd needs root")
@pytest.mark.skipif(
    os.getenv("BERTH_FAULTS_SKIP_DOCKERD") == "1",
    reason="BERTH_FAULTS_SKIP_DOCKERD=1: don't restart a shared machine's engine",
)
def test_dockerd_restarted_then_reconcile_brings_the_app_back(f, table):
    """Last: the engine goes away under everything."""
    if dockerd_pid() is None:
        pytest.skip("dockerd is not a local process here (DOCKER_HOST?)")
    with table.case("dockerd restarted") as row:
        before = f.deployments()
        started = time.monotonic()
        try:
            restart_dockerd()
        finally:
            ensure_dockerd()
        down = time.monotonic() - started
        done = f.stack.manage("reconcile")
        wait_for(lambda: f.through_proxy()[0] == 200, 60, "the app to answer again")
        f.assert_serving()
        # The portal shows what the engine has.
        seen = f.stack.shell(
            "from apps.deployments.models import Deployment\n"
            "from apps.engine import client as engine\n"
            "from apps.lifecycle import steps\n"
            f"d = Deployment.objects.get(app__name={APP!r}, active=True)\n"
            "out = {'status': engine.container_state(d.container).status,"
            " 'port': engine.published_port(d.container, steps.APP_PORT),"
            " 'recorded': d.host_port}"
        )
        assert seen["status"] == "running" and seen["port"] == seen["recorded"], seen
        assert f.deployments() == before
        assert f.settings()["KEEP_ME"] == "s3cret-value"
        row.outcome = (
            f"engine back in {down:.0f} s; reconcile: {done.strip()[:60] or 'nothing to do'}; "
            f"{f.serving} serves"
        )
        row.lost = NONE
