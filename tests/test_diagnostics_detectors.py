"""Each detector, on hand-made Evidence: it fires with the right evidence and
fix, and stays quiet on a healthy app."""

from __future__ import annotations

import pytest

from apps.diagnostics import registry, runner
from apps.diagnostics.findings import Status
from tests.diagnostics_helpers import HEALTHY_FLASK, evidence, with_error


def finding(detector_id: str, ev):
    d = registry.get(detector_id)
    assert d is not None
    return d.check(ev)


def texts(f) -> str:
    return "\n".join(i.text for i in f.evidence)


def steps(f) -> str:
    return "\n".join(s.text for s in f.steps)


def test_it_finds_nothing_wrong_with_a_healthy_flask_app():
    report = runner.run(evidence())
    assert [r.detector.id for r in report.fired()] == []
    assert report.status == Status.HEALTHY
    assert len(report.results) == len(registry.MODULES)


def test_it_finds_nothing_wrong_with_a_healthy_django_app():
    files = {
        "manage.py": "import os\n",
        "mysite/__init__.py": "",
        "mysite/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
        "mysite/settings.py": (
            "import os\nSECRET_KEY = os.environ['SECRET_KEY']\nDEBUG = False\n"
            "INSTALLED_APPS = ['django.contrib.staticfiles']\n"
            "MIDDLEWARE = ['django.middleware.security.SecurityMiddleware', 'whitenoise.middleware.WhiteNoiseMiddleware']\n"
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql'}}\n"
            "STATIC_ROOT = 'staticfiles'\n"
        ),
        "requirements.txt": "Django>=5\nwhitenoise\npsycopg[binary]\n",
    }
    assert runner.run(evidence(files=files)).fired() == []


# Default site


def test_it_says_the_default_site_answers_and_finds_the_app_object():
    files = {
        "website/hello.py": "from flask import Flask\nmyapp = Flask(__name__)\n",
        "requirements.txt": "",
    }
    log = "[berth-startup] Detected: default (no app found: serving the default site)\n"
    f = finding("default_site", evidence(files=files, container_log=log))
    assert f.status == Status.CRITICAL
    assert "a Flask app named `myapp` in website/hello.py" in f.cause
    assert "Detected: default" in texts(f)
    assert "looked for Flask: application.py" in texts(f) or "looked for Flask: " in texts(f)
    assert f.action.value == "gunicorn --bind=0.0.0.0 --timeout 600 --chdir website hello:myapp"


def test_it_finds_a_fastapi_app_in_main_py_from_the_start_up_rules_alone():
    files = {
        "api/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "requirements.txt": "fastapi\n",
    }
    f = finding("default_site", evidence(files=files, container_log=""))
    assert f is not None
    assert "FastAPI" in f.cause
    assert "-k uvicorn.workers.UvicornWorker --chdir api main:app" in f.action.value
    assert "uvicorn" in steps(f)


def test_it_says_the_zip_holds_a_folder_instead_of_its_contents():
    files = {
        "myproject/app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "myproject/requirements.txt": "",
    }
    f = finding(
        "default_site", evidence(files=files, container_log="Detected: default (no app found)\n")
    )
    assert "everything is inside the folder myproject/" in texts(f)
    assert "Zip the contents of the folder" in steps(f)


def test_it_does_not_call_the_default_site_a_problem_when_no_code_was_deployed():
    log = "[berth-startup] Detected: default (no app found: serving the default site)\n"
    assert finding("default_site", evidence(files={}, container_log=log)) is None


# Service Unavailable


def test_it_reports_a_worker_that_fails_to_boot_with_its_exception():
    log = with_error(
        "Traceback (most recent call last):",
        '  File "/home/site/wwwroot/app.py", line 3, in <module>',
        "    from helpers import nope",
        "ImportError: cannot import name 'nope' from 'helpers' (/home/site/wwwroot/helpers.py)",
        "[2025-05-01 12:00:02 +0000] [7] [ERROR] Worker failed to boot.",
    )
    f = finding("service_unavailable", evidence(container_log=log))
    assert f.status == Status.CRITICAL
    assert "ImportError: cannot import name 'nope'" in f.cause
    assert "Worker failed to boot." in texts(f)
    assert all(i.timestamp is not None for i in f.evidence)


def test_it_offers_the_right_object_when_gunicorn_cannot_find_app():
    files = {
        "app.py": "from flask import Flask\napplication = Flask(__name__)\n",
        "requirements.txt": "",
    }
    log = with_error(
        "[ERROR] Failed to find attribute 'app' in 'app'.", "[INFO] Worker exiting (pid: 8)"
    )
    f = finding("service_unavailable", evidence(files=files, container_log=log))
    assert "no object named `app`" in f.cause
    assert f.action.value == "gunicorn --bind=0.0.0.0 --timeout 600 app:application"


