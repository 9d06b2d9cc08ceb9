"""One resolver, one token check: every surface (pages, API, git, zip
deploy, log stream, console, diagnostics) finds the app with
apps.access.services.app_for, and the bearer token is read once, by
apps.api.auth's middleware, so `request.user` is the token's user on every
surface. tests/test_access_matrix.py has each surface's statuses by role;
this file shows they come from the one place."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.http import Http404
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from apps.access import services
from apps.access.models import Role, RoleAssignment
from apps.access.services import PublishingCredential, Refused, app_for
from apps.api import auth
from apps.api.models import ApiToken
from apps.console import services as console
from apps.console.services import Target
from apps.webapps.models import WebApp
from tests.deploy_helpers import zip_files

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

A = "/apps/hello-flask"
API = "/api/apps/hello-flask"
ROOT = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def no_engine(settings, tmp_path):
    settings.DATA_DIR = tmp_path

    async def events(app, last_event_id=""):
        yield "data: hello\n\n"

    async def text_lines(app):
        yield "hello\n"

    with (
        mock.patch("apps.diagnostics.evidence._containers", lambda app, secrets, tail: ([], "")),
        mock.patch("apps.logs.services.events", events),
        mock.patch("apps.logs.services.text_lines", text_lines),
        mock.patch("apps.logs.services.serving_container", return_value=None),
        mock.patch("apps.console.services.find_target", return_value=Target(None, "Stopped.")),
        mock.patch("apps.deployments.tasks.enqueue") as enqueue,
        mock.patch("apps.lifecycle.operations.restart_app", return_value=None),
    ):
        yield enqueue


@pytest.fixture
def app(alice) -> WebApp:
    return WebApp.objects.create(name="hello-flask", owner=alice, state=WebApp.State.STOPPED)


@pytest.fixture
def reader(app) -> User:
    user = User.objects.create_user("rita")
    RoleAssignment.objects.create(role=Role.READER, user=user, app=app)
    return user


def _token(user: User) -> str:
    return ApiToken.objects.create_for(user, "tests")[1]


def _bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(user)}"}


def _session(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _basic(app: WebApp) -> dict[str, str]:
    pair = f"{app.publishing_username}:{app.publishing_password}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


# --- every surface asks app_for --------------------------------------------------------

# (surface, the module whose app_for it calls, how the caller signs in, method, path,
# the action it asks for)
SURFACES = [
    ("overview page", "apps.pages.overview", "session", "get", f"{A}/", "read"),
    ("configuration page", "apps.pages.config", "session", "post", f"{A}/configuration/general/", "write"),
    ("deployment center", "apps.deployments.views_center", "session", "get", f"{A}/deployment-center/", "read"),
    ("activity log", "apps.pages.activity", "session", "get", f"{A}/activity/", "read"),
    ("access control", "apps.access.services", "session", "get", f"{A}/access/", "read"),
    ("delete page", "apps.pages.delete", "session", "get", f"{A}/delete/", "manage_access"),
    ("log stream page", "apps.pages.logstream", "session", "get", f"{A}/logstream/", "read"),
    ("log stream events", "apps.pages.logstream", "session", "get", f"{A}/logstream/events", "read"),
    ("log stream API", "apps.pages.logstream", "token", "get", f"{API}/logstream", "read"),
    ("diagnostics page", "apps.pages.diagnose", "session", "get", f"{A}/diagnose/", "read"),
    ("diagnostics API", "apps.pages.diagnose", "token", "get", f"{API}/diagnostics", "read"),
    ("SSH page", "apps.console.views", "session", "get", f"{A}/ssh/", "write"),
    ("REST API", "apps.api.views", "token", "post", f"{API}/restart", "write"),
    ("git fetch", "apps.deployments.views", "token", "get", "/git/hello-flask.git/info/refs?service=git-upload-pack", "read"),
    ("git push", "apps.deployments.views", "token", "get", "/git/hello-flask.git/info/refs?service=git-receive-pack", "write"),
    ("zip deploy", "apps.deployments.views", "token", "post", f"{API}/zipdeploy?isAsync=true", "write"),
]  # fmt: skip


def _call(user: User, how: str, method: str, path: str):
    client = _session(user) if how == "session" else Client(headers=_bearer(user))
    if path.startswith(f"{API}/zipdeploy"):
        return client.post(path, zip_files({"app.py": "app = None\n"}), "application/zip")
    return getattr(client, method)(path)


@pytest.mark.parametrize(
    ("surface", "module", "how", "method", "path", "action"), SURFACES, ids=[s[0] for s in SURFACES]
)
def test_every_surface_finds_the_app_with_app_for(
    reader, app, surface, module, how, method, path, action
):
    with mock.patch(f"{module}.app_for", wraps=app_for) as spy:
        _call(reader, how, method, path)
    assert spy.called, f"the {surface} did not ask app_for"
    caller, name, *rest = spy.call_args.args
    assert (caller, name) == (reader, "hello-flask")
    assert (rest[0] if rest else "read") == action


def test_the_ssh_socket_finds_the_app_with_app_for(reader, app):
    with mock.patch("apps.console.services.app_for", wraps=app_for) as spy:
        access = console.app_for_user(reader, "hello-flask")
    spy.assert_called_once_with(reader, "hello-flask", "write", what=console.WHAT)
    assert access.app is None


def test_publishing_credentials_reach_app_for_as_a_principal(client, app):
    with mock.patch("apps.deployments.views.app_for", wraps=app_for) as spy:
        r = client.get(
            "/git/hello-flask.git/info/refs?service=git-receive-pack", headers=_basic(app)
        )
    assert r.status_code == 200
    caller = spy.call_args.args[0]
    assert isinstance(caller, PublishingCredential)
    assert caller.username == app.publishing_username


# --- the same answer on every surface ---------------------------------------------------


def test_a_reader_gets_the_same_reason_on_the_page_the_api_and_the_console(reader, app):
    changing = services.refusal(reader, app, "write")
    page = _session(reader).post(f"{A}/power/restart/", {"confirmed": "1"})
    api = Client(headers=_bearer(reader)).post(f"{API}/restart")
    assert page.status_code == api.status_code == 403
    assert changing in page.content.decode()
    assert api.json() == {"error": {"code": "AuthorizationFailed", "message": changing}}
    ssh = services.refusal(reader, app, "write", console.WHAT)
    assert ssh in _session(reader).get(f"{A}/ssh/").content.decode()
    assert console.app_for_user(reader, "hello-flask").message == ssh


def test_a_reader_may_read_but_not_push_or_zipdeploy(reader, app):
    token = Client(headers=_bearer(reader))
    fetch = token.get("/git/hello-flask.git/info/refs?service=git-upload-pack")
    push = token.get("/git/hello-flask.git/info/refs?service=git-receive-pack")
    upload = token.post(f"{API}/zipdeploy", zip_files({"app.py": ""}), "application/zip")
    assert fetch.status_code == 200
    assert push.status_code == upload.status_code == 403
    assert push.json() == upload.json()
    assert "allows reading only" in push.json()["error"]


# (path, how, the status for an app the caller cannot see)
HIDDEN = [
    (f"{A}/", "session", 404),
    (f"{A}/ssh/", "session", 404),
    (f"{A}/logstream/events", "session", 404),
    (f"{A}/diagnose/", "session", 404),
    (API, "token", 404),
    (f"{API}/logstream", "token", 404),
    (f"{API}/diagnostics", "token", 404),
    # Kudu's style: a git client asks for credentials again on a 401.
    ("/git/hello-flask.git/info/refs?service=git-upload-pack", "token", 401),
    (f"{API}/deployments/", "token", 401),
]


@pytest.mark.parametrize(("path", "how", "status"), HIDDEN)
def test_a_stranger_is_not_told_the_app_exists(bob, app, path, how, status):
    hidden = _call(bob, how, "get", path)
    missing = _call(bob, how, "get", path.replace("hello-flask", "no-such-app"))
    assert hidden.status_code == missing.status_code == status
    # The same body as for a name that does not exist.
    assert hidden.content.decode().replace("hello-flask", "no-such-app") == missing.content.decode()


# --- the resolver itself -------------------------------------------------------------------


def test_app_for_refuses_with_the_app_and_the_reason(reader, app):
    assert app_for(reader, "hello-flask") == app
    with pytest.raises(Refused) as refused:
        app_for(reader, "hello-flask", "write", what="Opening an SSH session")
    assert refused.value.app == app
    assert str(refused.value) == services.refusal(reader, app, "write", "Opening an SSH session")


def test_app_for_answers_404_to_nobody_and_to_the_wrong_resource_group(bob, alice, app):
    for caller in (None, bob):
        with pytest.raises(Http404):
            app_for(caller, "hello-flask")
    assert app_for(alice, "hello-flask", resource_group="DEFAULT") == app
    with pytest.raises(Http404):
        app_for(alice, "hello-flask", resource_group="other")


def test_publishing_credentials_open_their_own_app_for_reading_and_deploying_only(app, make_app):
    other = make_app("other")
    mine = PublishingCredential(app.publishing_username, app.publishing_password)
    kudu_style = PublishingCredential(f"hello-flask\\{app.publishing_username}", mine.password)
    assert app_for(mine, "hello-flask", "write") == app_for(kudu_style, "hello-flask") == app
    for name, action in [(other.name, "read"), ("hello-flask", "read_secrets")]:
        with pytest.raises(Http404):
            app_for(mine, name, action)
    with pytest.raises(Http404):
        app_for(PublishingCredential(app.publishing_username, "wrong"), "hello-flask")
    assert mine.password not in repr(mine)


# --- the token, once --------------------------------------------------------------------


def test_a_token_signs_in_on_the_pages_too(alice, app):
    r = Client(headers=_bearer(alice)).get(f"{A}/")
    assert r.status_code == 200
    assert r.wsgi_request.user == alice
    assert r.wsgi_request.token_authenticated is True


def test_the_token_is_checked_once_per_request(alice, app):
    with mock.patch("apps.api.auth.authenticate_token", wraps=auth.authenticate_token) as check:
        r = Client(headers=_bearer(alice)).get(API)
    assert r.status_code == 200
    check.assert_called_once()


def test_the_middleware_sets_the_user_for_async_views_too(alice, app):
    # The ASGI handler runs the middleware's async path (uvicorn does too).
    headers = _bearer(alice)

    async def tail() -> tuple[int, bytes]:
        r = await AsyncClient().get(f"{API}/logstream", headers=headers)
        return r.status_code, b"".join([chunk async for chunk in r.streaming_content])

    assert async_to_sync(tail)() == (200, b"hello\n")


def test_an_expired_token_leaves_the_page_signed_out_and_the_api_says_why(alice, app):
    secret = _token(alice)
    ApiToken.objects.update(expires=timezone.now() - timedelta(minutes=1))
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    page = client.get(f"{A}/")
    assert page.status_code == 302 and page["Location"].startswith(reverse(settings.LOGIN_URL))
    assert page.wsgi_request.token_refusal
    api = client.get(API)
    assert api.status_code == 401
    assert api.json()["error"] == {
        "code": "TokenExpired",
        "message": page.wsgi_request.token_refusal,
    }


def test_a_session_cookie_does_not_open_the_api(alice, app):
    client = _session(alice)
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/logstream").status_code == 401
    assert client.get(f"{A}/").status_code == 200


# --- nothing else looks the app up or reads the token ----------------------------------------

LOOKUP = re.compile(r"for_user\([^)]*\)\s*\.filter\(\s*name=")
TOKEN = re.compile(
    r"authenticate_token|authenticate_bearer|user_from_request|[!=]= [\"']bearer[\"']"
)
# The token's own module and the socket's middleware; the API's decorator and
# diagnostics' seam read the middleware's memoized answer back.
TOKEN_READERS = {"apps/api/auth.py", "apps/console/auth.py", "apps/api/http.py", "apps/pages/diagnose.py"}  # fmt: skip


def test_no_module_but_the_resolver_looks_an_app_up_for_a_user():
    found = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "apps").rglob("*.py"))
        if LOOKUP.search(p.read_text()) and p != ROOT / "apps/access/services.py"
    ]
    assert found == []


def test_no_module_but_the_middlewares_reads_a_bearer_token():
    found = {
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "apps").rglob("*.py"))
        if TOKEN.search(p.read_text())
    }
    assert found <= TOKEN_READERS, found - TOKEN_READERS
