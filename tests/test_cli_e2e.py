"""The real `berth` CLI, as a subprocess, against a live portal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.webapps.models import AppSetting, WebApp

pytestmark = [pytest.mark.postgres]

BERTH = Path(sys.executable).parent / "berth"


@pytest.fixture
def portal(live_server, transactional_db, django_user_model, monkeypatch, tmp_path):
    django_user_model.objects.create_user("carol", "carol@example.org", "carol-password-1")
    # Settings changes restart the app through Celery: run those tasks in the
    # portal's own thread (they find no release yet and return) instead of
    # leaving them in the file broker for a worker that is not running.
    from portal.celery import app as celery_app

    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    return live_server.url


def berth(tmp_path: Path, *args: str, stdin: str | None = None, check: bool = True):
    env = {**os.environ, "BERTH_CONFIG_DIR": str(tmp_path / "cfg")}
    for name in ("BERTH_URL", "BERTH_TOKEN", "BERTH_OUTPUT"):
        env.pop(name, None)
    # The installed console script when pip install -e has run; the module otherwise.
    command = [str(BERTH)] if BERTH.exists() else [sys.executable, "-m", "berth_cli"]
    result = subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_the_cli_drives_a_live_portal(portal, tmp_path):
    # Log in with the password on stdin; the token lands in a private file, never on screen.
    login = subprocess.run(
        [
            sys.executable,
            "-m",
            "berth_cli",
            "login",
            "--url",
            portal,
            "-u",
            "carol",
            "--password-stdin",
        ],
        input="carol-password-1\n",
        capture_output=True,
        text=True,
        env={**os.environ, "BERTH_CONFIG_DIR": str(tmp_path / "cfg")},
        timeout=60,
    )
    assert login.returncode == 0, login.stderr
    saved = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert saved["token"].startswith("berth_")
    assert saved["token"] not in login.stdout + login.stderr
    assert oct((tmp_path / "cfg" / "config.json").stat().st_mode & 0o777) == "0o600"

    created = json.loads(
        berth(
            tmp_path, "webapp", "create", "-g", "demo", "-n", "cli-e2e", "--runtime", "PYTHON|3.11"
        ).stdout
    )
    assert created["name"] == "cli-e2e" and created["resourceGroup"] == "demo"
    listed = berth(tmp_path, "webapp", "list", "--query", "[].name", "-o", "tsv").stdout
    assert listed == "cli-e2e\n"

    berth(
        tmp_path, "webapp", "config", "set", "-g", "demo", "-n", "cli-e2e",
        "--linux-fx-version", "PYTHON|3.13", "--startup-file", "gunicorn --bind=0.0.0.0 app:app",
    )  # fmt: skip
    shown = berth(
        tmp_path, "webapp", "config", "show", "-g", "demo", "-n", "cli-e2e",
        "--query", "linuxFxVersion", "-o", "tsv",
    ).stdout  # fmt: skip
    assert shown == "PYTHON|3.13\n"
    assert WebApp.objects.get(name="cli-e2e").app_command_line == "gunicorn --bind=0.0.0.0 app:app"

    setting = berth(
        tmp_path, "webapp", "config", "appsettings", "set", "-g", "demo", "-n", "cli-e2e",
        "--settings", "DJANGO_SECRET=very-secret-value", "WEBSITES_PORT=8000",
    )  # fmt: skip
    assert json.loads(setting.stdout) == [
        {"name": "DJANGO_SECRET", "slotSetting": False, "value": None},
        {"name": "WEBSITES_PORT", "slotSetting": False, "value": None},
    ]
    assert "redacted" in setting.stderr
    assert AppSetting.objects.get(name="DJANGO_SECRET").value == "very-secret-value"
    listed = berth(
        tmp_path, "webapp", "config", "appsettings", "list", "-g", "demo", "-n", "cli-e2e"
    )
    assert "very-secret-value" not in listed.stdout
    shown = berth(
        tmp_path, "webapp", "config", "appsettings", "list", "-g", "demo", "-n", "cli-e2e",
        "--show-values", "--query", "[?name=='DJANGO_SECRET'].value | [0]", "-o", "tsv",
    ).stdout  # fmt: skip
    assert shown == "very-secret-value\n"
    deleted = berth(
        tmp_path, "webapp", "config", "appsettings", "delete", "-g", "demo", "-n", "cli-e2e",
        "--setting-names", "DJANGO_SECRET",
    )  # fmt: skip
    assert [s["name"] for s in json.loads(deleted.stdout)] == ["WEBSITES_PORT"]

    strings = berth(
        tmp_path, "webapp", "config", "connection-string", "set", "-g", "demo", "-n", "cli-e2e",
        "--connection-string-type", "PostgreSQL", "--settings", "DB=postgres://u:p@db/app",
    )  # fmt: skip
    assert json.loads(strings.stdout) == {"DB": {"type": "PostgreSQL", "value": None}}

    # The runtime catalog as the engine reports it (not patched).
    runtimes = json.loads(berth(tmp_path, "webapp", "list-runtimes", "--os", "linux").stdout)
    assert {r["config"] for r in runtimes} >= {"PYTHON|3.11", "PYTHON|3.13"}
    assert set(runtimes[0]) >= {"os", "runtime", "version", "config", "support", "end_of_life"}
    old = json.loads(berth(tmp_path, "webapp", "list-runtimes", "--linux").stdout)
    assert "PYTHON|3.11" in old
    table = berth(tmp_path, "webapp", "list-runtimes", "--os", "linux", "-o", "table").stdout
    assert table.splitlines()[0].split()[:3] == ["Runtime", "Version", "Config"]

    # Errors: a message on stderr and a non-zero exit, never a traceback.
    missing = berth(tmp_path, "webapp", "show", "-g", "demo", "-n", "nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("ERROR: (ResourceNotFound)")
    bad = berth(
        tmp_path, "webapp", "config", "set", "-g", "demo", "-n", "cli-e2e",
        "--linux-fx-version", "PYTHON|2.7", check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "PYTHON|3.11" in bad.stderr

    # az webapp update --https-only: the site's own property, the proxy told at once.
    updated = json.loads(
        berth(
            tmp_path, "webapp", "update", "-g", "demo", "-n", "cli-e2e", "--https-only", "true"
        ).stdout
    )
    assert updated["httpsOnly"] is True and WebApp.objects.get(name="cli-e2e").https_only

    berth(tmp_path, "webapp", "delete", "-g", "demo", "-n", "cli-e2e")
    assert not WebApp.objects.filter(name="cli-e2e").exists()
    assert berth(tmp_path, "webapp", "list").stdout == "[]\n"

    berth(tmp_path, "logout")
    after = berth(tmp_path, "webapp", "list", check=False)
    assert after.returncode == 1 and "Not logged in" in after.stderr
