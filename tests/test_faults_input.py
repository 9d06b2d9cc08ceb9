"""The fault suite's cases that need no engine (so they also run on
PostgreSQL): bad uploads, malformed advanced-edit JSON, setting names App
Service would reject, 20 concurrent settings saves, and every endpoint tried
by an anonymous user, a user with no role and a Reader. Each case compares
what the user had before and after: nothing may be lost or changed. The
module prints its table at the end (test-artifacts/fault-table.md too)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections, connection, connections
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from apps.api.models import ApiToken
from apps.deployments.models import Deployment
from apps.webapps import services
from apps.webapps.models import AppSetting, WebApp
from tests.deploy_helpers import zip_files
from tests.faults_helpers import (
    NONE,
    FaultTable,
    Stack,
    app_snapshot,
    bad_uploads,
    db_label,
)

pytestmark = [pytest.mark.postgres]

SECRET = "s3cret-value"


@pytest.fixture(scope="module")
def table(request) -> Iterator[FaultTable]:
    t = FaultTable("")
    yield t
    t.title = f"Bad input and access ({t.title or 'database'})"
    t.finish(request.config)


@pytest.fixture(autouse=True)
def _no_tasks(table):
    # Nothing leaves the process: no restart, deploy or build is enqueued.
    table.title = table.title or db_label()
    with mock.patch("celery.app.task.Task.apply_async") as apply_async:
        yield apply_async


@pytest.fixture
def app(alice) -> WebApp:
    app = WebApp.objects.create(name="faults-app", owner=alice)
    services.set_app_settings(
        app,
        [services.SettingInput("KEEP_ME", SECRET), services.SettingInput("DEBUG", "false")],
        restart=False,
    )
    Deployment.objects.create(
        app=app, status="success", active=True, image="berth/app-faults-app:1", container="c1"
    )
    return app


def basic(app: WebApp) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{app.publishing_username}:{app.publishing_password}".encode())
    return {"HTTP_AUTHORIZATION": f"Basic {token.decode()}"}


# ---- bad uploads ------------------------------------------------------------


@pytest.mark.django_db
def test_bad_uploads_are_refused_with_a_clear_message_and_no_deployment(client, app, table):
    before = app_snapshot(app)
    with override_settings(BERTH_MAX_ZIP_MB=1, BERTH_MAX_UNZIPPED_MB=5):
        for case, (body, message) in bad_uploads().items():
            with table.case(f"bad upload: {case}") as row:
                answer = client.post(
                    f"/api/apps/{app.name}/zipdeploy",
                    data=body,
                    content_type="application/zip",
                    **basic(app),
                )
                # Too big is refused before it is read (apps.core.bodylimit).
                status = 413 if case == "oversized" else 400
                assert answer.status_code == status, (case, answer.content[:300])
                assert message in answer.json()["error"], (case, answer.json())
                assert app_snapshot(app) == before, case
                row.outcome = f"{status}: {answer.json()['error'][:70]}"
                row.lost = NONE


# ---- malformed JSON and bad names ----------------------------------------

ADVANCED = "/apps/faults-app/configuration/advanced/appsettings/"
BAD_JSON = {
    "trailing comma": ('[{"name": "A", "value": "1",}]', "Line 1"),
    "not a list": ('{"name": "A", "value": "1"}', ""),
    "truncated": ('[{"name": "A", "value": "1"', "Line 1"),
    "value not a string": ('[{"name": "A", "value": {"x": 1}}]', ""),
    "unknown key": ('[{"name": "A", "value": "1", "sticky": true}]', ""),
}
BAD_NAMES = {
    "space": "MY SETTING",
    "equals": "A=B",
    "leading digit": "1ABC",
    "slash": "path/name",
    "quote": 'say"hi',
    "empty": "",
    "duplicate": "KEEP_ME",  # given twice below
}


def _errors_in(html: str) -> bool:
    return bool(re.search(r"errorlist|class=\"error|role=\"alert\"", html))


@pytest.mark.django_db
def test_malformed_advanced_edit_json_changes_nothing(alice_client, app, table):
    for case, (text, says) in BAD_JSON.items():
        with table.case(f"advanced edit JSON: {case}") as row:
            before = app_snapshot(app)
            answer = alice_client.post(ADVANCED, {"text": text, "confirmed": "1"})
            assert answer.status_code in (200, 400), (case, answer.status_code)
            html = answer.content.decode()
            assert says in html, (case, html[:2000])
            assert _errors_in(html), (case, "no error shown")
            assert app_snapshot(app) == before, case
            row.outcome = f"page {answer.status_code} with an error shown"
            row.lost = NONE


@pytest.mark.django_db
def test_a_setting_name_app_service_rejects_is_refused_by_page_and_api(alice, app, table):
    page = Client()
    page.force_login(alice)
    _, token = ApiToken.objects.create_for(alice, "faults")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    for case, name in BAD_NAMES.items():
        with table.case(f"setting name rejected: {case} ({name!r})") as row:
            before = app_snapshot(app)
            items = [{"name": name, "value": "x", "slotSetting": False}]
            if case == "duplicate":
                items = [*items, {"name": name, "value": "y", "slotSetting": False}]
            answer = page.post(ADVANCED, {"text": json.dumps(items), "confirmed": "1"})
            assert answer.status_code in (200, 400), (case, answer.status_code)
            assert _errors_in(answer.content.decode()), case
            assert app_snapshot(app) == before, case
            outcomes = [f"page {answer.status_code}"]
            for method in ("patch", "put"):
                answer = getattr(api, method)(
                    f"/api/apps/{app.name}/appsettings",
                    data=json.dumps(items),
                    content_type="application/json",
                )
                assert answer.status_code in (400, 422), (case, method, answer.content[:300])
                message = json.dumps(answer.json())
                assert (name and name in message) or "name" in message.lower(), (case, message)
                assert app_snapshot(app) == before, (case, method)
                outcomes.append(f"API {method.upper()} {answer.status_code}")
            row.outcome = ", ".join(outcomes) + f": {message[:60]}"
            row.lost = NONE


# ---- concurrent saves ------------------------------------------------------


def _save_concurrently(app: WebApp, n: int = 20) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(n, timeout=30)

    def save(i: int) -> None:
        try:
            start.wait()
            services.set_app_settings(app, [services.SettingInput(f"CONCURRENT_{i}", str(i))])
        except BaseException as e:
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_settings_saves_lose_nothing(app, table, _no_tasks):
    if connection.vendor == "sqlite":
        pytest.skip("the SQLite test database is in memory: the WAL file case below covers it")
    with table.case("20 concurrent settings saves (threads)") as row:
        errors = _save_concurrently(app)
        assert not errors, errors
        names = set(AppSetting.objects.filter(app=app).values_list("name", flat=True))
        assert names == {"KEEP_ME", "DEBUG"} | {f"CONCURRENT_{i}" for i in range(20)}
        row.outcome = "20 saved, 0 errors"
        row.lost = NONE


SAVE_IN_WAL = """
import threading
from unittest import mock
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections, connection, connections
from apps.webapps import services
from apps.webapps.models import AppSetting, WebApp
mode = connection.cursor().execute("PRAGMA journal_mode").fetchone()[0]
alice = User.objects.create_user("alice", password="alice-password-1")
app = WebApp.objects.create(name="wal-app", owner=alice)
services.set_app_settings(app, [services.SettingInput("KEEP_ME", "x")], restart=False)
connections.close_all()
errors = []
barrier = threading.Barrier(20, timeout=30)
def save(i):
    try:
        barrier.wait()
        services.set_app_settings(app, [services.SettingInput(f"CONCURRENT_{i}", str(i))])
    except BaseException as e:
        errors.append(repr(e))
    finally:
        connections.close_all()
