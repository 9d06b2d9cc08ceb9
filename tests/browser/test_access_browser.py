"""What a person sees, in chromium: a Reader opening an app's SSH page or a
page that needs more than Reader is told which role would do; a sign-in
locked after too many failures says when to try again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from apps.access.models import Role, RoleAssignment
from apps.webapps.models import WebApp
from tests.browser.conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser]


@pytest.fixture
def reader(user: User) -> User:
    app = WebApp.objects.create(name="hello-flask", owner=user, state=WebApp.State.STOPPED)
    rita = User.objects.create_user("rita", "rita@example.org", "rita-password-1")
    RoleAssignment.objects.create(role=Role.READER, user=rita, app=app)
    return rita


def test_a_reader_is_told_why_there_is_no_ssh(page: Page, reader, screenshot):
    log_in(page, "rita", "rita-password-1")
    response = page.goto("/apps/hello-flask/ssh/")
    assert response is not None and response.status == 403
    banner = page.locator("#ssh-forbidden")
    expect(banner).to_contain_text("Your role on hello-flask is Reader.")
    expect(banner).to_contain_text("requires the Contributor or Owner role on hello-flask")
    expect(page.locator("#terminal")).to_have_count(0)
    # Still the app's page: its menu leads elsewhere.
    expect(page.get_by_role("navigation", name="hello-flask menu")).to_be_visible()
    screenshot(page, "ssh-reader")


def test_a_reader_is_told_why_secret_values_are_refused(page: Page, reader, screenshot):
    log_in(page, "rita", "rita-password-1")
    response = page.goto("/apps/hello-flask/configuration/advanced/appsettings/")
    assert response is not None and response.status == 403
    expect(page.locator("#forbidden-reason")).to_contain_text(
        "Your role on hello-flask is Reader. Seeing secret values"
    )
    screenshot(page, "forbidden")
    page.get_by_role("link", name="Back to hello-flask").click()
    page.wait_for_url(re.compile(r"/apps/hello-flask/$"))
    expect(page.locator("h1")).to_contain_text("hello-flask")
    screenshot(page, "back")


def test_a_user_without_access_sees_no_such_app(page: Page, user, reader):
    User.objects.create_user("nick", "nick@example.org", "nick-password-1")
    log_in(page, "nick", "nick-password-1")
    response = page.goto("/apps/hello-flask/ssh/")
    assert response is not None and response.status == 404
    expect(page.locator("body")).not_to_contain_text("Reader")


def test_the_login_form_says_when_to_try_again(page: Page, user, settings, screenshot):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    page.goto("/login/")
    for _ in range(3):
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
    lockout = page.locator("#lockout")
    expect(lockout).to_contain_text("Too many failed sign-ins for 'alice' from this address")
    expect(lockout).to_contain_text("try again in 15 minutes")
    screenshot(page, "locked")
    # The right password is refused too until the cool-off ends.
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#lockout")).to_be_visible()
    assert "/login/" in page.url
