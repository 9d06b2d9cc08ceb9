"""Save asks, then the app restarts with visible status, in a real browser on
the real engine: the step progress bar updates live until it is done; a
startup command that never listens ends in a failure that says why and
that the previous container still serves; the Overview's Restart shows
the same. Without JavaScript the page draws the current state and a
Reload link."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import connection, transaction
from playwright.sync_api import Page, expect

from apps.deployments import services, tasks
from apps.deployments import tasks as power_tasks
from apps.deployments.models import Deployment
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import operations
from apps.webapps.models import Operation, WebApp
from tests.browser.test_config_browser import add_setting
from tests.deploy_helpers import cleanup_app, zip_sample

RESTART_MS = 60_000


@pytest.fixture
def worker() -> Iterator[None]:
    """Restarts run as the Celery worker would run them, in a thread of this
    process, so the page watches the real thing."""
    threads: list[threading.Thread] = []

    def run(task, **kwargs) -> None:
        def target() -> None:
            try:
                task(**kwargs)
            finally:
                connection.close()

        t = threading.Thread(target=target, daemon=True)
        threads.append(t)
        t.start()

    def power_on_commit(**kwargs) -> None:
        transaction.on_commit(lambda: run(power_tasks.power, **kwargs))

    with (
        mock.patch(
            "apps.deployments.tasks.restart.delay",
            side_effect=lambda **kw: run(tasks.restart, **kw),
        ),
        mock.patch("apps.deployments.tasks.power.delay_on_commit", side_effect=power_on_commit),
    ):
        yield
    for t in threads:
        t.join(120)


@pytest.fixture
def deployed(user, settings, tmp_path) -> Iterator[WebApp]:
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 10
    app = WebApp.objects.create(name=f"rs-{secrets.token_hex(3)}", owner=user)
    d = services.run_deployment(services.create_deployment(app, zip_sample("echo_app")).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    yield app
    cleanup_app(app.name)


def confirm_next_dialog(page: Page, seen: list[str]) -> None:
    def accept(dialog) -> None:
        seen.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)


@pytest.mark.browser
@pytest.mark.docker
@pytest.mark.runtime
def test_save_confirm_and_watch_the_restart_until_done(
    deployed, worker, logged_in_page: Page, screenshot
):
    page, app = logged_in_page, deployed
    first = lifecycle_ops.active_deployment(app).container

    # Application settings: Save asks first, then the restart shows live.
    page.goto(f"/apps/{app.name}/configuration/")
    add_setting(page, "GREETING", "hello")
    asked: list[str] = []
    confirm_next_dialog(page, asked)
    # No reload: htmx asks for the panel every second and swaps it in; the
    # last answer (286) stops the polling.
    with page.expect_response(
        lambda r: "/operations/" in r.url and r.status == 286, timeout=RESTART_MS
    ):
        page.locator("#save-button").click()
        page.wait_for_url(re.compile(r"/configuration/\?operation=\d+$"))
        assert asked == [f"Saving restarts {app.name} to apply the changes. Continue?"]
        expect(page.locator("#operation")).to_be_visible()
        screenshot(page, "restart-under-way")
    status = page.locator("#operation-status")
    expect(status).to_have_text("Succeeded")
    bar = page.locator("#operation-bar")
    expect(bar).to_have_class(re.compile(r"\bdone\b"))
    expect(bar).to_have_attribute("aria-valuenow", "100")
    for step in ("start", "health", "switch", "retire"):
        expect(page.locator(f'#operation [data-step="{step}"]')).to_have_attribute(
            "data-status", "done"
        )
    expect(page.locator("#operation")).to_contain_text(f"stopped and removed {first}")
    expect(page.locator("#operation")).not_to_have_attribute("hx-trigger", re.compile("."))
    screenshot(page, "restart-done")
    op = Operation.objects.get(app=app, trigger="settings")
    assert op.status == "success" and op.actor_name == "alice"
    serving = lifecycle_ops.active_deployment(app).container
    assert serving != first

    # General settings: a startup command that never listens fails at the
    # health check, says why, and the previous container keeps serving.
    page.goto(f"/apps/{app.name}/configuration/general/")
    page.get_by_label("Startup Command").fill("echo never listening && sleep 600")
    confirm_next_dialog(page, asked)
    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/configuration/general/\?operation=\d+$"))
    expect(status).to_have_text("Failed", timeout=RESTART_MS)
    expect(page.locator("#operation-error")).to_contain_text("didn't respond to HTTP pings")
    expect(page.locator("#operation-serving")).to_contain_text(
        f"The previous container {serving} is still serving"
    )
    expect(page.locator("#operation-app-log")).to_contain_text("never listening")
    expect(page.locator('#operation [data-step="health"]')).to_have_attribute(
        "data-status", "failed"
    )
    screenshot(page, "restart-failed")
    assert lifecycle_ops.active_deployment(app).container == serving

    # The Overview's Restart (back to a startup command that works).
    page.goto(f"/apps/{app.name}/configuration/general/")
    page.get_by_label("Startup Command").fill("")
    confirm_next_dialog(page, asked)
    page.locator("#save-button").click()
    expect(status).to_have_text("Succeeded", timeout=RESTART_MS)
    page.goto(f"/apps/{app.name}/")
    confirm_next_dialog(page, asked)
    page.get_by_role("button", name="↻ Restart").click()
    expect(page.locator("#operation-title")).to_contain_text("Restart by alice")
    # When it ends the Overview reloads, showing the new container.
    expect(status).to_have_text("Succeeded", timeout=RESTART_MS)
    new = lifecycle_ops.active_deployment(app).container
    expect(page.locator("main")).to_contain_text(f"container {new}")
    screenshot(page, "overview-restarted")


@pytest.mark.browser
def test_without_javascript_the_page_shows_the_current_state(no_js_page: Page, user, screenshot):
    page = no_js_page
    app = WebApp.objects.create(name="hello-flask", owner=user)
    op = operations.begin(app, Operation.Trigger.SETTINGS, actor=user, reason="test")
    recorder = lifecycle_ops.Recorder.claim(op)
    recorder("start", "done", "berth-hello-flask-1-abc on 127.0.0.1:41000")
    recorder("health", "running", "GET /")

    page.goto(f"/apps/{app.name}/configuration/?operation={op.pk}")
    expect(page.locator("#operation-status")).to_have_text("Running")
    expect(page.locator("#operation-label")).to_have_text("Waiting for HTTP (health check)…")
    screenshot(page, "no-js-running")

    recorder("health", "done", "GET / answered 200 after 0.6 s")
    recorder("switch", "done", "")
    recorder("retire", "done", "")
    recorder.succeed("Restarted: serving from berth-hello-flask-1-abc.")
    page.get_by_role("link", name="Reload").click()
    expect(page.locator("#operation-status")).to_have_text("Succeeded")
    expect(page.locator("#operation-message")).to_have_text(
        "Restarted: serving from berth-hello-flask-1-abc."
    )
    screenshot(page, "no-js-done")
