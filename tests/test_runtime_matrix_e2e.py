"""Every runtime the catalog calls available here builds and serves a Flask
and a Django app, through the build image, on the real engine. `make test`
builds them all first (`manage.py runtime ensure --available`); a version
that cannot be built here is skipped with the catalog's reason."""

from __future__ import annotations

import pytest
import requests

from apps.deployments import services
from apps.engine import client as engine
from apps.engine import runtimes
from tests.deploy_helpers import zip_sample

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings"),
]


def _answer(port: int) -> dict:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{port}/", timeout=10).json()


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_every_available_runtime_serves_flask_and_django(version, make_app, settings):
    rt = runtimes.runtime(version)
    if rt.status != runtimes.Status.READY:
        pytest.skip(f"Python {version} is not ready here ({rt.status}): {rt.detail}")
    settings.BERTH_BUILD_TIMEOUT = 600
    for sample, expect in (("flask_app", "version"), ("django_app", "framework")):
        app = make_app(
            f"mx-{version.replace('.', '')}-{sample[:3]}", linux_fx_version=f"PYTHON|{version}"
        )
        d = services.run_deployment(services.create_deployment(app, zip_sample(sample)).pk)
        assert d.status == "success", d.log[-3000:]
        assert expect in _answer(d.host_port)
        code, out = engine.exec_quick(d.container, ["python", "--version"])
        assert code == 0 and out.split()[1].startswith(version + "."), out
