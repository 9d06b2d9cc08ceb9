"""The pre-deployment check on every intake path: kept on the deployment,
written at the top of its build log, answered by the deployment API and the
zipdeploy response, said back to a git pusher on the side band, printed by
the CLI on stderr. Advice only; never a secret value."""

from __future__ import annotations

import argparse
import base64
import json
import re
from unittest import mock

import pytest

from apps.deployments import gitrepo, services
from apps.deployments.models import Deployment
from apps.diagnostics.precheck import log_lines
from apps.webapps.models import AppSetting
from tests.deploy_helpers import push_files, zip_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deploy_settings")]

FLASK = "from flask import Flask\n\nserver = Flask(__name__)\n"
# A committed virtual environment and no requirements.txt.
VENV_NO_REQUIREMENTS = {
    "app.py": FLASK,
    "venv/pyvenv.cfg": "home = /usr/bin\n",
    "venv/bin/activate": "# activate\n",
    "venv/lib/python3.11/site-packages/flask/__init__.py": "",
}
SECRET = "django-insecure-do-not-show-me-0123456789"
DJANGO_SECRET_DEBUG = {
    "manage.py": "",
    "requirements.txt": "Django\n",
    "mysite/__init__.py": "",
    "mysite/wsgi.py": "application = None\n",
    "mysite/settings.py": f"import os\n\nSECRET_KEY = '{SECRET}'\nDEBUG = True\nINSTALLED_APPS = []\n",
}
TIMESTAMP = r"\d\d:\d\d:\d\d "


@pytest.fixture
def no_worker():
    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit") as delay:
        yield delay


def creds(app) -> dict[str, str]:
    token = base64.b64encode(f"{app.publishing_username}:{app.publishing_password}".encode())
    return {"HTTP_AUTHORIZATION": f"Basic {token.decode()}"}


def post_zip(client, app, data: bytes, query: str = ""):
    return client.post(
        f"/api/apps/{app.name}/zipdeploy{query}",
        data=data,
        content_type="application/zip",
        **creds(app),
    )


def codes(findings: list[dict]) -> list[str]:
    return [f["code"] for f in findings]


# --- intake: the deployment keeps the findings and its log opens with them ---------


def test_intake_keeps_the_findings_on_the_deployment(webapp):
    d = services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS))
    assert codes(d.precheck) == ["committed_venv", "missing_requirements", "startup_rule"]
    venv, missing, rule = d.precheck
    assert venv["level"] == missing["level"] == "warning"
    assert venv["path"] == "venv" and "virtual environment" in venv["message"]
    assert "requirements.txt" in missing["message"]
    assert rule["level"] == "info" and rule["rule"] == "flask"
    assert rule["command"] == (
        "gunicorn --bind=0.0.0.0:$PORT --timeout 600 --access-logfile - --error-logfile - app:server"
    )
    assert d.precheck_warnings == [venv, missing]


def test_the_build_log_opens_with_marked_lines_before_the_build(webapp):
    d = services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS))
    lines = d.log.splitlines()
    assert len(lines) == 4
    assert re.match(TIMESTAMP + r"Pre-deployment check: warning: venv/ is a virtual env", lines[0])
    assert re.match(TIMESTAMP + r"Pre-deployment check: warning: No requirements.txt", lines[1])
    assert re.match(
        TIMESTAMP + r"Pre-deployment check: start-up rule: flask \(found app.py, object server\) "
        r"will match; command: gunicorn --bind=0\.0\.0\.0:\$PORT .* app:server$",
        lines[2],
    )
    assert lines[3].endswith(
        "Pre-deployment check: 2 warnings; warnings don't stop the deployment."
    )


def test_a_clean_upload_says_so_and_names_the_rule(webapp):
    files = {"app.py": FLASK, "requirements.txt": "Flask\n"}
    d = services.create_deployment(webapp, zip_files(files))
    assert codes(d.precheck) == ["startup_rule"]
    assert d.log.splitlines()[-1].endswith("Pre-deployment check: no warnings.")