def test_it_reports_worker_timeouts():
    f = finding(
        "service_unavailable",
        evidence(container_log=with_error("[CRITICAL] WORKER TIMEOUT (pid:8)")),
    )
    assert "WORKER TIMEOUT" in f.cause
    assert "WORKER TIMEOUT (pid:8)" in texts(f)


# ModuleNotFoundError


@pytest.mark.parametrize(
    ("module", "dist"),
    [("yaml", "PyYAML"), ("PIL", "Pillow"), ("dotenv", "python-dotenv"), ("requests", "requests")],
)
def test_it_names_the_package_to_add_for_a_missing_module(module, dist):
    log = with_error(
        f"ModuleNotFoundError: No module named '{module}'", "[ERROR] Worker failed to boot."
    )
    f = finding("module_not_found", evidence(container_log=log))
    assert f.facts["line_to_add"] == dist
    assert f"Add the line `{dist}` to requirements.txt" in steps(f)
    assert f"No module named '{module}'" in texts(f)


def test_it_blames_a_committed_virtual_environment():
    listing = [
        "venv/pyvenv.cfg",
        "venv/bin/activate",
        "venv/lib/python3.11/site-packages/yaml/__init__.py",
    ]
    log = with_error("ModuleNotFoundError: No module named 'yaml'")
    f = finding("module_not_found", evidence(listing=listing, container_log=log))
    assert "virtual environment (venv/)" in f.cause
    assert "venv/ is a virtual environment (venv/pyvenv.cfg)" in texts(f)
    assert "Delete venv/" in steps(f)


def test_it_warns_about_a_committed_virtual_environment_even_before_it_breaks():
    f = finding("module_not_found", evidence(listing=[".venv/pyvenv.cfg"]))
    assert f.status == Status.WARNING


def test_it_says_the_build_was_off_when_the_package_is_listed():
    files = {**HEALTHY_FLASK, "app.py": "import yaml\n", "requirements.txt": "Flask\nPyYAML==6.0\n"}
    log = with_error("ModuleNotFoundError: No module named 'yaml'")
    ev = evidence(
        files=files,
        container_log=log,
        app={"app_settings": {"SCM_DO_BUILD_DURING_DEPLOYMENT": "false"}},
    )
    f = finding("module_not_found", ev)
    assert "SCM_DO_BUILD_DURING_DEPLOYMENT=false" in f.cause


# SQLite locked


def test_it_points_at_the_databases_setting_when_sqlite_is_locked():
    files = {
        **HEALTHY_FLASK,
        "mysite/settings.py": "INSTALLED_APPS = []\n\nDATABASES = {\n    'default': {'ENGINE': 'django.db.backends.sqlite3'}\n}\n",
    }
    log = with_error("django.db.utils.OperationalError: database is locked")
    f = finding("sqlite_locked", evidence(files=files, container_log=log))
    assert f.facts["settings"] == "mysite/settings.py:3"
    assert any(i.where == "mysite/settings.py:3" for i in f.evidence)
    assert "Connection strings" in [s.link_text for s in f.steps]


# Static files


DJANGO_NO_WHITENOISE = {
    "manage.py": "",
    "mysite/wsgi.py": "",
    "mysite/settings.py": "DEBUG = False\nINSTALLED_APPS = ['django.contrib.staticfiles']\nMIDDLEWARE = []\n",
    "requirements.txt": "Django\n",
}


def test_it_says_django_static_files_need_whitenoise_and_static_root():
    f = finding("static_files", evidence(files=DJANGO_NO_WHITENOISE))
    assert f.status == Status.CRITICAL
    assert f.facts["missing"] == "WhiteNoise,STATIC_ROOT"
    assert "whitenoise is not in requirements.txt" in texts(f)
    assert "DEBUG = False" in texts(f)
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in steps(f)


def test_it_ignores_apps_that_are_not_django():
    assert finding("static_files", evidence()) is None


# SSL required


def test_it_suggests_sslmode_when_the_database_requires_ssl():
    log = with_error(
        "psycopg.OperationalError: connection failed: FATAL:  SSL connection is required"
    )
    ev = evidence(
        container_log=log, app={"connection_strings": (("db", "PostgreSQL", "host=x dbname=y"),)}
    )
    f = finding("database_ssl", ev)
    assert "db (PostgreSQL): does not set sslmode" in texts(f)
    assert "sslmode=require" in steps(f)


# Crash loop


def test_it_reports_an_out_of_memory_kill():
    ev = evidence(
        container={"status": "restarting", "exit_code": 137, "oom_killed": True, "restart_count": 5}
    )
    f = finding("crash_loop", ev)
    assert "out of memory" in f.cause
    assert "exit code 137, OOMKilled true, RestartCount 5" in texts(f)


