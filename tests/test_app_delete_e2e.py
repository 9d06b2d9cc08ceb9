# The proxy fixture comes from tests.test_proxy_nginx; arguments naming it are not redefinitions.
# ruff: noqa: F811
"""Deleting an app against the real engine and Berth's own nginx: two
releases (the second built on the first's image), an old exited container,
a Git repository, the log archive being written by a running archiver and a
proxy route; DELETE /api/apps/<name> leaves none of it, and an app created
again with the same name starts clean. A removal the engine refuses leaves
the app stopped, and deleting it again finishes the job. The Overview's
Delete page (name typed to confirm) does the same to a real release."""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time

import pytest
from django.test import Client

from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from apps.deployments import gitrepo
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.logs import archive
from apps.proxy import nginx
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app
from tests.test_deploy_reuse_e2e import deploy, page
from tests.test_proxy_nginx import get, proxy  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.nginx,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def routed(proxy):
    """Berth's own nginx (tests.test_proxy_nginx) with releases routed through it."""
    if not engine.image_exists("berth/python:3.11"):
        pytest.fail("berth/python:3.11 is missing: run `python manage.py runtime ensure 3.11`")
    proxy.BERTH_PROXY_ROUTING = True
    proxy.BERTH_START_TIME_LIMIT = 40
    return proxy


@pytest.fixture
def name():
    name = f"del-{secrets.token_hex(3)}"
    yield name
    cleanup_app(name)


@pytest.fixture
def headers(alice) -> dict:
    _, token = ApiToken.objects.create_for(alice, "tests")
    return {"Authorization": f"Bearer {token}"}


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@contextlib.contextmanager
def archiving(name: str):
    """An archiver following the app's containers, as the one beside the worker does."""
    archiver = archive.Archiver(only={name})
    thread = threading.Thread(target=archiver.run, kwargs={"poll": 0.3}, daemon=True)
    thread.start()
    try:
        yield archiver
    finally:
        archiver.stopping.set()
        thread.join(10)


def leftovers(name: str, settings) -> dict:
    data = settings.DATA_DIR
    return {
        "containers": engine.find_containers({"io.berth.app": name}),
        "networks": engine.find_networks({"io.berth.app": name}),
        "images": engine.find_images({"io.berth.app": name}, repository=f"berth/app-{name}"),
        "volumes": engine.find_volumes({"io.berth.app": name}),
        "route": name in nginx.routes(),
        "artifacts": (data / "artifacts" / name).exists(),
        "repo": (data / "repos" / f"{name}.git").exists(),
        "logs": (data / "logs" / name).exists(),
        "lock": (data / "locks" / f"{name}.lock").exists(),
    }


NOTHING = {
    "containers": [],
    "networks": [],
    "images": [],
    "volumes": [],
    "route": False,
    "artifacts": False,
    "repo": False,
    "logs": False,
    "lock": False,
}


def test_deleting_leaves_nothing_behind_and_the_name_starts_clean(routed, alice, name, headers):
    app = config.create_app(name=name, owner=alice)
    first = deploy(app, "v1")
    with archiving(name):
        second = deploy(app, "v2")
        assert "reusing its virtual environment" in second.log  # built on v1's image
        assert page(lifecycle_ops.active_deployment(app))["version"] == "v2"
        assert '"version":"v2"' in get(routed, f"{name}.localhost")[1].replace(" ", "")
        # An old container, exited, as a crash leaves one.
        engine.create_container(
            second.image,
            ["true"],
            name=f"berth-{name}-old",
            environment={},
            labels={"io.berth.app": name, "io.berth.role": "app", "io.berth.deployment": "1"},
        )
        gitrepo.ensure_repo(app)
        serving_v2 = lifecycle_ops.active_deployment(app).container
        wait_for(lambda: any(a.container == serving_v2 for a in archive.tail(name)))
        before = leftovers(name, routed)
        assert len(before["containers"]) == 2 and len(before["images"]) == 2
        # Its persistent /home and its own wheel cache.
        assert before["volumes"] == [f"berth-home-{name}", f"berth-pip-cache-{name}"]
        assert before["networks"] == [f"berth-app-{name}"]
        assert before["route"] and before["artifacts"] and before["repo"] and before["logs"]

        r = Client().delete(f"/api/apps/{name}", headers=headers)
        assert r.status_code == 204, r.content
        time.sleep(1)  # the archiver's last flush and save, had it kept any line
    assert leftovers(name, routed) == NOTHING
    assert not engine.image_exists(first.image) and not engine.image_exists(second.image)
    status, _ = get(routed, f"{name}.localhost")
    assert status == 404  # the proxy's "no such app" page
    assert not WebApp.objects.filter(name=name).exists()
    assert not Deployment.objects.filter(pk__in=[first.pk, second.pk]).exists()
    event = AuditEvent.objects.get(app_name=name, action="app.delete")
    assert event.actor == alice
    assert sorted(event.after["removed"]["containers"]) == sorted(before["containers"])

    # The same name again: a full build, and none of the old app's logs.
    again = config.create_app(name=name, owner=alice)
    with archiving(name):
        third = deploy(again, "v3")
        assert "No earlier successful release to reuse: full build." in third.log
        assert page(lifecycle_ops.active_deployment(again))["version"] == "v3"
        serving_v3 = lifecycle_ops.active_deployment(again).container
        wait_for(lambda: any(a.container == serving_v3 for a in archive.tail(name)))
    assert {a.container for a in archive.tail(name)} == {serving_v3}
    activity = Client()
    activity.force_login(alice)
    events = activity.get(f"/apps/{name}/activity.json").json()["events"]
    # The new app's history: its creation and its creator's Owner grant.
    assert sorted(e["action"] for e in events) == ["app.create", "roleassignment.create"]


