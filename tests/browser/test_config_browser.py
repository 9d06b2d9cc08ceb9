"""The main paths through the portal in a real browser: log in, create an
app, set application settings with awkward values, general settings, the
Activity log, and the same Save without JavaScript."""

from __future__ import annotations

import json
import re
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from apps.audit.models import AuditEvent
from apps.engine.runtimes import Runtime, Status
from apps.webapps import services
from apps.webapps.models import AppSetting, WebApp

pytestmark = [pytest.mark.browser]

QUOTED = "He said \"hi\" & 'bye' <b>"
DOLLAR = "$HOME=/home a=b  spaces ünïcödé 漢字"
MULTILINE = "first line\nsecond $line=2\n  indented é\n"


@pytest.fixture
def app(user) -> WebApp:
    return WebApp.objects.create(name="hello-flask", owner=user, resource_group="demo")


@pytest.fixture(autouse=True)
def catalog():
    runtimes = [
        Runtime("3.11", Status.READY),
        Runtime("3.12", Status.BUILDABLE, "pull python:3.12-slim"),
        Runtime("3.13", Status.BUILDABLE, "bootstrap from Debian trixie"),
    ]
    with mock.patch("apps.engine.runtimes.catalog", return_value=runtimes):
        yield


def add_setting(page: Page, name: str, value: str) -> None:
    page.get_by_role("button", name="+ New application setting").click()
    row = page.locator("#app-settings tr.cfg-row.editing").last
    row.get_by_label("Name", exact=True).fill(name)
    row.get_by_label("Value", exact=True).fill(value)
    row.get_by_role("button", name="OK").click()
    expect(page.locator("#app-settings tr.cfg-row", has_text=name)).not_to_have_class("editing")


