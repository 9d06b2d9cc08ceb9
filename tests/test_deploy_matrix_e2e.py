"""The deploy matrix end to end through the REAL front proxy: one nginx on free
127.0.0.1 ports for the module, routing on, zip deploy through the API (and
one git push to the live portal), every answer fetched through nginx with
`Host: <app>.localhost`, over HTTP and HTTPS.

Lean on purpose: cases share apps through successive deploys, and only the
Django cases install from the package index (through the CA bundle)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.test import override_settings

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import reconcile
from apps.proxy import nginx
from apps.webapps.models import AppSetting, WebApp
from tests.deploy_helpers import SAMPLES, git_in, make_zip, symlink, zip_files, zip_sample

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.nginx,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
        reason="needs nginx (scripts/ensure-nginx.sh installs it)",
    ),
]
TIMES: dict[str, float] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[object]:
    data = tmp_path_factory.mktemp("berth-data")
    override = override_settings(
        DATA_DIR=data,
        BERTH_PROXY_ROUTING=True,
        BERTH_APPS_DOMAIN="localhost",
        BERTH_PROXY_MODE="managed",
        BERTH_PROXY_LISTEN="127.0.0.1",
        BERTH_PROXY_HTTP_PORT=free_port(),
        BERTH_PROXY_HTTPS_PORT=free_port(),
        BERTH_PROXY_WORKERS=2,
        BERTH_TLS_CERT="",
        BERTH_TLS_KEY="",
        BERTH_START_TIME_LIMIT=40,
        BERTH_BUILD_TIMEOUT=300,
    )
    override.enable()
    try:
        nginx.ensure_running()
        from django.conf import settings

        yield settings
    finally:
        nginx.stop()
        override.disable()
        if TIMES:
            print("\n[deploy matrix] " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMES.items()))


@pytest.fixture
def make_app(make_app, proxy):
    # The shared one (tests/conftest.py), once the module's proxy runs.
    return make_app


class _AppHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 that asks for (and checks) the app's host name."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def through_proxy(
    app: WebApp, path: str = "/", https: bool = False, form: dict[str, str] | None = None
) -> tuple[int, str]:
    """GET `path` (or POST `form` to it) through nginx as `<app>.localhost`."""
    from django.conf import settings

    host = f"{app.name}.localhost"
    method, body, headers = "GET", None, {}
    if form is not None:
        method, body = "POST", urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if https:
        context = ssl.create_default_context(cafile=str(nginx.layout().tls / "cert.pem"))
        conn = _AppHTTPS(host, settings.BERTH_PROXY_HTTPS_PORT, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", settings.BERTH_PROXY_HTTP_PORT, timeout=10)
        headers["Host"] = host
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read().decode(errors="replace")
    conn.close()
    return response.status, answer


def page(app: WebApp, https: bool = False) -> dict:
    status, body = through_proxy(app, https=https)
    assert status == 200, body
    return json.loads(body)


def basic(app: WebApp) -> dict[str, str]:
    token = base64.b64encode(f"{app.publishing_username}:{app.publishing_password}".encode())
    return {"HTTP_AUTHORIZATION": f"Basic {token.decode()}"}


def zipdeploy(client, app: WebApp, data: bytes, label: str = "") -> dict:
    started = time.monotonic()
    answer = client.post(
        f"/api/apps/{app.name}/zipdeploy", data=data, content_type="application/zip", **basic(app)
    )
    if label:
        TIMES[label] = time.monotonic() - started
    # 413: refused as it arrives (over BERTH_MAX_ZIP_MB).
    assert answer.status_code in (200, 400, 413), answer.content
    body = answer.json()
    if "id" in body:
        body["log"] = Deployment.objects.get(pk=body["id"]).log
    return body


def app_log(app: WebApp) -> str:
    d = Deployment.objects.get(app=app, active=True)
    return "\n".join(engine.container_logs(d.container, timestamps=False))


def git_push(live_server, app: WebApp, sample: Path, work: Path, message: str = "First version"):
    """Commit the sample folder as it is into a new repository at `work`
    and push it to the app's local Git URL with its publishing credentials.
    The push answers once the deployment has run (Celery eager here)."""
    shutil.copytree(sample, work, ignore=shutil.ignore_patterns("__pycache__"))
    git = git_in(work)
    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", message)
    user = quote(app.publishing_username, safe="")
    url = live_server.url.replace("http://", f"http://{user}:{app.publishing_password}@")
    git("push", "-q", f"{url}/git/{app.name}.git", "main")


def echo_v(version: str) -> bytes:
    source = (SAMPLES / "echo_app" / "app.py").read_text()
    return zip_sample("echo_app", {"app.py": source.replace('"v1"', f'"{version}"')})


def test_flask_app_py_through_the_proxy_survives_failures_and_bad_zips(client, make_app, proxy):
    app = make_app("mx-flask")

    body = zipdeploy(client, app, echo_v("v1"), "flask app.py first deploy")
    assert body["status"] == "success", body["log"]
    assert "Could not find setup.py or requirements.txt; Not running pip install." in body["log"]
    assert "Detected: flask (found app.py" in body["log"]
    seen = page(app)
    assert seen["version"] == "v1"
    assert seen["cwd"] == "/home/site/wwwroot"
    assert seen["headers"]["Host"] == f"{app.name}.localhost"
    assert seen["headers"]["X-Forwarded-Proto"] == "http"
    # Behind HTTPS the app is told so (and the certificate names the app).
    seen = page(app, https=True)
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert seen["headers"]["X-Forwarded-Host"].startswith(f"{app.name}.localhost")

    # A failing build: pip can't find the requirement (a local path, no index).
    body = zipdeploy(
        client, app, zip_sample("echo_app", {"requirements.txt": "./not-here\n"}), "failing build"
    )
    assert body["status"] == "failed"
    assert "build failed" in body["status_text"]
    assert page(app)["version"] == "v1"

    # A failing start: the new container crashes; v1 keeps serving.
    body = zipdeploy(
        client,
        app,
        zip_sample("echo_app", {"app.py": "raise RuntimeError('v-broken cannot start')\n"}),
        "failing start",
    )
    assert body["status"] == "failed"
    assert "still serves its previous release" in body["status_text"]
    assert "v-broken cannot start" in body["log"]
    assert page(app)["version"] == "v1"

    # Bad zips: refused through the API, nothing recorded, v1 still serves.
    from django.conf import settings

    count = Deployment.objects.count()
    bomb = make_zip([("zeros.bin", b"\0" * (12 * 1024 * 1024))])
    assert len(bomb) < 100 * 1024  # a high-ratio zip
    cases = {
        "../ path": (
            make_zip([("../evil.py", b"x"), ("app.py", b"x")]),
            "outside the app's folder",
        ),
        "absolute path": (make_zip([("/etc/evil.py", b"x")]), "is an absolute path"),
        "symlink out": (
            make_zip([("app.py", b"x"), symlink("secrets", "../../../etc/passwd")]),
            "symbolic link",
        ),
        "oversized": (
            make_zip([("big.bin", os.urandom(2 * 1024 * 1024))]),
            "1 MB, BERTH_MAX_ZIP_MB",
        ),
        "zip bomb": (bomb, "5 MB"),
        "not a zip": (b"this is not a zip file at all", "not a zip file"),
    }
    with override_settings(BERTH_MAX_ZIP_MB=1, BERTH_MAX_UNZIPPED_MB=5):
        assert settings.BERTH_MAX_ZIP_MB == 1
        for case, (data, message) in cases.items():
            body = zipdeploy(client, app, data)
            assert message in body.get("error", ""), (case, body)
            assert Deployment.objects.count() == count, case
            assert page(app)["version"] == "v1", case

    # A custom startup command that fails: logged, then detection takes over.
    app.app_command_line = "python no_such_startup.py"
    app.save()
    body = zipdeploy(client, app, echo_v("v2"), "flask redeploy (custom command fails)")
    assert body["status"] == "success", body["log"]
    assert page(app)["version"] == "v2"
    logs = app_log(app)
    assert "no_such_startup.py" in logs
    assert "Falling back to automatic detection" in logs


def test_flask_application_py_with_gunicorn_conf_and_build_commands(client, make_app):
    app = make_app("mx-appl")
    AppSetting.objects.create(app=app, name="PRE_BUILD_COMMAND", value="echo pre > built.txt")
    AppSetting.objects.create(app=app, name="POST_BUILD_COMMAND", value="echo post >> built.txt")
    body = zipdeploy(client, app, zip_sample("application_app"), "application.py + hooks")
    assert body["status"] == "success", body["log"]
    assert "Detected: flask (found application.py" in body["log"]
    seen = page(app)
    assert seen["file"] == "application.py"
    assert seen["built"] == "pre\npost\n"  # POST_BUILD's file ships with the app
    assert seen["from_conf"] == "yes"  # gunicorn.conf.py's raw_env
    logs = app_log(app)
    assert "-c /home/site/wwwroot/gunicorn.conf.py" in logs
    assert "gunicorn.conf.py hook: on_starting" in logs
    assert "gunicorn.conf.py hook: served /" in logs
    assert logs.count("Booting worker with pid") >= 2  # workers = 2


def test_django_at_the_root_then_nested_with_chdir(client, make_app):
    app = make_app("mx-django")
    body = zipdeploy(client, app, zip_sample("django_app"), "django root (pip from the index)")
    assert body["status"] == "success", body["log"]
    assert "Detected: django (found mysite/wsgi.py)" in body["log"]
    assert "python manage.py collectstatic --noinput" in body["log"]
    assert page(app) == {"framework": "django", "host": f"{app.name}.localhost"}

    AppSetting.objects.create(app=app, name="DISABLE_COLLECTSTATIC", value="true")
    body = zipdeploy(client, app, zip_sample("django_app"), "django root, no collectstatic")
    assert body["status"] == "success", body["log"]
    assert "DISABLE_COLLECTSTATIC is true: not running collectstatic." in body["log"]
    assert "static files copied" not in body["log"]
    assert page(app)["framework"] == "django"

    # The same project one level down, started by a custom command with --chdir.
    nested = {
        f"backend/{p.relative_to(SAMPLES / 'django_app').as_posix()}": p.read_text()
        for p in (SAMPLES / "django_app").rglob("*.py")
    }
    nested["requirements.txt"] = (SAMPLES / "django_app" / "requirements.txt").read_text()
    app.app_command_line = "gunicorn --bind=0.0.0.0 --timeout 600 --chdir backend mysite.wsgi"
    app.save()
    body = zipdeploy(client, app, zip_files(nested), "django nested, custom --chdir")
    assert body["status"] == "success", body["log"]
    seen = page(app, https=True)
    assert seen["framework"] == "django"
    assert seen["host"].startswith(f"{app.name}.localhost")
    assert "--chdir backend mysite.wsgi" in app_log(app)


def test_a_zip_with_no_app_gets_the_default_site(client, make_app):
    app = make_app("mx-default")
    body = zipdeploy(client, app, zip_files({"README.md": "Nothing to run."}), "default site")
    assert body["status"] == "success", body["log"]
    assert "Detected: default" in body["log"]
    status, _ = through_proxy(app)
    assert status == 200


def test_a_git_push_deploys_and_reconcile_brings_a_killed_container_back(
    live_server, make_app, tmp_path, monkeypatch
):
    from portal.celery import app as celery_app

    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)
    app = make_app("mx-git")
    started = time.monotonic()
    git_push(live_server, app, SAMPLES / "echo_app", tmp_path / "work")
    TIMES["git push deploy"] = time.monotonic() - started
    d = Deployment.objects.get(app=app)
    assert d.source == "git"
    assert d.status == "success", d.log
    assert page(app)["version"] == "v1"

    # The engine restarts a crashed container by itself (with backoff) ...
    policy = engine.client().api.inspect_container(d.container)["HostConfig"]["RestartPolicy"]
    assert policy["Name"] in ("unless-stopped", "on-failure", "always")
    # ... but a container removed behind Berth's back comes back by reconcile.
    subprocess.run(["docker", "rm", "-f", d.container], check=True, capture_output=True)
    status, body = through_proxy(app)
    assert status == 502
    started = time.monotonic()
    done = reconcile.reconcile(app)
    TIMES["reconcile brings an app back"] = time.monotonic() - started
    assert any("was gone" in line for line in done), done
    assert page(app)["version"] == "v1"
    # `docker kill` is a manual stop (no automatic restart): reconcile again.
    d.refresh_from_db()
    subprocess.run(["docker", "kill", d.container], check=True, capture_output=True)
    assert any("was gone" in line for line in reconcile.reconcile(app))
    assert page(app)["version"] == "v1"
    # A restarted container (the engine's own restart after a crash, or
    # dockerd's) comes back on another host port: reconcile re-routes.
    d.refresh_from_db()
    subprocess.run(["docker", "restart", "-t", "1", d.container], check=True, capture_output=True)
    port = engine.published_port(d.container, 8000)
    if port != d.host_port:
        done = reconcile.reconcile(app)
        assert any(f"now listens on 127.0.0.1:{port}" in line for line in done), done
    deadline = time.monotonic() + 20  # gunicorn starting again in the container
    while through_proxy(app)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert page(app)["version"] == "v1"
    # Stopped in the portal but running in the engine: reconcile stops it.
    WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.STOPPED)
    app.refresh_from_db()
    done = reconcile.reconcile(app)
    assert any("is stopped" in line for line in done), done
    assert engine.find_app_container(app.name) is None
    assert through_proxy(app)[0] == 404
    assert reconcile.reconcile(app) == []  # nothing left to do


# The App Service Python quickstarts (tests/samples/quickstart_*, shaped like
# Azure-Samples' msdocs-python-{flask,django}-webapp-quickstart): deployed as
# they are, by git push and by zip, answering through nginx.


def assert_quickstart_serves(
    app: WebApp, static_path: str, static_text: str = "quickstart stylesheet"
) -> None:
    status, body = through_proxy(app)
    assert status == 200, body
    assert "Welcome to Azure" in body
    status, body = through_proxy(app, "/hello", form={"name": "Grace Hopper"})
    assert status == 200, body
    assert "Hello Grace Hopper" in body
    status, _ = through_proxy(app, "/hello", form={"name": ""})
    assert status == 302  # a blank name goes back to the index
    status, body = through_proxy(app, static_path, https=True)
    assert status == 200 and static_text in body, (static_path, status, body[:200])


def test_the_flask_quickstart_by_git_push_then_zip(
    client, live_server, make_app, tmp_path, monkeypatch
):
    from portal.celery import app as celery_app

    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)
    app = make_app("qs-flask")
    started = time.monotonic()
    git_push(live_server, app, SAMPLES / "quickstart_flask", tmp_path / "work")
    TIMES["flask quickstart, git push"] = time.monotonic() - started
    d = Deployment.objects.get(app=app)
    assert d.status == "success", d.log
    assert "Detected: flask (found app.py" in d.log
    assert "Flask==3.1.0" in d.log or "flask-3.1.0" in d.log.lower()
    assert_quickstart_serves(app, "/static/css/site.css")
    assert "hello page requested for Grace Hopper" in app_log(app)

    body = zipdeploy(client, app, zip_sample("quickstart_flask"), "flask quickstart, zip")
    assert body["status"] == "success", body["log"]
    assert Deployment.objects.get(app=app, active=True).pk == body["id"]
    assert_quickstart_serves(app, "/static/css/site.css")


def test_the_django_quickstart_by_zip_then_git_push(
    client, live_server, make_app, tmp_path, monkeypatch
):
    from portal.celery import app as celery_app

    app = make_app("qs-django")
    body = zipdeploy(client, app, zip_sample("quickstart_django"), "django quickstart, zip")
    assert body["status"] == "success", body["log"]
    log = body["log"]
    assert "Detected: django (found quickstartproject/wsgi.py)" in log
    assert "python manage.py collectstatic --noinput" in log
    # production.py took over (WEBSITE_HOSTNAME is set): DEBUG off, so an
    # unknown path is a plain 404, not Django's debug page listing the URLs.
    status, body404 = through_proxy(app, "/no-such-page")
    assert status == 404 and "URLconf" not in body404
    # WhiteNoise serves what collectstatic gathered into staticfiles/.
    assert_quickstart_serves(app, "/static/css/site.css")
    # ALLOWED_HOSTS comes from WEBSITE_HOSTNAME: another host name is refused.
    d = Deployment.objects.get(pk=body["id"])
    conn = http.client.HTTPConnection("127.0.0.1", d.host_port, timeout=10)
    conn.request("GET", "/", headers={"Host": "somebody-else.example"})
    assert conn.getresponse().status == 400
    conn.close()

    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)
    started = time.monotonic()
    git_push(live_server, app, SAMPLES / "quickstart_django", tmp_path / "work")
    TIMES["django quickstart, git push"] = time.monotonic() - started
    d = Deployment.objects.filter(app=app, source="git").get()
    assert d.status == "success", d.log
    assert d.active
    assert_quickstart_serves(app, "/static/css/site.css")


def test_https_only_redirects_plain_http_and_survives_a_redeploy(client, make_app, proxy):
    from apps.webapps import services as webapp_services

    app = make_app("mx-https")
    body = zipdeploy(client, app, echo_v("v1"), "https-only app first deploy")
    assert body["status"] == "success", body["log"]
    assert page(app)["version"] == "v1"

    webapp_services.update_general_settings(app, https_only=True)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.BERTH_PROXY_HTTP_PORT, timeout=10)
    conn.request("GET", "/some/path?x=1", headers={"Host": f"{app.name}.localhost"})
    answer = conn.getresponse()
    conn.close()
    assert answer.status == 301
    assert answer.getheader("Location") == (
        f"https://{app.name}.localhost:{proxy.BERTH_PROXY_HTTPS_PORT}/some/path?x=1"
    )
    seen = page(app, https=True)
    assert seen["version"] == "v1" and seen["headers"]["X-Forwarded-Proto"] == "https"

    # A new release re-routes the app: it stays HTTPS only.
    body = zipdeploy(client, app, echo_v("v2"))
    assert body["status"] == "success", body["log"]
    assert through_proxy(app)[0] == 301
    assert page(app, https=True)["version"] == "v2"

    webapp_services.update_general_settings(app, https_only=False)
    assert page(app)["version"] == "v2"
