"""The first connection to a service, in a real browser: the Service
Connector page answers at once, shows a badge and a progress bar that
move while the worker builds the service's image, then the connection;
a failed build says why. The services are replaced (the real ones:
tests/test_databases_e2e.py); the worker runs in a thread of this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from apps.access.models import Role, RoleAssignment
from apps.databases import connections, postgres, tasks
from apps.engine.errors import EngineError
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.browser]


@pytest.fixture
def shop(user, settings, tmp_path) -> WebApp:
    settings.DATA_DIR = tmp_path
    app = WebApp.objects.create(name="shop", owner=user, state=WebApp.State.STOPPED)
    RoleAssignment.objects.get_or_create(app=app, user=user, role=Role.OWNER)
    return app


@pytest.fixture
def build() -> Iterator[dict]:
    """A service image 'build' that reports 40% and waits to be let go."""
    gate = {"release": threading.Event(), "at_40": threading.Event(), "error": None}

    def ensure_running(progress=None):
        progress(40, "Unpacking postgresql-15")
        gate["at_40"].set()
        assert gate["release"].wait(30)
        if gate["error"]:
            raise EngineError(gate["error"])

    def run_in_thread(**kwargs) -> None:
        def target() -> None:
            try:
                tasks.connect(**kwargs)
            finally:
                connection.close()

        threading.Thread(target=target, daemon=True).start()

    with (
        mock.patch.object(connections, "needs_build", autospec=True, return_value=True),
        mock.patch.object(postgres, "ensure_running", side_effect=ensure_running),
        mock.patch.object(postgres, "create_database", autospec=True, return_value=True),
        mock.patch.object(tasks.connect, "delay", side_effect=run_in_thread),
    ):
        yield gate


def test_the_first_connection_shows_its_progress_then_the_connection(
    logged_in_page: Page, shop, build, screenshot
):
    page = logged_in_page
    page.goto("/apps/shop/connector/")
    page.get_by_role("button", name="Create").click()
    pending = page.locator("#pending-postgres-flexible")
    expect(pending).to_contain_text("Unpacking postgresql-15", timeout=15_000)
    expect(pending.locator(".badge")).to_have_text("running")
    expect(pending.locator("progress")).to_have_attribute("value", "34")  # 40% of the build's 85
    screenshot(page, "building")
    build["release"].set()
    expect(page.locator("#connection-postgres_flexible")).to_be_visible(timeout=15_000)
    expect(page.locator("#pending-postgres-flexible")).to_have_count(0)
    expect(page.locator("#connection-postgres_flexible")).to_contain_text("AZURE_POSTGRESQL")


def test_a_failed_build_says_why(logged_in_page: Page, shop, build, screenshot):
    page = logged_in_page
    build["error"] = "Cannot build PostgreSQL here: no Debian archive in the host's apt sources"
    page.goto("/apps/shop/connector/")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#pending-postgres-flexible")).to_contain_text("Unpacking", timeout=15_000)
    build["release"].set()
    failed = page.locator("#pending-postgres-flexible")
    expect(failed.locator(".badge")).to_have_text("failed", timeout=15_000)
    expect(failed).to_contain_text("no Debian archive in the host's apt sources")
    screenshot(page, "failed")