with mock.patch("apps.deployments.tasks.restart.delay") as delay:
    threads = [threading.Thread(target=save, args=(i,)) for i in range(20)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
names = sorted(AppSetting.objects.filter(app=app).values_list("name", flat=True))
out = {"mode": mode, "errors": errors, "names": names, "restarts": delay.call_count}
"""


def test_twenty_concurrent_settings_saves_on_sqlite_wal_lose_nothing(tmp_path, table):
    with table.case("20 concurrent settings saves (SQLite file, WAL)") as row:
        stack = Stack(tmp_path, http_port=0, https_port=0)
        stack.manage("migrate", "--noinput", "-v0")
        out = stack.shell(SAVE_IN_WAL)
        assert out["mode"] == "wal", out
        assert not out["errors"], out["errors"]
        assert out["names"] == sorted(["KEEP_ME"] + [f"CONCURRENT_{i}" for i in range(20)])
        row.outcome = f"20 saved, 0 errors, journal_mode={out['mode']}"
        row.lost = NONE


# ---- every endpoint, by users who may not -------------------------------

PUBLIC = ("login/", "healthz", "api/openapi.json", "api/docs", "logout/", "api/token")
WRITES = ("post", "put", "patch", "delete")


def _routes() -> list[str]:
    """Every URL pattern of the portal as a route string (admin left out: Django's own)."""
    out: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = getattr(p.pattern, "_route", None)
            if route is None:
                continue  # regex patterns: Django's admin and static serving
            if isinstance(p, URLResolver):
                if route.startswith("admin"):
                    continue
                walk(p.url_patterns, prefix + route)
            elif isinstance(p, URLPattern):
                out.append(prefix + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(out))


def _paths(app: WebApp, deployment: Deployment) -> list[tuple[str, str]]:
    """(route, concrete path) for every route, parameters filled in."""
    values = {
        "name": app.name,
        "pk": str(deployment.pk),
        "kind": "appsettings",
        "action": "stop",
        "detector": "crash_loop",
        "version": "3.11",
        "path": "info/refs",
    }
    out = []
    for route in _routes():

        def fill(m: re.Match, route=route) -> str:
            conv, name = m.group(1) or "str", m.group(2)
            return values.get(name, "1" if conv == "int" else "x")

        path = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
        out.append((route, path))
        if route.startswith("git/"):
            out.append((route, path.replace("info/refs", "git-receive-pack")))
    return out


def _body(path: str) -> tuple[bytes | str, str]:
    """What a real client would send there, so a hole would show up as a change."""
    if path.endswith("/zipdeploy"):
        return zip_files({"app.py": "print('intruder')\n"}), "application/zip"
    if path.startswith("/api/") and ("appsettings" in path or "connectionstrings" in path):
        items = [{"name": "INTRUDER", "value": "x", "slotSetting": False}]
        return json.dumps(items), "application/json"
    if path.startswith("/api/"):
        return json.dumps({"state": "Stopped", "appCommandLine": "rm -rf /"}), "application/json"
    return (
        "name=INTRUDER&value=x&confirmed=1&text=%5B%5D&app_command_line=x&role=Owner",
        "application/x-www-form-urlencoded",
    )


def _world() -> dict:
    from apps.audit.models import AuditEvent

    counts = {
        "apps": WebApp.objects.count(),
        "deployments": Deployment.objects.count(),
        "settings": AppSetting.objects.count(),
        "users": User.objects.count(),
        "audit": AuditEvent.objects.count(),
    }
    try:
        from apps.access.models import RoleAssignment

        counts["roles"] = RoleAssignment.objects.count()
    except ImportError:
        pass
    return counts


def _principals(app: WebApp, bob: User) -> dict[str, tuple[Client, Client]]:
    """Name -> (page client, API client)."""
    anon = Client()
    found = {"unauthenticated": (anon, anon)}
    nobody = Client()
    nobody.force_login(bob)
    _, token = ApiToken.objects.create_for(bob, "faults")
    found["user with no role"] = (nobody, Client(headers={"Authorization": f"Bearer {token}"}))
    try:
        from apps.access.models import Role, RoleAssignment
    except ImportError:
        return found
    carol = User.objects.create_user("carol", "carol@example.org", "carol-password-1")
    RoleAssignment.objects.create(role=Role.READER, user=carol, app=app)
    reader = Client()
    reader.force_login(carol)
    _, token = ApiToken.objects.create_for(carol, "faults")
    found["Reader"] = (reader, Client(headers={"Authorization": f"Bearer {token}"}))
    return found


def _check(who: str, method: str, route: str, path: str, answer, app_scoped: bool) -> str:
    """'' if the answer is acceptable, else why not."""
    status = answer.status_code
    if status >= 500:
        return f"{status} (a server error)"
    public = any(route.startswith(p) for p in PUBLIC) or not route
    if who == "unauthenticated":
        if public:
            return ""
        if status == 302:
            where = answer.get("Location", "")
            return "" if "login" in where else f"302 to {where} (not the login page)"
        return "" if status in (400, 401, 403, 404, 405) else f"{status}"
    if method in WRITES and app_scoped and 200 <= status < 300:
        return f"{status} on a write"
    if who == "user with no role" and app_scoped and status == 200:
        return "200: sees an app it has no role on"
    return ""


@pytest.mark.django_db
def test_no_endpoint_lets_an_outsider_or_a_reader_change_anything(app, bob, table):
    deployment = Deployment.objects.get(app=app)
    paths = _paths(app, deployment)
    assert len(paths) > 30, paths  # the walk found the portal's URLs
    for who, (page, api) in _principals(app, bob).items():
        with table.case(f"every endpoint as {who}") as row:
            before, world = app_snapshot(app), _world()
            problems: list[str] = []
            statuses: dict[int, int] = {}
            tried = 0
            for route, path in paths:
                is_api = path.startswith(("/api/", "/git/"))
                client = api if is_api else page
                methods = ["get", *WRITES] if is_api else ["get", "post"]
                for method in methods:
                    kwargs = {}
                    if method != "get":
                        data, content_type = _body(path)
                        kwargs = {"data": data, "content_type": content_type}
                    query = "?service=git-receive-pack" if path.endswith("info/refs") else ""
                    answer = getattr(client, method)(path + query, **kwargs)
                    if answer.streaming:
                        # The log stream: the status is all we need. Closing a
                        # response fires request_finished, which would close
                        # the test's database connection: not during this.
                        request_finished.disconnect(close_old_connections)
                        try:
                            answer.close()
                        finally:
                            request_finished.connect(close_old_connections)
                    tried += 1
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    why = _check(who, method, route, path, answer, app.name in path)
                    if why:
                        problems.append(f"{method.upper()} {path}: {why}")
            assert not problems, f"{who}:\n" + "\n".join(problems)
            assert app_snapshot(app) == before, who
            assert _world() == world, who
            seen = ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))
            row.outcome = f"{tried} requests, refused as they should be ({seen})"
            row.lost = NONE
