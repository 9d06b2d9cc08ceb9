"""Real-browser tests: Debian's chromium driven by Playwright's sync API
against pytest-django's live server. Screenshots go to
test-artifacts/screenshots/ (CI keeps that folder)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import User

# Playwright's sync API runs an event loop in this thread; Django refuses ORM
# calls from a thread with a running loop unless told it is fine. It is: the
# loop only drives the browser.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

CHROMIUM = os.environ.get("BERTH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "alice-password-1"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory) -> None:
    """The live server, the deployment threads and the test share one SQLite
    database at once, as the real portal and worker do: so use a file in WAL
    mode with a busy timeout (portal/settings.py), as they do, instead of
    the shared in-memory database, whose table locks fail a concurrent
    writer at once ("database table is locked") and left a deployment
    thread dead mid-build."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("browser-db") / "test.sqlite3"
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def no_restart() -> Iterator[mock.MagicMock]:
    # The live server runs in this process, so the patch reaches it: saving
    # must not try to reach Docker here.
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


@pytest.fixture
def user(transactional_db) -> User:
    return User.objects.create_user("alice", "alice@example.org", PASSWORD)


def _new_page(browser: Browser, live_server, **options) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 860}, **options
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    yield from _new_page(browser, live_server)


def log_in(page: Page, username: str = "alice", password: str = PASSWORD) -> None:
    """Through the real login form, as a user would."""
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


@pytest.fixture
def logged_in_page(page: Page, user: User) -> Page:
    log_in(page)
    return page


@pytest.fixture
def no_js_page(browser: Browser, live_server, user: User) -> Iterator[Page]:
    for page in _new_page(browser, live_server, java_script_enabled=False):
        log_in(page)
        yield page


@pytest.fixture
def screenshot(request) -> Callable[[Page, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
