"""Code-only redeploys against the real engine: the previous release's
virtual environment is reused, the code is replaced (deleted files go), and a
change in requirements.txt brings back the full pip install."""

from __future__ import annotations

import secrets

import pytest
import requests

from apps.deployments import build, services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.webapps.models import WebApp
from tests.deploy_helpers import SAMPLES, cleanup_app, zip_sample

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings"),
]

APP_PY = (SAMPLES / "flask_app" / "app.py").read_text()
LISTING = """

@app.route("/files")
def files():
    return {"files": sorted(f for f in os.listdir(".") if f != "__pycache__")}
"""


@pytest.fixture
def app(alice):
    app = WebApp.objects.create(name=f"e2e-reuse-{secrets.token_hex(3)}", owner=alice)
    yield app
    cleanup_app(app.name)


def deploy(app: WebApp, version: str, **replace: str) -> Deployment:
    files = {"app.py": APP_PY.replace('"v1"', f'"{version}"') + LISTING, **replace}
    d = services.run_deployment(services.create_deployment(app, zip_sample("flask_app", files)).pk)
    assert d.status == "success", d.log
    return d


def page(d: Deployment, path: str = "/") -> dict:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{d.host_port}{path}", timeout=10).json()


def test_a_code_only_redeploy_reuses_the_venv_and_drops_deleted_files(app):
    v1 = deploy(app, "v1", **{"old_module.py": "X = 1\n"})
    assert "No earlier successful release to reuse: full build." in v1.log
    assert "old_module.py" in page(v1, "/files")["files"]

    v2 = deploy(app, "v2")
    assert (
        f"requirements.txt unchanged since deployment {v1.pk}: reusing its virtual environment"
        in v2.log
    )
    assert "pip install: skipped, reusing antenv" in v2.log
    assert "Running: pip install" not in v2.log
    assert page(v2)["version"] == "v2"
    assert page(v2, "/files")["files"] == ["antenv", "app.py", "requirements.txt"]
    labels = engine.image_facts(v2.image).labels
    assert build.parse_inputs(labels)[1] == 1

    # A changed requirements.txt: the full install again, from the runtime image.
    v3 = deploy(app, "v3", **{"requirements.txt": "flask\nitsdangerous\n"})
    assert f"requirements.txt changed since deployment {v2.pk}: full build." in v3.log
    assert "Running: pip install" in v3.log
    assert page(v3)["version"] == "v3"
    assert build.parse_inputs(engine.image_facts(v3.image).labels)[1] == 0


def test_a_failing_reusing_build_leaves_the_old_release_serving(app):
    from apps.webapps.models import AppSetting

    v1 = deploy(app, "v1")
    AppSetting.objects.create(app=app, name="POST_BUILD_COMMAND", value="exit 3")
    d = services.run_deployment(
        services.create_deployment(app, zip_sample("flask_app", {"app.py": APP_PY + LISTING})).pk
    )
    assert d.status == "failed", d.log
    assert "reusing its virtual environment" in d.log
    assert page(v1)["version"] == "v1"
    assert Deployment.objects.get(app=app, active=True).pk == v1.pk
