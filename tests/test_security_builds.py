"""Builds and images, against the real engine (issue 12, findings 2 and 3):
one app's build cannot plant code that another app's build or container
loads, build containers run unprivileged, and release images carry code
and antenv only: no app setting, connection string or build command in
their config, history or files. A container gets the settings of the
moment it starts, so a deleted setting is gone after the next restart."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import zip_files
from tests.security_helpers import table_fixture

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

table = table_fixture("Builds and images: shared caches, build privileges, secrets in images")

FLASK_APP = """
import os
from flask import Flask

print("GONE_SECRET=" + os.environ.get("GONE_SECRET", "<unset>"), flush=True)
app = Flask(__name__)


@app.route("/")
def index():
    return "ok"
"""

# App A's PRE_BUILD_COMMAND: a wheel of `six` 99.0 (higher than any real
# release, so pip prefers it) whose .pth runs in every Python that loads
# the environment it is installed in, copied everywhere the build can write.
PLANT = r"""
import os, pathlib, zipfile

pth = "import os; open('/tmp/planted-by-a', 'w').write(os.environ.get('VICTIM_SECRET', '?'))\n"
files = {
    "six.py": "__version__ = '99.0'\n",
    "zz_planted.pth": pth,
    "six-99.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: six\nVersion: 99.0\n",
    "six-99.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py2.py3-none-any\n",
}
files["six-99.0.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + "six-99.0.dist-info/RECORD,,\n"
places = [
    os.environ.get("PIP_CACHE_DIR", "") + "/wheels",
    "/var/cache/berth-pip/wheels",
    os.path.expanduser("~/.cache/pip/wheels"),
    "/tmp/pip-cache/wheels",
    "/tmp",
    "/home",
]
for place in places:
    try:
        pathlib.Path(place).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(f"{place}/six-99.0-py2.py3-none-any.whl", "w") as whl:
            for name, text in files.items():
                whl.writestr(name, text)
        print("planted in", place)
    except OSError as e:
        print("could not plant in", place, e)
"""


def _deploy(app: WebApp, files: dict[str, str], **app_settings: str) -> Deployment:
    if app_settings:
        config.set_app_settings(
            app, [config.SettingInput(k, v) for k, v in app_settings.items()], restart=False
        )
    d = services.run_deployment(services.create_deployment(app, zip_files(files)).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    return d


def test_one_apps_build_cannot_plant_a_wheel_that_another_app_loads(
    make_app, deploy_settings, table
):
    with table.attack("2", "A's PRE_BUILD plants a wheel with a .pth; B builds") as row:
        a = make_app("planter")
        planted = _deploy(
            a, {"app.py": FLASK_APP, "plant.py": PLANT}, PRE_BUILD_COMMAND="python3 plant.py"
        )
        assert "planted in" in planted.log  # the attack ran (in A's own build)
        b = make_app("victim")
        secret = secrets.token_hex(8)
        built = _deploy(b, {"app.py": FLASK_APP, "requirements.txt": "six\n"}, VICTIM_SECRET=secret)
        assert "six-99.0" not in built.log, built.log
        container = lifecycle_ops.active_deployment(b).container
        code, version = engine.exec_quick(
            container, ["antenv/bin/python", "-c", "import six; print(six.__version__)"]
        )
        assert code == 0 and version.strip() != "99.0", version
        code, _ = engine.exec_quick(container, ["test", "-e", "/tmp/planted-by-a"])
        assert code != 0  # the payload never ran, at build or at start
        image = lifecycle_ops.active_deployment(b).image
        code, found = engine.run_once(image, ["ls", "/tmp"], user="0", network_disabled=True)
        assert "planted-by-a" not in found
        row.outcome = f"refused: B installed six {version.strip()} from the index; no payload ran"


def _proc_status(log: str) -> dict[str, str]:
    return dict(re.findall(r"^\S*\s*(Uid|Gid|CapEff|CapPrm|CapBnd|NoNewPrivs):\s*(.*)$", log, re.M))


def test_the_build_runs_unprivileged_with_no_capabilities(make_app, deploy_settings, table):
    with table.attack("2", "a build reads its own uid, capabilities and NoNewPrivs") as row:
        app = make_app("buildcaps")
        probe = "grep -E '^(Uid|Gid|CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status"
        d = _deploy(app, {"app.py": FLASK_APP}, PRE_BUILD_COMMAND=probe)
        status = _proc_status(d.log)
        assert status["Uid"].split()[0] == "1000", d.log
        assert status["CapEff"] == "0000000000000000"
        assert status["CapPrm"] == "0000000000000000"
        assert status["CapBnd"] == "0000000000000000"
        assert status["NoNewPrivs"] == "1"
        row.outcome = "refused: the build runs as uid 1000, CapEff/CapBnd 0, NoNewPrivs 1"


def test_a_release_image_holds_no_setting_connection_string_or_build_command(
    make_app, deploy_settings, table
):
    with table.attack("3", "find a setting, a connection string, PRE_BUILD in the image") as row:
        app = make_app("imgsecret")
        setting, conn, command = (secrets.token_hex(12) for _ in range(3))
        config.set_connection_strings(
            app,
            [config.ConnectionStringInput("db", f"postgres://u:{conn}@db/x", "PostgreSQL")],
            restart=False,
        )
        d = _deploy(
            app,
            {"app.py": FLASK_APP},
            API_KEY=setting,
            PRE_BUILD_COMMAND=f"echo prebuild-{command} > /dev/null",
        )
        attrs = engine.client().api.inspect_image(d.image)
        history = engine.client().api.history(d.image)
        seen = json.dumps(attrs) + json.dumps(history)
        for value in (setting, conn, command):
            assert value not in seen
        assert "API_KEY" not in seen and "CONNSTR_" not in seen
        # Nor in any file of the image (what the build may have written).
        grep = ["grep", "-rlsF", "-e", setting, "-e", conn, "-e", command]
        excluded = ["--exclude-dir=proc", "--exclude-dir=sys", "--exclude-dir=dev", "/"]
        code, found = engine.run_once(
            d.image, grep + excluded, user="0", network_disabled=True, timeout=300
        )
        assert code == 1 and not found.strip(), found
        row.outcome = "refused: none in Config (Env, Cmd, Labels), history or files"


def test_a_deleted_setting_is_gone_after_the_next_restart(make_app, deploy_settings, table):
    with table.attack("3", "delete a secret setting, restart, read the container's env") as row:
        app = make_app("gone")
        value = secrets.token_hex(12)
        _deploy(app, {"app.py": FLASK_APP}, GONE_SECRET=value)
        before = lifecycle_ops.active_deployment(app).container
        assert engine.container_environment(before).get("GONE_SECRET") == value
        config.delete_app_settings(app, ["GONE_SECRET"], restart=False)
        outcome = lifecycle_ops.restart_app(app, reason="test")
        assert outcome.ok, outcome.message
        container = lifecycle_ops.active_deployment(app).container
        assert container != before
        env = engine.container_environment(container)
        assert "GONE_SECRET" not in env and value not in env.values()
        code, _ = engine.exec_quick(container, ["printenv", "GONE_SECRET"])
        assert code != 0
        # The app's own printout at start-up, unmasked, as the engine keeps it.
        printed = "\n".join(engine.container_logs(container, timestamps=False))
        assert "GONE_SECRET=<unset>" in printed and value not in printed
        row.outcome = "refused: the restarted container has no GONE_SECRET"


def _as_built_before_the_fix(image: str, env: dict[str, str]) -> None:
    """Re-make `image` the way Berth built releases before: committed from a
    container that had the app settings in its environment."""
    cmd = engine.client().api.inspect_image(image)["Config"]["Cmd"]
    name = f"legacy-{secrets.token_hex(3)}"
    container = engine.create_container(image, cmd, name=name, environment=env, labels={})
    try:
        engine.commit_container(container, image, changes=[], labels={})
    finally:
        engine.remove_container(container)


def test_a_restart_blanks_the_settings_an_older_release_image_still_holds(
    make_app, deploy_settings, table
):
    with table.attack("3", "restart from a release image built before the fix") as row:
        app = make_app("legacy")
        value = secrets.token_hex(12)
        d = _deploy(app, {"app.py": FLASK_APP})
        _as_built_before_the_fix(d.image, {"GONE_SECRET": value, "APPSETTING_GONE_SECRET": value})
        outcome = lifecycle_ops.restart_app(app, reason="test")
        assert outcome.ok, outcome.message
        assert "GONE_SECRET" in outcome.log and "are blanked in the container" in outcome.log
        container = lifecycle_ops.active_deployment(app).container
        env = engine.container_environment(container)
        assert env["GONE_SECRET"] == "" and value not in env.values()
        printed = "\n".join(engine.container_logs(container, timestamps=False))
        assert "GONE_SECRET=" in printed and value not in printed
        row.outcome = "refused: the old image's values are blanked at start (redeploy to clean)"