def test_the_build_log_goes_on_below_the_check(webapp):
    # run_deployment appends to what intake wrote (it fails here: no engine
    # image in a unit test, which is fine: the order is what matters).
    d = services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS))
    with mock.patch(
        "apps.deployments.buildrun.build_release",
        side_effect=services.DeployFailed("no build in a unit test"),
    ):
        d = services.run_deployment(d.pk)
    lines = d.log.splitlines()
    assert "Pre-deployment check: warning:" in lines[0]
    assert any(f"Deployment {d.pk} of {webapp.name}" in line for line in lines[4:])
    assert "Deployment failed: no build in a unit test" in d.log


def test_a_hard_coded_secret_key_is_named_by_file_and_line_never_by_value(client, webapp):
    with mock.patch.object(
        services, "run_deployment", side_effect=lambda pk: Deployment.objects.get(pk=pk)
    ):
        answer = post_zip(client, webapp, zip_files(DJANGO_SECRET_DEBUG))
    body = answer.json()
    d = Deployment.objects.get(pk=body["id"])
    (finding,) = [f for f in body["precheck"] if f["code"] == "secret_key_debug"]
    assert finding["path"] == "mysite/settings.py" and finding["line"] == 3
    assert "mysite/settings.py" in finding["message"] and "line 3" in finding["message"]
    assert SECRET not in answer.content.decode()
    assert SECRET not in d.log
    assert SECRET not in json.dumps(d.precheck)


def test_setting_values_are_masked_in_the_findings_and_the_log(webapp):
    AppSetting.objects.create(app=webapp, name="API_TOKEN", value="tok-8f2e9c1d77")
    webapp.app_command_line = "gunicorn --env API_TOKEN=tok-8f2e9c1d77 app:server"
    webapp.save()
    d = services.create_deployment(webapp, zip_files({"app.py": FLASK, "requirements.txt": ""}))
    rule = d.precheck[-1]
    assert rule["rule"] == "custom"
    assert rule["command"] == "gunicorn --env API_TOKEN=*** app:server"
    assert "tok-8f2e9c1d77" not in json.dumps(d.precheck) + d.log


def test_a_check_that_fails_does_not_stop_the_deployment(webapp, caplog):
    with mock.patch(
        "apps.diagnostics.precheck.check_zip", side_effect=RuntimeError("print(SECRET)")
    ):
        d = services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS))
    assert d.status == "queued" and d.artifact
    assert codes(d.precheck) == ["check_failed"]
    assert "Pre-deployment check: info: The pre-deployment check could not read" in d.log
    assert "print(SECRET)" not in d.log


def test_a_bad_zip_is_still_refused_before_any_check(webapp):
    from apps.deployments import intake

    with pytest.raises(intake.BadZip):
        services.create_deployment(webapp, b"not a zip")
    assert Deployment.objects.count() == 0


def test_log_lines_count_warnings_and_never_block():
    assert log_lines([]) == ["Pre-deployment check: no warnings."]
    one = [{"level": "warning", "code": "x", "message": "m"}]
    assert log_lines(one) == [
        "Pre-deployment check: warning: m",
        "Pre-deployment check: 1 warning; warnings don't stop the deployment.",
    ]


def test_diagnostics_take_the_build_not_the_prediction_as_evidence(webapp):
    from apps.diagnostics.evidence import collect

    d = services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS))
    built = "12:00:00 Could not find setup.py or requirements.txt; Not running pip install.\n"
    Deployment.objects.filter(pk=d.pk).update(log=d.log + built)
    log = collect(webapp).latest.log
    assert [(ln.number, ln.text) for ln in log] == [
        (5, "Could not find setup.py or requirements.txt; Not running pip install.")
    ]


# --- the API: zipdeploy's answer and the deployment resource -------------------------


def finish(deployment_id: int) -> Deployment:
    Deployment.objects.filter(pk=deployment_id).update(status="success", image="berth/app-x:1")
    return Deployment.objects.get(pk=deployment_id)


