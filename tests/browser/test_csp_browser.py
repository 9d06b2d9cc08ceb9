"""The Content-Security-Policy (issue 12, finding 9) in a real browser: the
pages, htmx and the SSH page's xterm.js work under it, and the browser
reports no blocked script or style."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from apps.console.services import Target
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.browser]


@pytest.fixture
def app(user: User) -> WebApp:
    return WebApp.objects.create(name="csp-app", owner=user)


@pytest.fixture
def violations(logged_in_page: Page) -> Iterator[list[str]]:
    """What the browser refused because of the policy, from its console."""
    seen: list[str] = []
    logged_in_page.on(
        "console",
        lambda message: seen.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )
    yield seen


def test_the_pages_and_htmx_run_under_the_policy(logged_in_page: Page, app, violations):
    page = logged_in_page
    for url in (
        "/",
        f"/apps/{app.name}/",
        f"/apps/{app.name}/configuration/",
        f"/apps/{app.name}/deployment-center/",
        f"/apps/{app.name}/logstream/",
        "/runtimes/",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
        assert page.evaluate("typeof htmx") == "object", url
    assert violations == []


def test_the_terminal_draws_under_the_policy(logged_in_page: Page, app, violations):
    page = logged_in_page
    # A container to connect to, as far as the page knows; the socket then
    # fails, which the page says: what matters here is that xterm.js draws.
    with mock.patch("apps.console.views.services.find_target", return_value=Target("csp-app-1")):
        page.goto(f"/apps/{app.name}/ssh/")
    expect(page.locator("#terminal .xterm-screen")).to_be_visible()
    expect(page.locator("#terminal .xterm-rows")).to_be_attached()
    assert violations == []