def save_and_confirm(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#save-button").click()


def test_it_logs_in_and_lists_the_apps(app, logged_in_page: Page, screenshot):
    page = logged_in_page
    expect(page.get_by_role("link", name="hello-flask")).to_be_visible()
    expect(page.locator(".badge-running").first).to_have_text("Running")
    screenshot(page, "app-list")
    page.get_by_label("Filter by name").fill("nothing-like-this")
    expect(page.get_by_text("No app matches")).to_be_visible()
    page.get_by_label("Filter by name").fill("")
    page.get_by_label("State").select_option("Running")
    expect(page.get_by_role("link", name="hello-flask")).to_be_visible()


def test_it_creates_an_app(logged_in_page: Page, screenshot):
    page = logged_in_page
    page.get_by_role("link", name="+ Create").click()
    page.get_by_label("Name", exact=True).fill("my-new-app")
    page.get_by_label("Resource group").fill("team-a")
    page.get_by_label("Runtime stack").select_option("PYTHON|3.13")
    screenshot(page, "create-form")
    page.get_by_role("button", name="Review + create").click()
    page.wait_for_url("**/apps/my-new-app/")
    expect(page.get_by_role("heading", name="my-new-app")).to_be_visible()
    assert WebApp.objects.get(name="my-new-app").linux_fx_version == "PYTHON|3.13"
    page.get_by_role("link", name="Activity log").click()
    expect(page.get_by_text("Created my-new-app (PYTHON|3.13) in team-a")).to_be_visible()


def test_settings_with_awkward_values_come_back_exactly(
    logged_in_page: Page, app, screenshot, no_restart
):
    page = logged_in_page
    page.goto("/apps/hello-flask/")
    page.get_by_role("link", name="Configuration", exact=True).click()
    expect(page.get_by_role("heading", name="Application settings")).to_be_visible()
    add_setting(page, "QUOTED", QUOTED)
    add_setting(page, "DOLLAR_EQUALS", DOLLAR)
    expect(page.get_by_text("You have unsaved changes")).to_be_visible()
    screenshot(page, "pending")
    assert not AppSetting.objects.exists()
    save_and_confirm(page)
    expect(page.locator(".messages")).to_contain_text("Restarting hello-flask")
    screenshot(page, "saved")
    assert no_restart.call_count == 1

    # A newline is entered through Advanced edit, as in the Azure portal.
    page.get_by_role("link", name="Advanced edit").first.click()
    text = page.get_by_label("Application settings as JSON")
    items = json.loads(text.input_value())
    items.append({"name": "MULTILINE", "value": MULTILINE, "slotSetting": False})
    text.fill(json.dumps(items, indent=2, ensure_ascii=False))
    save_and_confirm(page)
    expect(page.locator(".messages")).to_contain_text("Restarting hello-flask")

    page.reload()
    values = page.locator("code.value-shown")
    expect(values).to_have_count(0)
    assert "ünïcödé" not in page.content()
    page.get_by_role("button", name="Show values").click()
    expect(values).to_have_count(3)
    screenshot(page, "values-shown")
    shown = {
        row.get_attribute("data-name"): row.locator("code.value-shown").inner_text()
        for row in page.locator("#app-settings tr.cfg-row").all()
    }
    assert shown == {"DOLLAR_EQUALS": DOLLAR, "MULTILINE": MULTILINE, "QUOTED": QUOTED}
    stored = {s.name: s.value for s in AppSetting.objects.all()}
    assert stored == shown
    # One value at a time, too.
    page.get_by_role("button", name="Hide values").click()
    row = page.locator("#app-settings tr.cfg-row", has_text="QUOTED")
    row.get_by_role("button", name="Show value").click()
    expect(row.locator("code.value-shown")).to_have_text(QUOTED)


def test_an_invalid_name_shows_the_error_at_the_row_and_saves_nothing(
    logged_in_page: Page, app, screenshot
):
    page = logged_in_page
    page.goto("/apps/hello-flask/configuration/")
    add_setting(page, "GOOD", "kept pending")
    page.get_by_role("button", name="+ New application setting").click()
    row = page.locator("#app-settings tr.cfg-row.editing").last
    row.get_by_label("Name", exact=True).fill("BAD NAME!")
    row.get_by_label("Value", exact=True).fill("x")
    save_and_confirm(page)
    bad = page.locator("#app-settings tr.has-error")
    expect(bad.locator(".error")).to_contain_text("is not a valid setting name: remove ' ' '!'")
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    screenshot(page, "inline-error")
    assert not AppSetting.objects.exists()
    # The pending edits are still there to fix.
    bad.get_by_label("Name", exact=True).fill("GOOD_NAME")
    save_and_confirm(page)
    expect(page.locator(".messages")).to_contain_text("saved")
    assert set(AppSetting.objects.values_list("name", flat=True)) == {"GOOD", "GOOD_NAME"}


def test_advanced_edit_round_trips(app, logged_in_page: Page, screenshot):
    values = {"A_QUOTED": QUOTED, "B_DOLLAR": DOLLAR, "C_MULTI": MULTILINE, "D_EMPTY": ""}
    services.set_app_settings(
        app,
        [services.SettingInput(n, v, n == "B_DOLLAR") for n, v in values.items()],
        restart=False,
    )
    expected = json.dumps(
        [{"name": n, "value": v, "slotSetting": n == "B_DOLLAR"} for n, v in values.items()],
        indent=2,
        ensure_ascii=False,
    )
    page = logged_in_page
    page.goto("/apps/hello-flask/configuration/advanced/appsettings/")
    text = page.get_by_label("Application settings as JSON")
    assert text.input_value() == expected
    screenshot(page, "advanced")
    # Save it unchanged: nothing changes.
    save_and_confirm(page)
    page.wait_for_url(re.compile(r"/configuration/(\?operation=\d+)?$"))
    assert {s.name: s.value for s in AppSetting.objects.all()} == values
    page.goto("/apps/hello-flask/configuration/advanced/appsettings/")
    assert page.get_by_label("Application settings as JSON").input_value() == expected
    # A mistake says where it is and what to fix; nothing is saved.
    page.get_by_label("Application settings as JSON").fill('[{"name": "X", "value": "1",}]')
    save_and_confirm(page)
    expect(page.locator("#advanced-errors")).to_contain_text("Line 1, column 29")
    screenshot(page, "advanced-error")
    assert {s.name: s.value for s in AppSetting.objects.all()} == values


def test_general_settings_save_asks_and_restarts(app, logged_in_page: Page, screenshot, no_restart):
    page = logged_in_page
    page.goto("/apps/hello-flask/configuration/")
    page.get_by_role("link", name="General settings").click()
    version = page.get_by_label("Python version")
    expect(version.locator("option")).to_have_text(
        ["Python 3.11 (ready)", "Python 3.12 (can be built)", "Python 3.13 (can be built)"]
    )
    version.select_option("PYTHON|3.12")
    page.get_by_label("Startup Command").fill("gunicorn --bind=0.0.0.0 --timeout 600 app:app")
    screenshot(page, "general")
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.locator("#save-button").click()
    expect(page.locator(".messages")).to_contain_text("Restarting hello-flask")
    assert dialogs == ["Saving restarts hello-flask to apply the changes. Continue?"]
    screenshot(page, "general-saved")
    app.refresh_from_db()
    assert app.linux_fx_version == "PYTHON|3.12"
    assert no_restart.call_count == 1
    page.get_by_role("link", name="Activity log").click()
    expect(
        page.get_by_text("General settings: changed linuxFxVersion, appCommandLine")
    ).to_be_visible()
    screenshot(page, "activity")


def test_dismissing_the_confirmation_saves_nothing(app, logged_in_page: Page):
    page = logged_in_page
    page.goto("/apps/hello-flask/configuration/")
    add_setting(page, "NOT_SAVED", "x")
    page.once("dialog", lambda d: d.dismiss())
    page.locator("#save-button").click()
    expect(page.get_by_text("You have unsaved changes")).to_be_visible()
    assert not AppSetting.objects.exists()


def test_the_settings_page_works_without_javascript(app, no_js_page: Page, screenshot):
    page = no_js_page
    page.goto("/apps/hello-flask/configuration/")
    page.get_by_role("button", name="+ New application setting").click()
    row = page.locator("#app-settings tr.cfg-row.editing").last
    row.get_by_label("Name", exact=True).fill("NO_JS")
    row.get_by_label("Value", exact=True).fill(DOLLAR)
    page.locator("#save-button").click()
    expect(page.get_by_text("Save changes?")).to_be_visible()
    screenshot(page, "confirm")
    assert not AppSetting.objects.exists()
    page.get_by_role("button", name="Save and restart").click()
    expect(page.locator(".messages")).to_contain_text("Restarting hello-flask")
    assert AppSetting.objects.get(name="NO_JS").value == DOLLAR
    assert AuditEvent.objects.filter(action="appsettings.update").count() == 1
