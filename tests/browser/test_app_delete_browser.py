"""Deleting an app from its Overview in chromium: the confirm page says what
goes, a wrong name is refused at the field, the right one deletes a release
the real engine runs and lands on the list with a message; without
JavaScript an engine that does not answer is shown with "deleting again
finishes the job", and deleting again does. A Reader sees Start/Stop/Restart,
Delete and SSH disabled, with the reason."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from unittest import mock

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from apps.access.models import Role, RoleAssignment
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineUnavailable
from apps.webapps.models import WebApp
from tests.browser.conftest import log_in
from tests.deploy_helpers import cleanup_app, zip_sample

DELETE_MS = 120_000
DOWN = "Cannot reach the Docker engine: is it running?"


@pytest.fixture(autouse=True)
def _quiet_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False  # not Berth's shared nginx
    settings.BERTH_START_TIME_LIMIT = 30


@pytest.fixture
def deployed(user) -> Iterator[WebApp]:
    app = WebApp.objects.create(name=f"rm-{secrets.token_hex(3)}", owner=user)
    d = services.run_deployment(services.create_deployment(app, zip_sample("echo_app")).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    yield app
    cleanup_app(app.name)


def on_engine(name: str) -> tuple[list[str], list[str]]:
    return (
        engine.find_containers({"io.berth.app": name}),
        engine.find_images({"io.berth.app": name}, repository=f"berth/app-{name}"),
    )


@pytest.mark.browser
@pytest.mark.docker
@pytest.mark.runtime
def test_an_owner_deletes_an_app_from_its_overview(deployed, logged_in_page: Page, screenshot):
    page, name = logged_in_page, deployed.name
    containers, images = on_engine(name)
    assert containers and images

    page.goto(f"/apps/{name}/")
    page.get_by_role("link", name="Delete").click()
    page.wait_for_url(re.compile(rf"/apps/{name}/delete/$"))
    expect(
        page.get_by_role("heading", name=f"Are you sure you want to delete {name}?")
    ).to_be_visible()
    removes = page.locator("#delete-removes")
    for what in ("Containers", "Release images", "Logs archive", "Deployments history"):
        expect(removes).to_contain_text(what)
    expect(removes).to_contain_text("Git repository")
    expect(removes).to_contain_text("Settings")
    expect(page.locator("#delete-keeps")).to_contain_text("Kept: the audit history")
    screenshot(page, "confirm")

    # A wrong name: the field says so and nothing is touched.
    confirm = page.get_by_label(f"Type {name} to confirm")
    confirm.fill(name[:-1])
    page.locator("#delete-button").click()
    expect(page.locator("#delete-name-error")).to_contain_text(f"type {name} exactly")
    expect(page.locator("#app-state")).to_have_text("Running")
    screenshot(page, "wrong-name")
    assert on_engine(name) == (containers, images)

    page.get_by_label(f"Type {name} to confirm").fill(name)
    page.locator("#delete-button").click()
    page.wait_for_url(re.compile(r"/$"), timeout=DELETE_MS)  # the engine removes it meanwhile
    expect(page.locator(".messages")).to_contain_text(f"Deleted {name}:")
    expect(page.locator(".messages")).to_contain_text("Its audit history is kept.")
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    screenshot(page, "list")
    assert on_engine(name) == ([], [])
    assert not WebApp.objects.filter(name=name).exists()


@pytest.mark.browser
def test_without_javascript_an_incomplete_delete_says_to_delete_again(
    no_js_page: Page, user, screenshot
):
    page = no_js_page
    app = WebApp.objects.create(name="hello-flask", owner=user)
    Deployment.objects.create(app=app, status="success", active=True)
    page.goto("/apps/hello-flask/delete/")
    page.get_by_label("Type hello-flask to confirm").fill("hello-flask")
    # The live server runs in this process: the patch reaches its requests.
    with mock.patch.object(
        engine, "find_containers", autospec=True, side_effect=EngineUnavailable(DOWN)
    ):
        page.locator("#delete-button").click()
        failed = page.locator("#delete-failed")
        expect(failed).to_contain_text(
            f"hello-flask is stopped but not deleted: {DOWN} Delete it again once the engine answers."
        )
    expect(failed).to_contain_text("Deleting again finishes the job.")
    expect(page.locator("#app-state")).to_have_text("Stopped")
    screenshot(page, "incomplete")
    assert WebApp.objects.get(name="hello-flask").state == WebApp.State.STOPPED

    with (
        mock.patch.object(engine, "find_containers", autospec=True, return_value=[]),
        mock.patch.object(engine, "find_images", autospec=True, return_value=[]),
        mock.patch.object(engine, "find_volumes", autospec=True, return_value=[]),
    ):
        page.get_by_role("button", name="Delete again").click()
        page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".messages")).to_contain_text("Deleted hello-flask:")
    assert not WebApp.objects.filter(name="hello-flask").exists()


@pytest.mark.browser
def test_a_reader_sees_the_commands_disabled_with_the_reason(page: Page, user, screenshot):
    app = WebApp.objects.create(name="hello-flask", owner=user)
    rita = User.objects.create_user("rita", "rita@example.org", "rita-password-1")
    RoleAssignment.objects.create(role=Role.READER, user=rita, app=app)
    log_in(page, "rita", "rita-password-1")
    page.goto("/apps/hello-flask/")
    for label in ("■ Stop", "↻ Restart", "✕ Delete"):
        button = page.get_by_role("button", name=label)
        expect(button).to_be_disabled()
        expect(button).to_have_accessible_description(
            re.compile("Your role on hello-flask is Reader")
        )
    expect(page.locator("#role-note")).to_have_text(
        "Your role on hello-flask is Reader: Contributor or Owner can start, stop or restart it, "
        "and only an Owner can delete it."
    )
    menu = page.get_by_role("navigation", name="hello-flask menu")
    expect(menu.get_by_role("link", name="SSH")).to_have_count(0)
    expect(menu.locator("#ssh-disabled")).to_have_attribute("aria-disabled", "true")
    expect(menu).to_contain_text("Your role is Reader: Contributor or Owner can open SSH.")
    screenshot(page, "overview-reader")
    # Opening the delete page anyway: the 403 says which role would.
    response = page.goto("/apps/hello-flask/delete/")
    assert response is not None and response.status == 403
    expect(page.locator("#forbidden-reason")).to_contain_text(
        "Your role on hello-flask is Reader. Deleting the app requires the Owner role"
    )
    assert WebApp.objects.filter(name="hello-flask").exists()
