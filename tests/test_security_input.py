"""Security suite, input (issue 12, findings 7, 8, 10 and 11's author): size
limits enforced while receiving, malformed JSON and unstartable values
refused with a message, symbolic links resolved, and the deployer's identity
kept apart from the author a deployer claims."""

# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import re
import tracemalloc
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from apps.deployments import gitrepo, intake
from apps.deployments.buildrun import build_release
from apps.deployments.intake import BadZip
from apps.deployments.models import Deployment
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed
from apps.lifecycle.release import run_release
from apps.webapps import services
from apps.webapps.models import AppSetting, ConnectionString, WebApp
from berth_cli.commands import config_set, parse_settings
from berth_cli.errors import CliError
from portal.asgi import application as asgi_application
from tests.apiutil import ApiClient, alice_token, api, error_code  # noqa: F401
from tests.config_forms import as_post, form_fields
from tests.deploy_helpers import git_in, git_push, make_zip, symlink
from tests.security_helpers import table_fixture

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

table = table_fixture("Input: limits, malformed input, symlinks, claimed authors")

CONFIG_URL = "/apps/hello-flask/configuration/"
ADVANCED_URL = "/apps/hello-flask/configuration/advanced/"
MAX_VALUE_KB = 64  # apps.webapps.validators
NUL = "before\x00after"
BIG = "x" * (200 * 1024)
BAD_VALUES = {"a NUL": NUL, "a 200 KB value": BIG}
# What the refusal says, so the user knows what to fix.
SAYS = {"a NUL": "NUL character", "a 200 KB value": "at most 64 KB"}


@pytest.fixture(autouse=True)
def restart():
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


# --- Finding 8: malformed JSON is a 400 on every JSON endpoint ---------------

DEEP = "[" * 100_000 + "]" * 100_000
MALFORMED = {
    "JSON nested 100,000 deep": DEEP.encode(),
    "a lone surrogate \\ud800": b'{"username": "alice", "password": "\\ud800"}',
    "a lone surrogate in a key": b'{"\\udc00": 1}',
    "invalid UTF-8": b'{"username": "\xff\xfe"}',
}
# The same, shaped as a settings list so the bad part reaches a value or name.
MALFORMED_SETTINGS = {
    "JSON nested 100,000 deep": DEEP.encode(),
    "a lone surrogate \\ud800": b'[{"name": "A", "value": "\\ud800"}]',
    "a lone surrogate in a key": b'[{"name": "A", "value": "x", "\\udc00": 1}]',
    "invalid UTF-8": b'[{"name": "A", "value": "\xff\xfe"}]',
}


@pytest.mark.parametrize("what", MALFORMED)
def test_the_token_endpoint_answers_malformed_json_with_400(table, alice, what):
    with table.attack("8", f"POST /api/token with {what}") as row:
        r = ApiClient().client.post("/api/token", MALFORMED[what], content_type="application/json")
        assert r.status_code == 400, r.content[:200]
        assert error_code(r) == "InvalidJson"
        row.outcome = f"refused: 400 {r.json()['error']['message'][:70]}"


@pytest.mark.parametrize("what", MALFORMED_SETTINGS)
def test_the_app_settings_endpoint_answers_malformed_json_with_400(table, api, webapp, what):
    with table.attack("8", f"PATCH /api/apps/<app>/appsettings with {what}") as row:
        r = api.client.patch(
            "/api/apps/hello-flask/appsettings",
            MALFORMED_SETTINGS[what],
            content_type="application/json",
            headers=api.headers,
        )
        assert r.status_code == 400, r.content[:200]
        assert not AppSetting.objects.exists()
        row.outcome = f"refused: 400 {error_code(r)}"


