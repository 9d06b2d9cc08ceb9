"""The berth CLI without a portal: arguments, output formats, --query, config
file, and webapp up's zip rules."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from unittest import mock

import pytest

from berth_cli import commands, config
from berth_cli.client import NotFound
from berth_cli.errors import CliError
from berth_cli.main import build_parser, main
from berth_cli.output import format_table, format_tsv, render
from berth_cli.ziputil import make_zip, plan


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTH_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("BERTH_URL", raising=False)
    monkeypatch.delenv("BERTH_TOKEN", raising=False)
    monkeypatch.delenv("BERTH_OUTPUT", raising=False)


def parse(*argv):
    return build_parser().parse_args(argv)


def test_it_parses_az_style_app_settings():
    args = parse(
        "webapp", "config", "appsettings", "set", "-g", "demo", "-n", "hello",
        "--settings", "A=1", "B=x=y", "--slot-settings", "C=3",
    )  # fmt: skip
    assert args.func is commands.appsettings_set
    assert (args.resource_group, args.name) == ("demo", "hello")
    assert commands.parse_settings(args.settings) == [
        {"name": "A", "value": "1", "slotSetting": False},
        {"name": "B", "value": "x=y", "slotSetting": False},
    ]
    assert commands.parse_settings(args.slot_settings, slot=True)[0]["slotSetting"] is True


def test_it_parses_the_commands_the_app_service_docs_use():
    assert parse("webapp", "list-runtimes", "--linux").linux is True
    assert parse("webapp", "list-runtimes", "--os-type", "linux").os_type == "linux"
    args = parse(
        "webapp", "config", "set", "-g", "g", "-n", "n", "--startup-file", "gunicorn app:app"
    )
    assert args.startup_file == "gunicorn app:app"
    args = parse("webapp", "up", "--runtime", "PYTHON:3.13", "--sku", "B1", "--logs")
    assert (args.runtime, args.logs) == ("PYTHON:3.13", True)
    args = parse("webapp", "create", "-g", "g", "-p", "plan", "-n", "n", "--runtime", "PYTHON:3.11")
    assert args.plan == "plan"
    args = parse(
        "webapp", "config", "connection-string", "set", "-g", "g", "-n", "n",
        "--connection-string-type", "PostgreSQL", "--settings", "DB=postgres://x",
    )  # fmt: skip
    assert args.connection_string_type == "PostgreSQL"
    args = parse("webapp", "deploy", "-g", "g", "-n", "n", "--src-path", "app.zip", "--type", "zip")
    assert args.src_path == "app.zip"
    assert (
        parse("webapp", "log", "deployment", "show", "-n", "n").func is commands.log_deployment_show
    )
    assert parse("webapp", "log", "tail", "-n", "n", "-o", "tsv").output == "tsv"


def test_settings_files_take_both_az_shapes(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"name": "A", "value": "1", "slotSetting": True}]))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"B": 2}))
    assert commands.parse_settings([f"@{listed}", f"@{mapping}"]) == [
        {"name": "A", "value": "1", "slotSetting": True},
        {"name": "B", "value": "2", "slotSetting": False},
    ]
    with pytest.raises(CliError, match="KEY=VALUE"):
        commands.parse_settings(["NOVALUE"])


def test_usage_errors_exit_2_without_a_traceback(capsys):
    with pytest.raises(SystemExit) as e:
        main(["webapp", "show", "-g", "g"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "ERROR:" in err and "--name" in err and "Traceback" not in err


def test_it_says_to_log_in_first(capsys):
    assert main(["webapp", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: Not logged in: run `berth login")


def test_a_bad_query_fails_before_any_request(capsys):
    assert main(["webapp", "list", "--query", "[?name=="]) == 2
    assert "--query" in capsys.readouterr().err


def test_unexpected_errors_are_one_line(capsys, monkeypatch):
    monkeypatch.setattr(commands, "webapp_list", lambda args: 1 / 0)
    assert main(["webapp", "list"]) == 1
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and "Traceback" not in err and "--debug" in err


SITES = [
    {"name": "b", "resourceGroup": "g", "state": "Running", "enabled": True, "tags": None,
     "hostNames": ["b.localhost"], "siteConfig": {"linuxFxVersion": "PYTHON|3.11"}},
    {"name": "a", "resourceGroup": "g", "state": "Stopped", "enabled": False, "tags": None,
     "hostNames": [], "siteConfig": {}},
]  # fmt: skip


def test_json_output_is_sorted_and_indented_like_az():
    text = render({"b": 1, "a": [True, None]})
    assert text == '{\n  "a": [\n    true,\n    null\n  ],\n  "b": 1\n}\n'


def test_tsv_output_follows_knack():
    # Values in key order; nested lists as their length, objects empty, null as None.
    assert format_tsv(SITES) == "True\t1\tb\tg\t\tRunning\tNone\nFalse\t0\ta\tg\t\tStopped\tNone\n"
    assert format_tsv("PYTHON|3.11") == "PYTHON|3.11\n"
    assert format_tsv(True) == "true\n"


def test_query_then_tsv_gives_a_bare_value():
    config = {"linuxFxVersion": "PYTHON|3.11", "alwaysOn": True}
    assert render(config, output="tsv", query="linuxFxVersion") == "PYTHON|3.11\n"
    assert render(config, output="json", query="linuxFxVersion") == '"PYTHON|3.11"\n'
    assert render(SITES, output="tsv", query="[].name") == "b\na\n"
    assert render(SITES, output="json", query="[?state=='Stopped'].name") == '[\n  "a"\n]\n'


def test_table_output_shows_scalar_columns():
    text = format_table(SITES)
    lines = text.splitlines()
    assert lines[0].split() == ["Name", "ResourceGroup", "State", "Enabled", "Tags"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split()[:3] == ["b", "g", "Running"]
    assert format_table(["PYTHON|3.11"]).splitlines()[0] == "Result"


def test_none_output_prints_nothing():
    assert render(SITES, output="none") == ""


def test_the_config_file_is_private(tmp_path):
    path = config.save({"url": "http://127.0.0.1:1", "token": "berth_x", "user": "alice"})
    assert path == tmp_path / "cfg" / "config.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    profile = config.current_profile()
    assert (profile.url, profile.token) == ("http://127.0.0.1:1", "berth_x")


def test_the_environment_overrides_the_config(monkeypatch):
    config.save({"url": "http://127.0.0.1:1", "token": "berth_x"})
    monkeypatch.setenv("BERTH_TOKEN", "berth_ci")
    assert config.current_profile().token == "berth_ci"


def test_unreachable_portals_get_a_clear_message(capsys):
    config.save({"url": "http://127.0.0.1:9", "token": "berth_x"})
    assert main(["webapp", "list"]) == 1
    assert "Cannot reach the Berth portal at http://127.0.0.1:9" in capsys.readouterr().err


def test_login_without_a_terminal_asks_for_password_stdin(capsys, monkeypatch):
    with open(os.devnull) as devnull:
        monkeypatch.setattr("sys.stdin", devnull)
        assert main(["login", "--url", "http://127.0.0.1:9", "-u", "alice"]) == 1
    assert "--password-stdin" in capsys.readouterr().err


# --- webapp up's zip rules ---------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "My_Flask App"
    root.mkdir()
    (root / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    (root / "requirements.txt").write_text("flask\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / ".env.example").write_text("SECRET=\n")
    for folder in (".venv", "venv", "antenv", "environments", ".git", "static"):
        (root / folder).mkdir()
        (root / folder / "x.txt").write_text("x")
    (root / "static" / ".env").write_text("nested")
    (root / "link.py").symlink_to(root / "app.py")
    (root / "linkdir").symlink_to(root / "static")
    return root


def test_up_zips_like_az_skipping_envs_dotenv_and_symlinks(project):
    zip_plan = plan(project)
    assert zip_plan.files == [".env.example", "app.py", "requirements.txt", "static/x.txt"]
    for skipped in (
        ".env",
        ".venv/",
        "venv/",
        "antenv/",
        "environments/",
        ".git/",
        "link.py",
        "linkdir/",
        "static/.env",
    ):
        assert skipped in zip_plan.skipped
    archive = make_zip(zip_plan)
    try:
        with zipfile.ZipFile(archive) as zf:
            assert sorted(zf.namelist()) == zip_plan.files
    finally:
        archive.unlink()


def test_up_names_the_app_after_the_folder(project):
    assert commands.default_app_name(project) == "my-flask-app"


class FakeClient:
    url = "http://127.0.0.1:1"

    def __init__(self):
        self.calls = []

    def call(self, method, path, **kwargs):
        self.calls.append((method, path))
        raise NotFound("not found")


def test_up_dryrun_changes_nothing(project, monkeypatch, capsys):
    fake = FakeClient()
    monkeypatch.setattr(commands, "_client", lambda: fake)
    assert (
        main(["webapp", "up", "--src-path", str(project), "--dryrun", "--runtime", "PYTHON:3.13"])
        == 0
    )
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["name"] == "my-flask-app"
    assert summary["runtime_version"] == "python|3.13"
    assert summary["src_path"] == str(project)
    assert "would create the app" in err and "4 files" in err
    assert fake.calls == [("GET", "/api/apps/my-flask-app")]


def test_deployment_logs_become_az_entries():
    deployment = {"id": 7, "received_time": "2026-05-01T10:00:00+00:00"}
    entries = commands.deployment_log_entries(
        deployment, "10:00:01 Building\n\n10:00:09 Deployment failed: pip\nplain line\n"
    )
    assert [e["message"] for e in entries] == ["Building", "Deployment failed: pip", "plain line"]
    assert [e["log_time"] for e in entries] == [
        "2026-05-01T10:00:01",
        "2026-05-01T10:00:09",
        "2026-05-01T10:00:09",
    ]
    assert [e["type"] for e in entries] == [0, 2, 0]
    assert set(entries[0]) == {"details_url", "id", "log_time", "message", "type"}


class StackChangeClient:
    """A portal that answers a stack change with a rebuild to follow."""

    url = "http://127.0.0.1:1"

    def __init__(self, outcome: str):
        self.outcome = outcome
        self.polls = 0

    def request(self, method, path, **kwargs):
        response = mock.Mock()
        if method == "GET":
            assert path == "/api/apps/hello/deployments/7/log"
            response.text = "12:00:00 The build failed (exit code 1).\n"
            return response
        assert (method, path) == ("PATCH", "/api/apps/hello/config")
        response.json.return_value = {"linuxFxVersion": kwargs["json"]["linuxFxVersion"]}
        response.headers = {"Berth-Rebuild": "/api/apps/hello/deployments/7"}
        return response

    def call(self, method, path, **kwargs):
        self.polls += 1
        done = self.polls > 1
        return {
            "id": 7,
            "status": self.outcome if done else "building",
            "complete": done,
            "status_text": "The build failed (exit code 1)." if done else "Building",
            "failure_code": "build_failed" if self.outcome == "failed" and done else "",
        }


def test_a_stack_change_follows_the_rebuild_until_it_serves(monkeypatch, capsys):
    fake = StackChangeClient("success")
    monkeypatch.setattr(commands, "_client", lambda: fake)
    monkeypatch.setattr(commands, "POLL_EVERY", 0)
    code = main(["webapp", "config", "set", "-n", "hello", "--linux-fx-version", "PYTHON|3.13"])
    err = capsys.readouterr().err
    assert code == 0
    assert "Building hello again for PYTHON|3.13 (deployment 7)" in err
    assert "Status: building" in err and "hello now runs PYTHON|3.13" in err


def test_a_failed_rebuild_is_an_error_with_the_reason(monkeypatch, capsys):
    monkeypatch.setattr(commands, "_client", lambda: StackChangeClient("failed"))
    monkeypatch.setattr(commands, "POLL_EVERY", 0)
    code = main(["webapp", "config", "set", "-n", "hello", "--linux-fx-version", "PYTHON|3.13"])
    err = capsys.readouterr().err
    assert code != 0
    assert "Deployment 7 failed (build_failed)" in err