def test_a_removal_the_engine_refuses_keeps_the_app_stopped_and_a_retry_finishes(
    routed, alice, name, headers
):
    app = config.create_app(name=name, owner=alice)
    release = deploy(app, "v1")
    # A container Berth did not make runs from the release image (its label,
    # which it would inherit from the image, says another app): the engine
    # refuses to remove an image a running container uses, even with force.
    stray = f"stray-{secrets.token_hex(3)}"
    engine.client().containers.run(
        release.image,
        entrypoint=["sleep", "300"],
        name=stray,
        labels={"io.berth.app": "not-this-one"},
        detach=True,
    )
    assert engine.container_state(stray).status == "running"
    try:
        r = Client().delete(f"/api/apps/{name}", headers=headers)
        assert r.status_code == 503, r.content
        error = r.json()["error"]
        assert error["code"] == "DeleteIncomplete"
        assert error["message"].startswith(f"{name} is stopped but not deleted: Removing image")
        assert error["message"].endswith("Delete it again to finish.")
        app.refresh_from_db()
        assert app.state == WebApp.State.STOPPED
        assert Deployment.objects.filter(app=app).exists()
        (event,) = AuditEvent.objects.filter(app_name=name, action="app.delete")
        assert event.after["incomplete"] == error["message"]  # stopped on the way, and why
        # What went before the failure stays gone; the rest waits for the retry.
        left = leftovers(name, routed)
        assert left["containers"] == [] and left["route"] is False
        assert left["images"] and left["artifacts"]
    finally:
        engine.remove_container(stray)

    assert Client().delete(f"/api/apps/{name}", headers=headers).status_code == 204
    assert leftovers(name, routed) == NOTHING
    assert not WebApp.objects.filter(name=name).exists()


def test_deleting_through_the_page_leaves_nothing_on_the_engine(routed, alice, name):
    """The Overview's Delete, as a person uses it (the confirm page, the
    name typed, the CSRF token), on a release the real engine built."""
    app = config.create_app(name=name, owner=alice)
    release = deploy(app, "v1")
    before = leftovers(name, routed)
    assert before["containers"] and before["images"] and before["route"]

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert f'href="/apps/{name}/delete/"' in client.get(f"/apps/{name}/").content.decode()
    form = client.get(f"/apps/{name}/delete/").content.decode()
    assert "Release images" in form and f"berth/app-{name}:*" in form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)

    # A wrong name: nothing happens, the app keeps serving.
    wrong = client.post(f"/apps/{name}/delete/", {"name": "nope", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 400
    assert leftovers(name, routed) == before
    assert page(release)["version"] == "v1"

    r = client.post(f"/apps/{name}/delete/", {"name": name, "csrfmiddlewaretoken": token})
    assert r.status_code == 302 and r["Location"] == "/"
    assert leftovers(name, routed) == NOTHING
    assert not engine.image_exists(release.image)
    assert get(routed, f"{name}.localhost")[0] == 404
    assert not WebApp.objects.filter(name=name).exists()
    assert AuditEvent.objects.get(app_name=name, action="app.delete").actor == alice
    assert f"Deleted {name}:" in client.get("/").content.decode()