def test_a_redeploy_with_deeply_nested_json_is_not_a_500(table, alice_token, webapp):
    old = Deployment.objects.create(app=webapp, status=Deployment.Status.SUCCESS, image="x")
    with table.attack("8", "POST .../deployments/<id>/redeploy with JSON nested 100,000 deep"):
        with mock.patch("apps.deployments.tasks.enqueue"):
            r = ApiClient(alice_token).client.post(
                f"/api/apps/hello-flask/deployments/{old.pk}/redeploy",
                DEEP,
                content_type="application/json",
                headers={"Authorization": f"Bearer {alice_token}"},
            )
        assert r.status_code < 500
        table.rows[-1].outcome = f"no 500: {r.status_code} (the body is not a restore request)"


def test_the_cli_answers_a_deeply_nested_settings_file_with_a_message(table, tmp_path):
    (tmp_path / "deep.json").write_text(DEEP)
    with table.attack("8", "berth webapp config appsettings set --settings @deep.json") as row:
        with pytest.raises(CliError, match="Cannot read settings from") as refused:
            parse_settings([f"@{tmp_path / 'deep.json'}"])
        with pytest.raises(CliError, match="takes JSON"):
            config_set(argparse.Namespace(generic_configurations=[DEEP]))
        row.outcome = f"refused by the CLI: {str(refused.value)[:40]}... (no traceback)"


def test_the_advanced_edit_answers_deeply_nested_json_with_a_message(table, alice_client, webapp):
    with table.attack("8", "Advanced edit with JSON nested 100,000 deep") as row:
        r = alice_client.post(ADVANCED_URL + "appsettings/", {"text": DEEP, "confirmed": "1"})
        assert r.status_code == 200
        assert b"nested more than" in r.content
        assert not AppSetting.objects.exists()
        row.outcome = "refused: 200 with the message, nothing saved"


# --- Finding 8: a value that cannot start is refused on every entry path -----


@pytest.mark.parametrize("row_kind", ["setting", "connection"])
@pytest.mark.parametrize("what", BAD_VALUES)
def test_the_application_settings_page_refuses_a_value_that_cannot_start(
    table, alice_client, webapp, restart, what, row_kind
):
    with table.attack("8", f"Application settings page: a {row_kind} with {what}") as row:
        added = alice_client.post(CONFIG_URL, {"op": f"add-{row_kind}"})
        fields = form_fields(added.content, "config-form")
        prefix = row_kind[0]  # the form's rows are s-<key>-... and c-<key>-...
        key = next(v for n, v in fields if n == prefix)
        post = as_post(
            fields,
            op="save-confirmed",
            **{f"{prefix}-{key}-name": "BAD", f"{prefix}-{key}-value": BAD_VALUES[what]},
        )
        r = alice_client.post(CONFIG_URL, post)
        row.outcome = _refused_on_the_page(r, what, restart)


@pytest.mark.parametrize("kind", ["appsettings", "connectionstrings"])
@pytest.mark.parametrize("what", BAD_VALUES)
def test_the_advanced_edit_refuses_a_value_that_cannot_start(
    table, alice_client, webapp, restart, kind, what
):
    with table.attack("8", f"Advanced edit ({kind}): a value with {what}") as row:
        text = json.dumps([{"name": "BAD", "value": BAD_VALUES[what], "slotSetting": False}])
        r = alice_client.post(ADVANCED_URL + kind + "/", {"text": text, "confirmed": "1"})
        row.outcome = _refused_on_the_page(r, what, restart)


@pytest.mark.parametrize("kind", ["appsettings", "connectionstrings"])
@pytest.mark.parametrize("what", BAD_VALUES)
def test_the_api_refuses_a_value_that_cannot_start(table, api, webapp, kind, what):
    with table.attack("8", f"API PATCH {kind}: a value with {what}") as row:
        r = api.patch(f"/api/apps/hello-flask/{kind}", [{"name": "BAD", "value": BAD_VALUES[what]}])
        assert r.status_code in (400, 422), r.content[:200]
        assert not AppSetting.objects.exists()
        assert not ConnectionString.objects.exists()
        row.outcome = f"refused: {r.status_code} {r.json()['error']['message'][:80]}"