def test_the_synchronous_zipdeploy_answer_lists_the_findings(client, webapp):
    with mock.patch.object(services, "run_deployment", side_effect=finish):
        answer = post_zip(client, webapp, zip_files(VENV_NO_REQUIREMENTS))
    assert answer.status_code == 200  # warnings never stop a deployment
    body = answer.json()
    assert codes(body["precheck"]) == ["committed_venv", "missing_requirements", "startup_rule"]
    assert body["precheck"][-1]["command"].endswith("app:server")


def test_the_async_answer_and_the_deployment_resource_list_them(client, webapp, no_worker):
    answer = post_zip(client, webapp, zip_files(VENV_NO_REQUIREMENTS), "?isAsync=true")
    assert answer.status_code == 202
    body = answer.json()
    assert codes(body["precheck"])[:2] == ["committed_venv", "missing_requirements"]
    shown = client.get(answer["Location"], **creds(webapp)).json()
    assert shown["precheck"] == body["precheck"]
    listed = client.get(f"/api/apps/{webapp.name}/deployments/", **creds(webapp)).json()
    assert listed[0]["precheck"] == body["precheck"]
    log = client.get(answer["Location"] + "/log", **creds(webapp)).content.decode()
    assert log.splitlines()[0].split(" ", 1)[1].startswith("Pre-deployment check: warning:")


def test_a_redeploy_has_no_new_code_to_check(client, webapp):
    old = finish(services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS)).pk)
    new = services.redeploy(old)
    assert new.precheck == []
    shown = client.get(f"/api/apps/{webapp.name}/deployments/{new.pk}", **creds(webapp)).json()
    assert shown["precheck"] == []


def test_the_answer_matches_the_openapi_schema(client, webapp, no_worker):
    import jsonschema_rs

    doc = client.get("/api/openapi.json").json()
    deployment = doc["components"]["schemas"]["Deployment"]
    assert deployment["properties"]["precheck"]["items"] == {
        "$ref": "#/components/schemas/PrecheckFinding"
    }
    zipdeploy = doc["paths"]["/api/apps/{name}/zipdeploy"]["post"]
    assert "precheck" in zipdeploy["description"]
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/Deployment", "components": doc["components"]}
    )
    body = post_zip(client, webapp, zip_files(DJANGO_SECRET_DEBUG), "?isAsync=true").json()
    assert body["precheck"]
    validator.validate(body)
    with pytest.raises(jsonschema_rs.ValidationError):
        validator.validate({**body, "precheck": [{"level": "loud", "code": "x", "message": ""}]})


# --- the Deployment Center --------------------------------------------------------------


def test_the_deployment_page_and_the_list_show_the_findings(alice_client, webapp):
    d = services.create_deployment(webapp, zip_files(VENV_NO_REQUIREMENTS))
    page = alice_client.get(f"/apps/{webapp.name}/deployment-center/{d.pk}/").content.decode()
    assert 'id="precheck"' in page
    assert "venv/ is a virtual environment" in page
    assert "Start-up rule:</strong> flask (found app.py, object server) will match" in page
    center = alice_client.get(f"/apps/{webapp.name}/deployment-center/").content.decode()
    assert "2 warnings" in center


# --- git push: the side band ----------------------------------------------------------

ZERO = "0" * 40


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def push_request(caps: str) -> bytes:
    return pkt(f"{ZERO} {'a' * 40} refs/heads/main\0{caps}\n".encode()) + b"0000PACK..."


def packets(stream: bytes) -> list[bytes | None]:
    out: list[bytes | None] = []
    while stream:
        size = int(stream[:4], 16)
        if size == 0:
            out.append(None)
            stream = stream[4:]
        else:
            out.append(stream[4:size])
            stream = stream[size:]
    return out


def test_it_reads_which_side_band_the_pusher_asked_for():
    assert (
        gitrepo.sideband_limit(push_request("report-status side-band-64k agent=git/2.4")) == 65520
    )
    assert gitrepo.sideband_limit(push_request("report-status side-band")) == 1000
    assert gitrepo.sideband_limit(push_request("report-status")) == 0
    assert gitrepo.sideband_limit(b"0000") == 0
    assert gitrepo.sideband_limit(b"garbage") == 0
    import gzip

    gz = gzip.compress(push_request("side-band-64k"))
    assert gitrepo.sideband_limit(gz, "gzip") == 65520


