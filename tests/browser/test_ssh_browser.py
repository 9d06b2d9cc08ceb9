"""The SSH page in Debian's chromium, against the portal under uvicorn (the
live server pytest-django offers does not speak WebSockets) and a real app
container: log in, type into the terminal, see the answer."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from apps.engine import client as engine
from tests.browser.conftest import SCREENSHOTS
from tests.console_helpers import PASSWORD, start_app_container, start_portal, stop_portal

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.runtime]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    if not engine.image_exists("berth/python:3.11"):
        pytest.fail("berth/python:3.11 is missing: run `python manage.py runtime ensure 3.11`")
    app = f"ssh-web-{secrets.token_hex(3)}"
    container = start_app_container(app)
    live = None
    try:
        live = start_portal(tmp_path_factory.mktemp("ssh-browser"), app, f"{app}-stopped")
        yield live
    finally:
        if live:
            stop_portal(live)
        engine.remove_container(container)


@pytest.fixture
def ssh_page(browser: Browser, portal) -> Iterator[Page]:
    context = browser.new_context(base_url=portal.url, viewport={"width": 1366, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Through the real login form, as a user would.
    page.goto("/login/")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    yield page
    context.close()


def test_it_types_into_the_terminal_and_sees_the_answer(portal, ssh_page: Page):
    page = ssh_page
    page.goto(f"/apps/{portal.app}/")
    page.get_by_role("link", name="SSH", exact=True).click()
    expect(page.locator("#ssh-state")).to_have_attribute("data-state", "connected")
    screen = page.locator("#terminal .xterm-rows")
    expect(screen).to_contain_text("SSH CONNECTION ESTABLISHED")
    expect(screen).to_contain_text("/home/site/wwwroot#")
    expect(page.get_by_role("button", name="Reconnect")).to_be_hidden()
    page.locator("#terminal").click()
    page.keyboard.type("echo browser-$((2+3))")
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("browser-5")
    # Ctrl-C reaches the shell.
    page.keyboard.type("sleep 100")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    page.keyboard.press("Control+c")
    page.keyboard.type("echo after-$((3*3))")
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("after-9")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ssh.png"))
    page.keyboard.type("exit")
    page.keyboard.press("Enter")
    expect(page.locator("#ssh-state")).to_have_attribute("data-state", "closed")
    expect(page.locator("#ssh-state")).to_contain_text("Connection closed: The shell ended.")
    expect(page.get_by_role("button", name="Reconnect")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "ssh-closed.png"))
    # And again.
    page.get_by_role("button", name="Reconnect").click()
    expect(page.locator("#ssh-state")).to_have_attribute("data-state", "connected")
    expect(screen).to_contain_text("SSH CONNECTION ESTABLISHED")


def test_it_fills_the_window_and_follows_its_size(portal, ssh_page: Page):
    page = ssh_page
    page.goto(f"/apps/{portal.app}/ssh/")
    expect(page.locator("#ssh-state")).to_have_attribute("data-state", "connected")
    screen = page.locator("#terminal .xterm-rows")
    expect(screen).to_contain_text("#")
    page.locator("#terminal").click()
    page.keyboard.type("echo size=$(stty size)")
    page.keyboard.press("Enter")
    expect(screen).to_contain_text(re.compile(r"size=\d+ \d+"))
    first = re.search(r"size=(\d+) (\d+)", screen.inner_text()).groups()
    assert int(first[0]) > 20 and int(first[1]) > 100, first
    page.set_viewport_size({"width": 900, "height": 600})
    page.wait_for_timeout(500)
    page.keyboard.type("clear; echo size=$(stty size)")
    page.keyboard.press("Enter")
    expect(screen).not_to_contain_text(f"size={first[0]} {first[1]}")
    second = re.search(r"size=(\d+) (\d+)", screen.inner_text()).groups()
    assert int(second[1]) < int(first[1]) and int(second[0]) < int(first[0]), (first, second)


def test_it_says_a_stopped_app_has_no_terminal(portal, ssh_page: Page):
    page = ssh_page
    page.goto(f"/apps/{portal.app}-stopped/ssh/")
    expect(page.get_by_role("alert")).to_contain_text("has not been deployed yet")
    expect(page.locator("#terminal")).to_have_count(0)