def test_settings_that_together_exceed_the_environment_limit_are_refused(table, api, webapp):
    with table.attack("8", f"API: 20 settings of {MAX_VALUE_KB} KB (2.5 MB environment)") as row:
        items = [{"name": f"S{i}", "value": "x" * (MAX_VALUE_KB * 1024)} for i in range(20)]
        r = api.patch("/api/apps/hello-flask/appsettings", items)
        assert r.status_code == 422, r.content[:200]
        assert "limit" in r.json()["error"]["message"]
        assert not AppSetting.objects.exists()
        row.outcome = f"refused: 422 {r.json()['error']['message'][:80]}"


def test_one_save_may_move_size_from_connection_strings_to_settings(webapp):
    value = "x" * (60 * 1024)
    services.set_connection_strings(
        webapp, [services.ConnectionStringInput(f"db{i}", value) for i in range(12)], restart=False
    )
    # Settings then connection strings: in between, 1320 KB; at the end, 600 KB.
    services.save_configuration(
        webapp,
        settings=[services.SettingInput(f"S{i}", value) for i in range(5)],
        connection_strings=[],
    )
    assert AppSetting.objects.count() == 5
    assert not ConnectionString.objects.exists()


def test_one_save_that_ends_over_the_environment_limit_saves_nothing(webapp):
    value = "x" * (60 * 1024)
    with pytest.raises(ValidationError, match="1024 KB"):
        services.save_configuration(
            webapp,
            settings=[services.SettingInput(f"S{i}", value) for i in range(5)],
            connection_strings=[services.ConnectionStringInput(f"db{i}", value) for i in range(8)],
        )
    assert not AppSetting.objects.exists()
    assert not ConnectionString.objects.exists()


def test_a_start_with_a_value_saved_before_the_rules_fails_with_a_clear_message(table, webapp):
    # Saved straight into the table, as before the rules existed.
    AppSetting.objects.create(app=webapp, name="HUGE", value=BIG)
    deployment = Deployment.objects.create(
        app=webapp,
        image="berth/hello-flask:1",
        startup={"rule": "default", "reason": "test", "command": "true"},
    )
    with table.attack("8", "start an app holding a 200 KB value saved before the rules") as row:
        with (
            mock.patch("apps.lifecycle.release.engine", autospec=True) as engine,
            mock.patch("apps.lifecycle.containers.engine", autospec=True),
            mock.patch("apps.lifecycle.containers.oom_message", return_value=""),
        ):
            engine.container_exists.return_value = False
            engine.container_logs.return_value = []
            with pytest.raises(DeployFailed) as failed:
                run_release(webapp, deployment, DeploymentLog(deployment))
        engine.create_container.assert_not_called()
        assert "'HUGE'" in failed.value.message
        assert "64 KB" in failed.value.message
        row.outcome = f"start fails at once: {failed.value.message[:90]}"


def test_a_build_with_a_value_saved_before_the_rules_fails_with_a_clear_message(table, webapp):
    AppSetting.objects.create(app=webapp, name="HUGE", value=BIG)
    deployment = Deployment.objects.create(app=webapp)
    with table.attack("8", "build an app holding a 200 KB value saved before the rules") as row:
        with (
            mock.patch("apps.deployments.buildrun.engine", autospec=True) as engine,
            pytest.raises(DeployFailed) as failed,
        ):
            build_release(deployment, mock.Mock(), mock.Mock(), DeploymentLog(deployment))
        engine.create_container.assert_not_called()
        assert "'HUGE'" in failed.value.message
        row.outcome = f"build fails at once: {failed.value.message[:90]}"


def _refused_on_the_page(response, what: str, restart) -> str:
    """Assert the page refused a bad value and saved nothing; its message."""
    assert response.status_code == 200
    assert not AppSetting.objects.exists()
    assert not ConnectionString.objects.exists()
    restart.assert_not_called()
    return f"refused: {_message(response.content, SAYS[what])}"