def test_it_reports_a_container_that_exits_and_its_last_lines():
    ev = evidence(
        container={"status": "exited", "exit_code": 127, "restart_count": 3},
        container_log=with_error("bash: line 1: gunicron: command not found"),
    )
    f = finding("crash_loop", ev)
    assert "exit code 127" in f.cause and "not found" in f.cause
    assert "gunicron: command not found" in texts(f)


def test_it_leaves_a_stopped_app_alone():
    ev = evidence(container={"status": "exited", "exit_code": 143}, app={"state": "Stopped"})
    assert finding("crash_loop", ev) is None


# Start-up time limit and port


def test_it_reports_an_app_listening_on_localhost():
    files = {
        "app.py": "from flask import Flask\napp = Flask(__name__)\nif __name__ == '__main__':\n    app.run()\n",
        "requirements.txt": "",
    }
    log = "[berth-startup] Running: python app.py\n * Running on http://127.0.0.1:5000\n"
    ev = evidence(
        files=files,
        container_log=log,
        app={"app_command_line": "python app.py"},
        status="failed",
        status_text="didn't respond to HTTP pings on port 8000",
    )
    f = finding("startup_timeout", ev)
    assert "127.0.0.1:5000" in f.cause
    assert "app.py:4" in [i.where for i in f.evidence]
    assert f.action.value == "gunicorn --bind=0.0.0.0 --timeout 600 app:app"


def test_it_reports_the_start_up_time_limit_from_the_failure_code():
    f = finding(
        "startup_timeout",
        evidence(
            build_log="Started container berth-hello-2; waiting for HTTP.\n",
            status="failed",
            failure_code="start_timeout",
            failure_evidence={"limit_s": 230, "status": None, "last": "GET /: no answer"},
        ),
    )
    assert "start-up time limit" in f.cause
    assert "WEBSITES_CONTAINER_START_TIME_LIMIT" in steps(f)
    assert "within 230 s" in f.evidence[0].text


def test_it_does_not_read_the_start_up_limit_from_a_sentence_in_the_log():
    log = "Container berth-hello-2 didn't respond to HTTP pings on port: 8000, failing site start\n"
    assert finding("startup_timeout", evidence(build_log=log, status="failed")) is None


# Startup command failed


def test_it_reports_a_failed_startup_command_and_what_ran_instead():
    log = (
        "[berth-startup] Custom startup command: gunicorn nothere:app\n"
        "ModuleNotFoundError: No module named 'nothere'\n"
        "[berth-startup] The custom startup command exited with code 3 after 1s. It must keep a server "
        "running in the foreground. Falling back to automatic detection.\n"
        "[berth-startup] Detected: flask (found app.py)\n"
    )
    f = finding(
        "startup_command_failed",
        evidence(container_log=log, app={"app_command_line": "gunicorn nothere:app"}),
    )
    assert f.status == Status.WARNING
    assert "No module named 'nothere'" in f.cause
    assert "Detected: flask (found app.py)" in texts(f)
    assert "gunicorn nothere:app" in texts(f)


# Build failures


@pytest.mark.parametrize(
    ("log", "expect"),
    [
        (
            "ERROR: Could not find a version that satisfies the requirement flsk==9.9\nERROR: No matching distribution found for flsk==9.9\n",
            "`flsk==9.9`",
        ),
        (
            "ERROR: Cannot install a and b because these package versions have conflicting dependencies.\nERROR: ResolutionImpossible: for help visit\n",
            "cannot both be met",
        ),
        (
            "Installing collected packages: torch\nKilled\npip exited with code 137\n",
            "out of memory",
        ),
        ("WARNING: Retrying ... Max retries exceeded with url: /simple/flask/\n", "package index"),
        ("PRE_BUILD_COMMAND failed with exit code 2\n", "pre-build command failed"),
    ],
)
def test_it_explains_failed_builds(log, expect):
    f = finding(
        "build_failed",
        evidence(
            build_log=log,
            status="failed",
            status_text="Build failed",
            failure_code="build_failed",
            failure_evidence={"exit_code": 1},
        ),
    )
    assert f.status == Status.CRITICAL
    assert expect in f.cause


def test_a_build_killed_for_memory_is_read_from_its_code_and_evidence():
    f = finding(
        "build_failed",
        evidence(
            build_log="Installing collected packages: torch\n",
            status="failed",
            failure_code="oom",
            failure_evidence={"phase": "build", "exit_code": 137, "limit": "2g"},
        ),
    )
    assert "out of memory" in f.cause
    assert "memory limit 2g" in f.evidence[0].text


def test_a_deployment_that_failed_after_its_build_is_not_a_build_failure():
    log = "ERROR: No matching distribution found for flsk==9.9\n"
    f = finding(
        "build_failed", evidence(build_log=log, status="failed", failure_code="start_timeout")
    )
    assert f is None


