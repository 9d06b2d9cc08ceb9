"""End to end against the real engine and the berth/python:3.11 runtime image:
zip deploy through the API, real containers, HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import subprocess
import time
from urllib.parse import quote

import pytest
import requests

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps.models import AppSetting, WebApp
from tests.deploy_helpers import SAMPLES, git_in, zip_files, zip_sample

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings"),
]


def basic(app: WebApp) -> dict[str, str]:
    token = base64.b64encode(f"{app.publishing_username}:{app.publishing_password}".encode())
    return {"HTTP_AUTHORIZATION": f"Basic {token.decode()}"}


def get(deployment: Deployment, path: str = "/", **kwargs) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{deployment.host_port}{path}", timeout=10, **kwargs)


def zipdeploy(client, app: WebApp, data: bytes) -> dict:
    answer = client.post(
        f"/api/apps/{app.name}/zipdeploy",
        data=data,
        content_type="application/zip",
        **basic(app),
    )
    assert answer.status_code in (200, 400), answer.content
    body = answer.json()
    if "id" in body:
        body["log"] = Deployment.objects.get(pk=body["id"]).log
    return body


def test_it_deploys_flask_and_keeps_the_old_release_through_failures(client, make_app):
    app = make_app("e2e-flask")
    AppSetting.objects.create(app=app, name="GREETING", value="hello from a setting")

    started = time.monotonic()
    body = zipdeploy(client, app, zip_sample("flask_app"))
    cold = time.monotonic() - started
    assert body["status"] == "success", body["log"]
    v1 = Deployment.objects.get(pk=body["id"])
    page = get(v1).json()
    assert page["version"] == "v1"
    assert page["hostname"] == app.default_host_name
    assert page["greeting"] == "hello from a setting"
    assert page["cwd"] == "/home/site/wwwroot"
    assert "Detected: flask (found app.py)" in v1.log
    assert "hello from a setting" not in v1.log

    # Code-only redeploy, pip cache warm.
    started = time.monotonic()
    sample_app = (SAMPLES / "flask_app" / "app.py").read_text()
    v2_zip = zip_sample("flask_app", {"app.py": sample_app.replace('"v1"', '"v2"')})
    body = zipdeploy(client, app, v2_zip)
    warm = time.monotonic() - started
    assert body["status"] == "success", body["log"]
    v2 = Deployment.objects.get(pk=body["id"])
    assert get(v2).json()["version"] == "v2"
    print(f"\nflask zip deploy: cold {cold:.1f} s, warm {warm:.1f} s")

    # A failed build leaves v2 serving.
    body = zipdeploy(
        client,
        app,
        zip_sample("flask_app", {"requirements.txt": "no-such-package-berth-xyz==0.0.1\n"}),
    )
    assert body["status"] == "failed"
    assert "build failed" in body["status_text"]
    assert get(v2).json()["version"] == "v2"

    # A crashing app fails its health check; v2 keeps serving.
    body = zipdeploy(
        client, app, zip_sample("flask_app", {"app.py": sample_app + "\nraise SystemExit(3)\n"})
    )
    assert body["status"] == "failed"
    crashed = Deployment.objects.get(pk=body["id"])
    assert "SystemExit" in crashed.log or "exit code" in crashed.status_text
    assert get(v2).json()["version"] == "v2"
    assert Deployment.objects.get(app=app, active=True).pk == v2.pk

    # Roll back to v1 without a rebuild.
    rollback = services.redeploy(v1)
    rollback = services.run_deployment(rollback.pk)
    assert rollback.status == "success", rollback.log
    assert rollback.image == v1.image
    assert "no build" in rollback.log
    assert get(rollback).json()["version"] == "v1"


def test_it_deploys_django_at_the_root_with_collectstatic(make_app):
    app = make_app("e2e-django")
    d = services.create_deployment(app, zip_sample("django_app"))
    d = services.run_deployment(d.pk)
    assert d.status == "success", d.log
    assert "Step 2/2: python manage.py collectstatic --noinput" in d.log
    assert "static files copied" in d.log
    assert "Detected: django (found mysite/wsgi.py)" in d.log
    assert get(d).json() == {"framework": "django", "host": f"127.0.0.1:{d.host_port}"}


def test_a_git_push_deploys_the_branch(live_server, make_app, tmp_path, monkeypatch):
    from portal.celery import app as celery_app

    # No worker here: the push's deployment runs as the request finishes.
    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)
    app = make_app("e2e-git")
    work = tmp_path / "work"
    work.mkdir()
    for path in (SAMPLES / "no_requirements").iterdir():
        (work / path.name).write_bytes(path.read_bytes())
    git = git_in(work)
    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "First version")
    sha = git("rev-parse", "HEAD").strip()
    user = quote(app.publishing_username, safe="")
    url = live_server.url.replace("http://", f"http://{user}:{app.publishing_password}@")
    git("push", "-q", f"{url}/git/{app.name}.git", "main")

    d = Deployment.objects.get(app=app)
    assert d.source == "git"
    assert d.commit_id == sha
    assert d.author == "Alice <alice@example.org>"
    assert d.message.strip() == "First version"
    assert d.status == "success", d.log
    assert "Could not find setup.py or requirements.txt; Not running pip install." in d.log
    assert "Detected: flask (found app.py, object server)" in d.log
    assert get(d).text == "no requirements here"


def test_a_git_push_with_a_wrong_password_is_refused(live_server, make_app, tmp_path):
    app = make_app("e2e-git")
    result = subprocess.run(
        [
            "git",
            "ls-remote",
            f"{live_server.url.replace('http://', 'http://x:wrong@')}/git/{app.name}.git",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert Deployment.objects.count() == 0


def test_build_hooks_gunicorn_conf_a_failing_startup_script_and_restart(make_app):
    app = make_app("e2e-hooks", app_command_line="startup.sh")
    AppSetting.objects.create(app=app, name="PRE_BUILD_COMMAND", value="echo pre > built.txt")
    AppSetting.objects.create(app=app, name="POST_BUILD_COMMAND", value="echo post >> built.txt")
    d = services.run_deployment(services.create_deployment(app, zip_sample("hooks_app")).pk)
    assert d.status == "success", d.log
    assert "Could not find setup.py or requirements.txt; Not running pip install." in d.log
    page = get(d).json()
    assert page["built"] == "pre\npost\n"  # files the hooks write ship with the app
    assert page["from_conf"] == "yes"
    app_log = "\n".join(engine.container_logs(d.container, timestamps=False))
    assert "this startup script is broken" in app_log
    assert "exited with code 7" in app_log
    assert "Falling back to automatic detection" in app_log
    # The file sets neither the timeout nor the logs: App Service's defaults stay.
    assert (
        "-c /home/site/wwwroot/gunicorn.conf.py --timeout 600 --access-logfile - "
        "--error-logfile - app:app"
    ) in app_log

    # A changed setting reaches the app through a health-checked restart.
    AppSetting.objects.create(app=app, name="GREETING", value="restarted")
    outcome = lifecycle_ops.restart_app(app, reason="test")
    assert outcome.ok, outcome.log
    d.refresh_from_db()
    assert get(d).json()["greeting"] == "restarted"
    assert len(engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})) == 1


def test_an_app_with_nothing_to_run_gets_the_default_site(make_app):
    app = make_app("e2e-default")
    d = services.create_deployment(app, zip_files({"README.md": "Nothing to run here."}))
    d = services.run_deployment(d.pk)
    assert d.status == "success", d.log
    assert "Detected: default" in d.log
    assert get(d).status_code == 200


def test_pyproject_apps_uv_lock_pins_and_an_application_gets_its_dependencies(make_app):
    # uv.lock pins flask 3.0.3 although pyproject.toml allows any 3.x.
    app = make_app("e2e-uv")
    d = services.run_deployment(services.create_deployment(app, zip_sample("uv_app")).pk)
    assert d.status == "success", d.log
    assert "Step 1/1: pip install the versions locked in uv.lock" in d.log
    assert "locked requirements from uv.lock" in d.log
    assert get(d).json()["flask"] == "3.0.3"

    # No [build-system] and a flat layout: `pip install .` would refuse it.
    app = make_app("e2e-pyproject")
    d = services.run_deployment(services.create_deployment(app, zip_sample("pyproject_app")).pk)
    assert d.status == "success", d.log
    assert "installing its 1 [project] dependencies" in d.log
    assert get(d).json() == {"answer": 42}