def _message(html: bytes, says: str) -> str:
    """The sentence of the page that holds `says` (asserting it is there)."""
    text = html.decode()
    assert says in text, f"the page does not say {says!r}"
    at = text.index(says)
    begin = max(text.rfind(">", 0, at), text.rfind(":", 0, at)) + 1
    return re.sub(r"\s+", " ", text[begin : text.find("<", at)]).strip()[:90]


# --- Finding 10: symbolic links resolved, not pattern-matched -----------------

LINK_CHAINS = {
    "x -> . and y -> x/x/..": {"x": ".", "y": "x/x/.."},
    "x -> ., d1/d2/y -> ../../x/x/x/../..": {"x": ".", "d1/d2/y": "../../x/x/x/../.."},
    "a -> b/.., b -> sub, sub/c -> ../a/..": {"a": "b/..", "b": "sub", "sub/c": "../a/.."},
    "a loop: a -> b, b -> a": {"a": "b", "b": "a"},
}


def _leaves_on_disk(root, links: dict[str, str]) -> bool:
    """Make the links for real under `root`: does one lead outside it (or loop)?"""
    for name, target in links.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    for name in links:
        try:
            real = os.path.realpath(root / name, strict=True)
        except OSError:  # ELOOP
            return True
        if real != str(root) and not real.startswith(str(root) + os.sep):
            return True
    return False


@pytest.mark.parametrize("chain", LINK_CHAINS)
def test_a_chain_of_links_that_leads_outside_the_folder_is_refused(
    table, settings, tmp_path, chain
):
    settings.DATA_DIR = tmp_path / "data"
    links = LINK_CHAINS[chain]
    wwwroot = tmp_path / "wwwroot"
    wwwroot.mkdir()
    # The attack is real: on disk one of the links leaves wwwroot (or loops).
    assert _leaves_on_disk(wwwroot, links)
    zipped = make_zip([("app.py", b"x"), *(symlink(n, t) for n, t in links.items())])
    with table.attack("10", f"zip with links {chain}") as row:
        with pytest.raises(BadZip, match="symbolic link") as refused:
            intake.receive(zipped)
        assert not list((tmp_path / "data" / "artifacts" / ".incoming").iterdir())
        row.outcome = f"refused: {refused.value.message[:90]}"