def test_messages_go_on_band_two_before_the_closing_flush():
    report = pkt(b"\x01" + pkt(b"unpack ok\n") + pkt(b"ok refs/heads/main\n") + b"0000")
    output = pkt(b"\x02Resolving deltas\n") + report + b"0000"
    lines = ["Pre-deployment check: warning: venv/ \x1b[31mred\x1b[0m", "x" * 2500]
    sent = gitrepo.with_remote_messages(output, lines, 1000)
    got = packets(sent)
    assert got[:2] == packets(pkt(b"\x02Resolving deltas\n") + report)
    assert got[-1] is None
    ours = got[2:-1]
    assert all(p[:1] == b"\x02" and len(p) + 4 <= 1000 for p in ours)
    text = b"".join(p[1:] for p in ours).decode()
    # No escape sequences reach the pusher's terminal.
    assert text == "Pre-deployment check: warning: venv/ [31mred[0m\n" + "x" * 2500 + "\n"


def test_an_answer_that_does_not_parse_is_left_alone():
    assert gitrepo.with_remote_messages(b"not pkt-lines", ["hello"], 65520) == b"not pkt-lines"
    assert gitrepo.with_remote_messages(b"0000", [], 65520) == b"0000"


# --- the CLI ---------------------------------------------------------------------------


def test_the_cli_prints_the_findings_on_stderr_only(capsys):
    from berth_cli.commands import say_precheck

    findings = [
        {"level": "warning", "code": "committed_venv", "message": "venv/ is a virtual env"},
        {"level": "info", "code": "startup_rule", "message": "flask will match; command: x"},
    ]
    say_precheck(argparse.Namespace(only_show_errors=False), findings)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "WARNING: Pre-deployment check: venv/ is a virtual env",
        "Start-up rule: flask will match; command: x",
    ]
    say_precheck(argparse.Namespace(only_show_errors=True), findings)
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def git_app(live_server, transactional_db, alice, tmp_path, settings):
    from apps.webapps.models import WebApp

    settings.DATA_DIR = tmp_path / "data"
    return WebApp.objects.create(name="precheck-git", owner=alice)


def test_a_real_git_push_gets_the_findings_as_remote_lines(
    live_server, git_app, tmp_path, no_worker
):
    # Real git and git http-backend; no engine: the deployment stays queued.
    said = push_files(live_server.url, git_app, tmp_path / "work", VENV_NO_REQUIREMENTS)
    d = Deployment.objects.get(app=git_app)
    assert said[:3] == [
        f"Berth: deployment {d.pk} of precheck-git from {d.commit_id[:8]}.",
        *(line.split(" ", 1)[1] for line in d.log.splitlines()[:2]),
    ]
    assert said[3].startswith("Pre-deployment check: start-up rule: flask (found app.py")
    assert said[4] == "Pre-deployment check: 2 warnings; warnings don't stop the deployment."
    assert said[5] == f"Berth: deployment {d.pk}: queued."
    assert said[6] == f"Log: {live_server.url}/apps/precheck-git/deployment-center/{d.pk}/"
    no_worker.assert_called_once_with(deployment_id=d.pk)


def test_a_refused_push_says_why_to_the_pusher(live_server, git_app, tmp_path, settings, no_worker):
    settings.BERTH_MAX_ZIP_MB = 0  # every zip is too big
    said = push_files(live_server.url, git_app, tmp_path / "work", VENV_NO_REQUIREMENTS)
    assert said == [
        "Berth: the push was kept but not deployed: The zip is bigger than the limit of 0 MB "
        "(BERTH_MAX_ZIP_MB). Leave out virtual environments and build output."
    ]
    assert not Deployment.objects.exists()
    no_worker.assert_not_called()
