"""Issue 16, against the real engine: a startup file runs whole whatever its
extension; gunicorn keeps App Service's --timeout 600 beside a
gunicorn.conf.py; /tmp is everyone's (1777) in the build, the app and an SSH
session; the build image compiles psycopg2, mysqlclient, lxml and Pillow
from source and runs npm, while the runtime image has neither compiler nor
Node.js but loads what was compiled."""

from __future__ import annotations

import json

import pytest
import requests
from asgiref.sync import async_to_sync

from apps.core import failures
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.diagnostics import runner
from apps.diagnostics.evidence import collect
from apps.engine import client as engine
from apps.engine.build_image import build_tag
from apps.engine.runtimes import image_tag
from apps.webapps.models import AppSetting
from tests.console_helpers import communicator, read_until, session_headers
from tests.deploy_helpers import zip_files

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings"),
]

PROBE_APP = """\
import os, stat, tempfile, time
from flask import Flask, request

app = Flask(__name__)


@app.route("/")
def index():
    mode = stat.S_IMODE(os.stat("/tmp").st_mode)
    with tempfile.NamedTemporaryFile(dir="/tmp") as f:
        wrote = f.name
    lines = ""
    if os.path.exists("/tmp/startup-lines"):
        with open("/tmp/startup-lines") as f:
            lines = f.read()
    return {
        "tmp_mode": oct(mode),
        "tempdir": tempfile.gettempdir(),
        "wrote": wrote,
        "uid": os.getuid(),
        "startup_lines": lines.split(),
    }


@app.route("/slow")
def slow():
    seconds = float(request.args["s"])
    time.sleep(seconds)
    return {"slept": seconds}
"""

# Three lines, then an exit: App Service runs the file whole; its failure
# falls through to the detected app (app.py here).
STARTUP_TXT = """\
echo one > /tmp/startup-lines
echo two >> /tmp/startup-lines
echo "startup.txt ran its third line"; exit 3
"""


def saved_line(deployment: Deployment) -> str:
    """The log's line on making the release image, with how long it took."""
    return next((ln for ln in deployment.log.splitlines() if "Release image" in ln), "")


def get(deployment: Deployment, path: str = "/", timeout: float = 10) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{deployment.host_port}{path}", timeout=timeout)


@pytest.fixture(scope="module", autouse=True)
def images():
    for tag in (image_tag("3.11"), build_tag("3.11")):
        if not engine.image_exists(tag):
            pytest.fail(f"{tag} is missing: run `python manage.py runtime ensure 3.11`")


def test_startup_txt_runs_whole_and_gunicorn_keeps_its_600_s_timeout(
    make_app, client, alice, settings
):
    app = make_app("fid-start", app_command_line="startup.txt")
    AppSetting.objects.create(
        app=app, name="PRE_BUILD_COMMAND", value="echo build-tmp=$(stat -c %a /tmp); touch /tmp/b"
    )
    files = {
        "app.py": PROBE_APP,
        "requirements.txt": "",
        "startup.txt": STARTUP_TXT,
        # Sets neither timeout nor logs: App Service's defaults must stay.
        "gunicorn.conf.py": "workers = 1\nthreads = 1\n",
    }
    d = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert d.status == "success", d.log
    assert "build-tmp=1777" in d.log
    print("\n" + saved_line(d))
    assert (
        "-c /home/site/wwwroot/gunicorn.conf.py --timeout 600 --access-logfile - "
        "--error-logfile - app:app"
    ) in d.log

    page = get(d).json()
    # Every line of startup.txt ran, then start-up fell through to app.py.
    assert page["startup_lines"] == ["one", "two"]
    # /tmp is everyone's, sticky; the app's user (uid 1000) writes there.
    assert page["uid"] == 1000
    assert page["tmp_mode"] == "0o1777"
    assert page["tempdir"] == "/tmp" and page["wrote"].startswith("/tmp/")
    logs = _logs(engine.find_app_container(app.name))
    assert "startup.txt ran its third line" in logs
    assert "exited with code 3" in logs

    # Longer than gunicorn's own 30 s default: the worker is not killed.
    answer = get(d, "/slow?s=35", timeout=60)
    assert answer.status_code == 200 and answer.json() == {"slept": 35.0}

    # An SSH session opens without errors and /tmp is the same there.
    headers = session_headers(client, alice)

    async def ssh() -> str:
        comm = communicator(app.name, headers)
        assert (await comm.connect(timeout=20))[0]
        out = await read_until(comm, "SSH CONNECTION ESTABLISHED")
        await comm.send_to(bytes_data=b"echo mode=$(stat -c %a /tmp) me=$(id -un)\r")
        out += await read_until(comm, "me=app")
        await comm.disconnect()
        return out

    out = async_to_sync(ssh)()
    assert "Permission denied" not in out and "cannot create" not in out, out
    assert "mode=1777" in out