def test_it_warns_when_collectstatic_fails_but_the_build_goes_on():
    log = "Running collectstatic...\nWARNING: collectstatic failed: You're using the staticfiles app without having set the STATIC_ROOT setting\n"
    f = finding("build_failed", evidence(build_log=log))
    assert f.status == Status.WARNING
    assert "STATIC_ROOT" in steps(f)


def test_it_ignores_old_failed_builds():
    assert finding("build_failed", evidence()) is None


# requirements.txt


@pytest.mark.parametrize("name", ["requirement.txt", "Requirements.txt", "src/requirements.txt"])
def test_it_finds_a_misnamed_requirements_file(name):
    files = {"app.py": HEALTHY_FLASK["app.py"] + "import yaml\n", name: "PyYAML\n"}
    log = "Could not find setup.py or requirements.txt; Not running pip install.\n"
    f = finding("requirements_file", evidence(files=files, build_log=log))
    assert f.status == Status.CRITICAL
    assert f.facts["found"] == name
    assert "Could not find setup.py or requirements.txt" in texts(f)


def test_it_warns_about_a_pipfile_only_project():
    files = {"app.py": "import requests\n", "Pipfile": "[packages]\nrequests = '*'\n"}
    f = finding("requirements_file", evidence(files=files))
    assert "Pipfile" in f.cause
    assert "pipenv requirements > requirements.txt" in steps(f)


def test_it_accepts_a_pyproject_with_dependencies():
    files = {
        "app.py": "import requests\n",
        "pyproject.toml": '[project]\nname="x"\ndependencies=["requests"]\n',
    }
    assert finding("requirements_file", evidence(files=files)) is None


# Python version


def test_it_compares_requires_python_with_the_stack():
    files = {
        **HEALTHY_FLASK,
        "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.12"\n',
    }
    f = finding("python_version", evidence(files=files))
    assert f.status == Status.WARNING
    assert 'requires-python = ">=3.12"' in texts(f)
    assert f.action.kind == "linux_fx_version"
    assert f.action.value in ("PYTHON|3.12", "PYTHON|3.13", "PYTHON|3.14")


def test_it_recognises_a_match_statement_on_an_old_python():
    log = with_error(
        '  File "/home/site/wwwroot/app.py", line 5',
        "    match command:",
        "          ^^^^^^^",
        "SyntaxError: invalid syntax",
    )
    f = finding(
        "python_version", evidence(container_log=log, app={"linux_fx_version": "PYTHON|3.9"})
    )
    assert f.status == Status.CRITICAL
    assert "Python 3.10 or newer" in f.cause
    assert "match command:" in texts(f)


def test_it_leaves_a_plain_syntax_error_to_the_code():
    log = with_error(
        '  File "/home/site/wwwroot/app.py", line 5', "    def x(:", "SyntaxError: invalid syntax"
    )
    assert finding("python_version", evidence(container_log=log)) is None


def test_a_broken_detector_shows_up_as_a_warning_not_a_crash(monkeypatch):
    d = registry.get("sqlite_locked")
    broken = registry.Detector(
        d.id, d.title, d.category, d.subcategory, d.description, lambda ev: 1 / 0
    )
    monkeypatch.setitem(registry._DETECTORS, "sqlite_locked", broken)
    report = runner.run(evidence())
    assert report.result("sqlite_locked").error.startswith("ZeroDivisionError")


def test_secrets_never_appear_in_findings():
    ev = evidence(
        container_log=with_error(
            "django.db.utils.OperationalError: database is locked password=hunter2-secret"
        ),
        app={"secrets": ("hunter2-secret",)},
    )
    report = runner.run(ev)
    assert "hunter2-secret" not in str(report.to_dict())


def test_it_shows_the_exception_behind_an_app_that_answers_500():
    ev = evidence(
        status="failed",
        failure_code="http_5xx",
        failure_evidence={
            "status": 500,
            "last": "GET / answered 500",
            "for_s": 30,
            "exception": "RuntimeError: the database is not configured",
        },
        container_log=with_error(
            "Traceback (most recent call last):",
            '  File "/home/site/wwwroot/app.py", line 9, in index',
            "    raise RuntimeError('the database is not configured')",
            "RuntimeError: the database is not configured",
        ),
    )
    f = finding("http_500", ev)
    assert f is not None and f.status == Status.CRITICAL
    assert "RuntimeError: the database is not configured" in f.cause
    assert 'app.py", line 9' in texts(f)
    assert "Application settings" in steps(f)
    assert f.facts["exception"] == "RuntimeError: the database is not configured"


def test_the_500_detector_keeps_quiet_for_other_failures():
    assert finding("http_500", evidence(status="failed", failure_code="start_timeout")) is None
