"""The Log stream in a real browser: a running container's lines arrive
live, pause holds them, and a restart shows a marker line."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.webapps.models import AppSetting, WebApp

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.runtime]

IMAGE = "berth/python:3.11"
SECRET = "browser-secret-value"


@pytest.fixture
def app(user):
    app = WebApp.objects.create(name=f"lsb-{secrets.token_hex(3)}", owner=user)
    AppSetting.objects.create(app=app, name="TOKEN", value=SECRET)
    name = f"berth-{app.name}-1"
    script = (
        "import sys, time\n"
        "print('[app] started, listening', flush=True)\n"
        f"print('token is {SECRET}', file=sys.stderr, flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1; print(f'request {i} served', flush=True); time.sleep(0.5)\n"
    )
    container = engine.create_container(
        IMAGE,
        ["python3", "-u", "-c", script],
        name=name,
        environment={},
        labels={"io.berth.app": app.name, "io.berth.role": "app"},
    )
    engine.start_container(container)
    Deployment.objects.create(app=app, status="success", active=True, container=name)
    yield app
    engine.remove_container(name)


def test_the_log_stream_shows_lines_live_pauses_and_marks_a_restart(
    app, logged_in_page: Page, screenshot
):
    page = logged_in_page
    page.goto(f"/apps/{app.name}/")
    page.get_by_role("link", name="Log stream").click()
    box = page.locator("#logstream")
    expect(box).to_contain_text("[app] started, listening")
    expect(box).to_contain_text("token is ***")
    expect(box).not_to_contain_text(SECRET)
    expect(page.locator("#logstream-status")).to_have_text("Connected · live")
    expect(box.locator(".ls-stderr").first).to_be_visible()

    page.get_by_role("button", name="❚❚ Pause").click()
    expect(page.locator("#logstream-buffered")).to_contain_text("held while paused", timeout=5000)
    page.get_by_role("button", name="▶ Resume").click()
    expect(page.locator("#logstream-buffered")).to_be_hidden()

    engine.client().api.restart(f"berth-{app.name}-1", timeout=1)
    expect(box.locator(".ls-marker")).to_contain_text("container restarted at", timeout=15_000)
    expect(box.locator(".ls-marker ~ .ls-line", has_text="[app] started")).to_have_count(1)
    screenshot(page, "logstream")

    download = page.request.get(f"/apps/{app.name}/logstream/download?lines=10")
    assert download.ok and "request" in download.text() and SECRET not in download.text()