def _logs(container: str) -> str:
    return engine.client().api.logs(container, stdout=True, stderr=True).decode(errors="replace")


NATIVE_APP = """\
import os, shutil
import MySQLdb, PIL, psycopg2
from flask import Flask
from lxml import etree
from PIL import Image, features

app = Flask(__name__)


@app.route("/")
def index():
    return {
        "psycopg2": psycopg2.__version__,
        "libpq": psycopg2.extensions.libpq_version(),
        "mysqlclient": MySQLdb.version_info[:3],
        "lxml": etree.tostring(etree.fromstring("<a><b>x</b></a>").find("b")).decode(),
        "pillow": PIL.__version__,
        "jpeg": features.check("jpg"),
        "zlib": features.check("zlib"),
        "bundle": open("static/bundle.txt").read().strip(),
        "node": shutil.which("node"),
        "gcc": shutil.which("gcc"),
    }
"""

PACKAGE_JSON = {
    "name": "front",
    "version": "1.0.0",
    "private": True,
    "scripts": {"build": "node build.js"},
}
PACKAGE_LOCK = {
    "name": "front",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {"": {"name": "front", "version": "1.0.0"}},
}
BUILD_JS = """\
const fs = require("fs");
fs.mkdirSync("static", { recursive: true });
fs.writeFileSync("static/bundle.txt", "built by node " + process.version + "\\n");
"""


def test_the_build_image_compiles_native_packages_and_runs_npm(make_app, settings):
    # Compiling Pillow from source on a shared machine takes a few minutes.
    settings.BERTH_BUILD_TIMEOUT = 1200
    app = make_app("fid-native")
    AppSetting.objects.create(app=app, name="PRE_BUILD_COMMAND", value="npm ci && npm run build")
    files = {
        "app.py": NATIVE_APP,
        # psycopg2 and mysqlclient have no Linux wheels; Pillow is forced to build.
        "requirements.txt": "flask\npsycopg2\nmysqlclient\nlxml\nPillow\n--no-binary Pillow\n",
        "package.json": json.dumps(PACKAGE_JSON),
        "package-lock.json": json.dumps(PACKAGE_LOCK),
        # No dependencies: npm needs no registry (and asks none for audits).
        ".npmrc": "audit=false\nfund=false\nupdate-notifier=false\n",
        "build.js": BUILD_JS,
    }
    d = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert d.status == "success", d.log[-6000:]
    assert f"Build container berth-build-{app.name}-{d.pk} from {build_tag('3.11')}" in d.log
    assert f"saved: {image_tag('3.11')} plus the build's /home/site/wwwroot" in d.log
    print("\n" + saved_line(d))
    lowered = d.log.lower()
    for package in ("psycopg2", "mysqlclient", "pillow"):
        assert f"building wheel for {package}" in lowered, package

    page = get(d).json()
    assert page["libpq"] > 0 and page["psycopg2"]
    assert page["lxml"] == "<b>x</b>"
    assert page["jpeg"] is True and page["zlib"] is True
    assert page["bundle"].startswith("built by node v")
    # Neither Node.js nor a compiler reaches the app's container.
    assert page["node"] is None and page["gcc"] is None

    # A code-only redeploy reuses antenv, and PRE_BUILD_COMMAND still finds npm.
    files["build.js"] = BUILD_JS.replace("built by node", "rebuilt by node")
    again = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert again.status == "success", again.log[-4000:]
    assert "reusing its virtual environment" in again.log
    assert "Copied antenv from" in again.log
    print("\n" + next(ln for ln in again.log.splitlines() if "Copied antenv" in ln))
    print(saved_line(again))
    page = get(again).json()
    assert page["bundle"].startswith("rebuilt by node v")
    assert page["pillow"] and page["mysqlclient"]


def test_a_missing_header_is_diagnosed_with_the_package_and_the_fix(make_app):
    # python-ldap has no Linux wheels and needs OpenLDAP's headers, which the
    # build image does not carry.
    app = make_app("fid-hdr")
    files = {
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "requirements.txt": "python-ldap\n",
    }
    d = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert d.status == "failed"
    assert d.failure_code == failures.BUILD_FAILED, (d.failure_code, d.log[-3000:])
    report = runner.run(collect(app))
    result = report.result("missing_build_header")
    assert result is not None and result.finding is not None, d.log[-3000:]
    finding = result.finding
    assert finding.facts["package"] == "python-ldap"
    assert finding.facts["debian_package"] == "libldap2-dev", finding.facts
    fix = "\n".join(step.text for step in finding.steps)
    assert "BERTH_BUILD_EXTRA_PACKAGES" in fix and "ldap3" in fix
