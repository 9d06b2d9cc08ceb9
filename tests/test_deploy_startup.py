from __future__ import annotations

import subprocess

import pytest

from apps.lifecycle.source import SourceTree
from apps.lifecycle.startup import classify_custom, describe, detect, flask_object, script

FLASK = "from flask import Flask\napp = Flask(__name__)\n"


def tree(*paths: str, **contents: str) -> SourceTree:
    files = dict.fromkeys(paths, "")
    files.update({k.replace("__", "/").replace("_py", ".py"): v for k, v in contents.items()})
    return SourceTree.from_files(files)


def test_it_detects_django_in_an_immediate_subfolder():
    d = detect(tree("manage.py", "mysite/wsgi.py", "mysite/settings.py"))
    assert d.rule == "django"
    assert d.command == (
        "gunicorn --bind=0.0.0.0:$PORT --timeout 600 --access-logfile - --error-logfile - mysite.wsgi"
    )


def test_it_skips_virtual_environments_when_looking_for_wsgi_py():
    d = detect(tree("antenv/wsgi.py", "venv/pyvenv.cfg", "venv/wsgi.py", "site/wsgi.py"))
    assert d.command.endswith(" site.wsgi")


def test_it_uses_chdir_for_a_nested_django_project():
    d = detect(tree("backend/manage.py", "backend/config/wsgi.py", "README.md"))
    assert d.rule == "django"
    assert d.command.endswith("--chdir backend config.wsgi")
    assert "found backend/config/wsgi.py" in d.reason


def test_it_prefers_application_py_over_app_py():
    d = detect(SourceTree.from_files({"application.py": FLASK, "app.py": FLASK}))
    assert d.rule == "flask"
    assert d.command.endswith(" application:app")


def test_it_detects_flask_in_app_py():
    d = detect(SourceTree.from_files({"app.py": FLASK, "requirements.txt": "flask\n"}))
    assert d.command.endswith(" app:app")


@pytest.mark.parametrize("filename", ["run.py", "index.py", "server.py", "wsgi.py", "main.py"])
def test_it_looks_further_than_oryx_for_flask(filename):
    d = detect(SourceTree.from_files({filename: FLASK}))
    assert d.command.endswith(f" {filename[:-3]}:app")


def test_it_finds_a_flask_object_not_named_app():
    d = detect(SourceTree.from_files({"app.py": "import flask\nserver = flask.Flask(__name__)\n"}))
    assert d.command.endswith(" app:server")
    assert "object server" in d.reason


def test_it_uses_a_factory_when_there_is_no_flask_object():
    assert flask_object("from flask import Flask\ndef create_app():\n    return Flask('x')\n") == (
        "create_app()"
    )
    d = detect(SourceTree.from_files({"app.py": "def create_app():\n    pass\n"}))
    assert d.command.endswith(" 'app:create_app()'")


def test_it_falls_back_to_app_for_unparsable_files():
    assert flask_object("def (:") == "app"


def test_it_serves_the_default_site_when_nothing_matches():
    d = detect(tree("README.md", "static/index.html"))
    assert d.rule == "default"
    assert "--chdir /opt/defaultsite" in d.command
    assert any("Flask" in x for x in d.looked_for)
    assert any("Django" in x for x in d.looked_for)


def test_it_honours_gunicorn_conf_py_and_still_binds_the_port():
    # The file sets no timeout nor logs: App Service's defaults still apply.
    d = detect(SourceTree.from_files({"app.py": FLASK, "gunicorn.conf.py": "workers = 2\n"}))
    assert d.command == (
        "gunicorn --bind=0.0.0.0:$PORT -c /home/site/wwwroot/gunicorn.conf.py "
        "--timeout 600 --access-logfile - --error-logfile - app:app"
    )


def test_a_gunicorn_conf_py_setting_replaces_only_its_own_default():
    conf = "import os\ntimeout = int(os.getenv('T', '45'))\naccesslog, errorlog = None, '-'\n"
    d = detect(SourceTree.from_files({"app.py": FLASK, "gunicorn.conf.py": conf}))
    assert (
        d.command == "gunicorn --bind=0.0.0.0:$PORT -c /home/site/wwwroot/gunicorn.conf.py app:app"
    )
    only = detect(
        SourceTree.from_files({"app.py": FLASK, "gunicorn.conf.py": "timeout: int = 5\n"})
    )
    assert "--timeout" not in only.command
    assert "--access-logfile - --error-logfile - app:app" in only.command


def test_a_startup_command_running_gunicorn_gets_the_defaults_it_does_not_set():
    files = {"app.py": FLASK, "startup.txt": "echo hi\ngunicorn app:app\n"}
    d = detect(SourceTree.from_files(files))
    text = script(d, "startup.txt", SourceTree.from_files(files))
    assert (
        'GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS---timeout 600 --access-logfile - '
        '--error-logfile -}" bash startup.txt &'
    ) in text
    # Its own config file wins: no GUNICORN_CMD_ARGS over it.
    own = script(d, "gunicorn -c conf/g.py app:app", SourceTree.from_files(files))
    assert "GUNICORN_CMD_ARGS" not in own
    # The root gunicorn.conf.py's settings are left out.
    files["gunicorn.conf.py"] = "timeout = 90\n"
    text = script(d, "gunicorn app:app", SourceTree.from_files(files))
    assert '"${GUNICORN_CMD_ARGS---access-logfile - --error-logfile -}"' in text


def test_it_classifies_custom_startup_commands():
    t = tree("startup.sh", "startup.txt")
    assert classify_custom("", t).kind == ""
    assert classify_custom("startup.sh", t).kind == "script"
    assert classify_custom("./startup.sh", t).kind == "script"
    assert classify_custom("startup.txt", t).kind == "script"
    assert classify_custom("missing.sh", t).kind == "missing-file"
    assert classify_custom("gunicorn --bind=0.0.0.0 app:app", t).kind == "command"


def test_it_describes_the_rule_and_the_exact_command():
    d = detect(SourceTree.from_files({"app.py": FLASK}))
    text = describe(d, "python serve.py")
    assert "startup command: python serve.py" in text
    assert "Detected: flask (found app.py)" in text
    assert "Command: gunicorn --bind=0.0.0.0:$PORT" in text


@pytest.mark.parametrize("command", ["", "startup.sh", "startup.txt", "missing.sh", "exit 3"])
def test_it_writes_start_up_scripts_bash_accepts(command):
    d = detect(SourceTree.from_files({"app.py": "def create_app():\n    pass\n"}))
    text = script(d, command, tree("startup.sh", "startup.txt"))
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    assert "exec $GUNICORN --bind=0.0.0.0:$PORT" in text


def test_it_falls_through_when_the_custom_command_exits(tmp_path):
    d = detect(tree("README.md"))
    text = script(d, "echo custom ran; exit 3").replace("cd /home/site/wwwroot", f"cd {tmp_path}")
    # Stop before the final exec: we only want the fall-through messages.
    text = text.replace("exec $GUNICORN", "echo would run")
    text = text.replace("[ -d /opt/defaultsite ] ||", "true ||")
    out = subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=10).stdout
    assert "custom ran" in out
    assert "exited with code 3" in out
    assert "Falling back to automatic detection" in out
    assert "Detected: default" in out
    assert "would run --bind=0.0.0.0:$PORT" not in out  # $PORT expanded
    assert "would run --bind=0.0.0.0:8000" in out
