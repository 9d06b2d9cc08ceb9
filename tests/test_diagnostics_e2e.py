"""Every broken sample in tests/samples_broken, deployed for real through the
deploy pipeline (real build, real containers), then diagnosed: the right
detector fires with the right evidence, and a healthy app comes out healthy."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from apps.deployments import services
from apps.diagnostics import runner
from apps.webapps.models import AppSetting, ConnectionString, WebApp
from tests.deploy_helpers import cleanup_app, zip_sample

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

SAMPLES = Path(__file__).resolve().parent / "samples_broken"


@pytest.fixture(autouse=True)
def _deploy_settings(deploy_settings):
    deploy_settings.BERTH_START_TIME_LIMIT = 20
    deploy_settings.BERTH_APP_MEMORY = "128m"


def zip_folder(name: str) -> bytes:
    return zip_sample(name, root=SAMPLES)


@pytest.fixture
def deploy(alice):
    made: list[str] = []

    def run(
        sample: str, *, command: str = "", settings: dict | None = None, conn: dict | None = None
    ):
        app = WebApp.objects.create(
            name=f"dx-{sample.replace('_', '-')[:30]}-{secrets.token_hex(2)}",
            owner=alice,
            app_command_line=command,
        )
        made.append(app.name)
        for k, v in (settings or {}).items():
            AppSetting.objects.create(app=app, name=k, value=v)
        for k, v in (conn or {}).items():
            ConnectionString.objects.create(app=app, name=k, value=v, type="PostgreSQL")
        deployment = services.create_deployment(app, zip_folder(sample))
        deployment = services.run_deployment(deployment.pk)
        report = runner.diagnose(app)
        return deployment, report

    yield run
    for name in made:
        cleanup_app(name)


def fired(report) -> dict[str, object]:
    return {r.detector.id: r.finding for r in report.fired()}


def evidence_text(finding) -> str:
    return "\n".join(i.text for i in finding.evidence)


def test_a_healthy_flask_app_comes_out_healthy(deploy):
    deployment, report = deploy("healthy_flask")
    assert deployment.status == "success", deployment.log
    assert fired(report) == {}, report.to_dict()


def test_the_default_site_is_diagnosed_with_the_app_object_found(deploy):
    deployment, report = deploy("default_site")
    f = fired(report)["default_site"]
    assert "`myapp` in website/hello.py" in f.cause
    assert f.action.value == "gunicorn --bind=0.0.0.0 --timeout 600 --chdir website hello:myapp"
    assert "Detected: default" in evidence_text(f)


def test_an_import_error_is_service_unavailable(deploy):
    deployment, report = deploy("import_error")
    f = fired(report)
    assert "cannot import name 'missing_name'" in f["service_unavailable"].cause, deployment.log
    assert "crash_loop" in f


def test_a_missing_package_names_the_line_to_add(deploy):
    _, report = deploy("module_not_found")
    f = fired(report)["module_not_found"]
    assert f.facts["line_to_add"] == "PyYAML"
    assert "No module named 'yaml'" in evidence_text(f)


def test_a_committed_virtual_environment_is_blamed(deploy):
    _, report = deploy("committed_venv")
    f = fired(report)["module_not_found"]
    assert f.facts["venv"] == "venv"
    assert "venv/pyvenv.cfg" in evidence_text(f)


def test_a_misnamed_requirements_file_is_found(deploy):
    _, report = deploy("requirements_misnamed")
    f = fired(report)
    assert f["requirements_file"].facts["found"] == "Requirements.txt"
    assert "Could not find setup.py or requirements.txt" in evidence_text(f["requirements_file"])
    assert f["module_not_found"].facts["module"] == "dotenv"


def test_sqlite_database_is_locked_points_at_databases(deploy):
    _, report = deploy("sqlite_locked")
    f = fired(report)["sqlite_locked"]
    assert "database is locked" in evidence_text(f)
    assert f.facts["settings"] == "config/settings.py:3"


def test_django_without_whitenoise_is_diagnosed(deploy):
    _, report = deploy("static_files")
    f = fired(report)["static_files"]
    assert f.facts["missing"] == "WhiteNoise,STATIC_ROOT"


def test_a_database_that_wants_ssl_is_diagnosed(deploy):
    _, report = deploy(
        "database_ssl", conn={"db": "host=db.example.internal dbname=app user=app password=pw-1234"}
    )
    f = fired(report)["database_ssl"]
    assert "SSL connection is required" in evidence_text(f)
    assert "db (PostgreSQL): does not set sslmode" in evidence_text(f)
    assert "pw-1234" not in str(report.to_dict())


def test_out_of_memory_is_a_container_crash(deploy):
    deployment, report = deploy("out_of_memory")
    f = fired(report).get("crash_loop")
    assert f is not None, deployment.log[-3000:]
    assert f.facts["oom_killed"] == "true" or f.facts.get("exit_code") == "137", deployment.log


def test_an_app_on_the_wrong_port_is_diagnosed(deploy):
    deployment, report = deploy("wrong_port", command="gunicorn --bind=127.0.0.1:5000 app:app")
    f = fired(report).get("startup_timeout")
    assert f is not None, (deployment.log, [r.detector.id for r in report.fired()])
    assert f.facts["host"] == "127.0.0.1" and f.facts["port"] == "5000", deployment.log
    assert f.action.value == "gunicorn --bind=0.0.0.0 --timeout 600 app:app"


def test_a_failing_pre_build_command_is_diagnosed(deploy):
    deployment, report = deploy("pre_build_fails", settings={"PRE_BUILD_COMMAND": "prebuild.sh"})
    assert deployment.status == "failed"
    f = fired(report)["build_failed"]
    assert f.facts["which"] == "PRE"


def test_pip_that_cannot_resolve_is_diagnosed(deploy):
    deployment, report = deploy("pip_not_found")
    assert deployment.status == "failed"
    f = fired(report)["build_failed"]
    # Offline machines cannot reach the index at all: that is diagnosed too.
    assert "berth-no-such-package-for-diagnostics" in f.cause or "package index" in f.cause, (
        deployment.log
    )


def test_new_syntax_on_an_old_python_is_diagnosed(deploy):
    deployment, report = deploy("python_version")
    f = fired(report)["python_version"]
    assert f.status == "critical", deployment.log
    assert 'requires-python = ">=3.12"' in evidence_text(f)
    assert f.action.kind == "linux_fx_version"


def test_a_failing_startup_command_falls_through_and_is_diagnosed(deploy):
    deployment, report = deploy(
        "startup_command_failed", command="gunicorn --bind=0.0.0.0 nothere:app"
    )
    assert deployment.status == "success", deployment.log
    f = fired(report)["startup_command_failed"]
    assert "Falling back to automatic detection" in evidence_text(f)