def test_links_that_stay_inside_the_folder_are_still_accepted(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    links = {"x": ".", "ok": "x/x/app.py", "static/up": "..", "static/css": "../x/static"}
    path = intake.receive(make_zip([("app.py", b"x"), *(symlink(n, t) for n, t in links.items())]))
    assert path.exists()


# --- Finding 7: size limits enforced while the body arrives -------------------

ZIPDEPLOY = "/api/apps/hello-flask/zipdeploy"


def _asgi_post(path: str, size: int, *, declare: bool, chunk: int = 64 * 1024) -> dict:
    """POST `size` bytes to the portal's ASGI app (as uvicorn would) in
    `chunk`-sized messages; what it answered and how much of the body it
    consumed, with Python's peak allocation meanwhile."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/zip")]
    if declare:
        headers.append((b"content-length", str(size).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    piece = b"\0" * chunk
    seen = {"consumed": 0, "sent": []}

    async def receive() -> dict:
        left = size - seen["consumed"]
        if not left:  # the body is over: the client waits for the answer
            await asyncio.Future()
        body = piece[:left]
        seen["consumed"] += len(body)
        return {"type": "http.request", "body": body, "more_body": left > len(body)}

    async def send(message: dict) -> None:
        seen["sent"].append(message)

    tracemalloc.start()
    try:
        asyncio.run(asgi_application(scope, receive, send))
        seen["peak"] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    start = next(m for m in seen["sent"] if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in seen["sent"] if m["type"] == "http.response.body")
    parsed = json.loads(body) if body.startswith(b"{") else body.decode()
    return {**seen, "status": start["status"], "body": parsed}


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
def test_an_over_limit_zipdeploy_is_refused_before_it_is_all_read(table, settings, declare):
    settings.BERTH_MAX_ZIP_MB = 1
    size = 300 * 1024 * 1024
    how = "declared" if declare else "streamed, no Content-Length"
    with table.attack("7", f"zipdeploy of 300 MB ({how}), limit 1 MB") as row:
        got = _asgi_post(ZIPDEPLOY, size, declare=declare)
        assert got["status"] == 413
        message = got["body"]["error"]
        assert "1 MB" in message and "BERTH_MAX_ZIP_MB" in message
        # Refused at the limit (plus the multipart envelope), not at the end.
        assert got["consumed"] <= (1 + 1) * 1024 * 1024 + 64 * 1024
        assert got["peak"] < 8 * 1024 * 1024
        row.outcome = (
            f"refused: 413 after reading {got['consumed'] / 1024 / 1024:.1f} MB of 300 MB, "
            f"peak Python allocation {got['peak'] / 1024 / 1024:.1f} MB"
        )


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
def test_a_50_mb_json_body_is_refused_before_it_is_all_read(table, declare):
    how = "declared" if declare else "streamed"
    with table.attack("7", f"POST /api/token with a 50 MB body ({how})") as row:
        got = _asgi_post("/api/token", 50 * 1024 * 1024, declare=declare)
        assert got["status"] == 413
        assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in got["body"]["error"]["message"]
        assert got["consumed"] <= 3.5 * 1024 * 1024 + 64 * 1024
        row.outcome = f"refused: 413 after reading {got['consumed'] / 1024 / 1024:.1f} MB of 50 MB"


def test_an_over_limit_deployment_center_upload_is_refused_before_it_is_read(
    table, settings, alice_client, webapp
):
    settings.BERTH_MAX_ZIP_MB = 1
    with table.attack("7", "Deployment Center upload of 3 MB, limit 1 MB") as row:
        got = _asgi_post(
            "/apps/hello-flask/deployment-center/upload", 3 * 1024 * 1024, declare=True
        )
        assert got["status"] == 413
        assert got["consumed"] == 0
        # Django's own servers (WSGI) refuse the declared length too.
        r = alice_client.post(
            "/apps/hello-flask/deployment-center/upload",
            {"package": io.BytesIO(b"\0" * 3 * 1024 * 1024)},
        )
        assert r.status_code == 413
        assert "BERTH_MAX_ZIP_MB" in r.content.decode()  # plain text: the browser shows it
        row.outcome = "refused: 413 before a byte was read (ASGI and WSGI)"


@pytest.fixture
def pushed_app(live_server, transactional_db, alice, tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.BERTH_MAX_PUSH_MB = 1
    app = WebApp.objects.create(name="push-limit", owner=alice)
    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit"):
        yield app


def _push(base_url: str, app: WebApp, work, files: dict[str, bytes]):
    """Commit `files` and push them with real git."""
    work.mkdir(exist_ok=True)
    for name, data in files.items():
        (work / name).write_bytes(data)
    git = git_in(work)
    if not (work / ".git").exists():
        git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "Pushed by a test")
    # Sent with Content-Length, as git does for bodies under http.postBuffer.
    return git_push(base_url, app, work, "-c", "http.postBuffer=67108864")


def _kept(app: WebApp) -> list[str]:
    """Every file in the bare repository's objects, and its branches."""
    repo = gitrepo.repo_path(app)
    files = [str(p.relative_to(repo)) for p in (repo / "objects").rglob("*") if p.is_file()]
    refs = [str(p.relative_to(repo)) for p in (repo / "refs").rglob("*") if p.is_file()]
    return files + refs


@pytest.mark.parametrize("mb", [1.5, 3])
def test_an_over_limit_git_push_leaves_nothing_in_the_repository(
    table, live_server, pushed_app, tmp_path, mb
):
    data = os.urandom(int(mb * 1024 * 1024))  # random: git cannot compress it
    with table.attack("7", f"git push of a {mb} MB commit, BERTH_MAX_PUSH_MB=1") as row:
        pushed = _push(live_server.url, pushed_app, tmp_path / "work", {"data.bin": data})
        assert pushed.returncode != 0
        assert "main -> main" not in pushed.stderr.replace("[remote rejected] main -> main", "")
        assert _kept(pushed_app) == []
        assert not Deployment.objects.exists()
        said = next(
            (line for line in pushed.stderr.splitlines() if "413" in line or "maximum" in line),
            pushed.stderr.strip().splitlines()[-1],
        )
        row.outcome = f"refused, repository empty: {said.strip()[:90]}"
    # A push under the limit still goes through.
    small = _push(live_server.url, pushed_app, tmp_path / "work2", {"app.py": b"print()\n"})
    assert small.returncode == 0, small.stderr
    assert Deployment.objects.count() == 1


# --- Finding 11: the deployer is who authenticated; the author is a claim -----


@pytest.fixture
def no_worker():
    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit") as delay:
        yield delay


def _zipdeploy(client, query: str, headers: dict[str, str]):
    return client.post(
        f"{ZIPDEPLOY}?isAsync=true&{query}",
        data=make_zip([("app.py", b"print('hi')\n")]),
        content_type="application/zip",
        headers=headers,
    )


def test_a_claimed_author_is_shown_apart_from_the_user_who_deployed(
    table, client, alice_client, alice_token, webapp, no_worker
):
    with table.attack("11", "zipdeploy?author=mallory with alice's token") as row:
        r = _zipdeploy(client, "author=mallory", {"Authorization": f"Bearer {alice_token}"})
        assert r.status_code == 202, r.content[:200]
        assert (r.json()["deployed_by"], r.json()["author"]) == ("alice", "mallory")
        listed = client.get(
            "/api/apps/hello-flask/deployments/", headers={"Authorization": f"Bearer {alice_token}"}
        ).json()
        assert (listed[0]["deployed_by"], listed[0]["author"]) == ("alice", "mallory")
        page = alice_client.get("/apps/hello-flask/deployment-center/").content.decode()
        assert "author claims mallory" in page
        d = Deployment.objects.get()
        detail = alice_client.get(f"/apps/hello-flask/deployment-center/{d.pk}/").content.decode()
        assert "mallory" in detail and "not verified" in detail
        row.outcome = "kept apart: deployed by alice, author claims mallory (API, list, page)"


def test_a_push_with_deployment_credentials_is_never_shown_as_a_user(
    table, client, webapp, no_worker
):
    token = base64.b64encode(f"{webapp.publishing_username}:{webapp.publishing_password}".encode())
    with table.attack("11", "zipdeploy?author=alice with the app's deployment credentials") as row:
        r = _zipdeploy(client, "author=alice", {"Authorization": f"Basic {token.decode()}"})
        assert r.status_code == 202, r.content[:200]
        by = r.json()["deployed_by"]
        assert by == f"{webapp.publishing_username} (deployment credentials)"
        assert r.json()["author"] == "alice"
        assert Deployment.objects.get().claimed_author == "alice"
        row.outcome = f"kept apart: deployed by {by}, author claims alice"


def test_a_pushed_chain_of_links_that_leads_outside_is_not_deployed(
    table, live_server, pushed_app, tmp_path
):
    work = tmp_path / "links"
    work.mkdir()
    (work / "app.py").write_text("print()\n")
    (work / "x").symlink_to(".")
    (work / "y").symlink_to("x/x/..")
    with table.attack("10", "git push of x -> . and y -> x/x/..") as row:
        pushed = _push(live_server.url, pushed_app, work, {})
        assert pushed.returncode == 0, pushed.stderr
        said = [line for line in pushed.stderr.splitlines() if "symbolic link" in line]
        assert said and "not deployed" in said[0]
        assert not Deployment.objects.exists()
        row.outcome = "not deployed: " + said[0].split("not deployed: ")[1].strip()[:80]
