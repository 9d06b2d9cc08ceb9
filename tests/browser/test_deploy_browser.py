"""The Deployment Center's main path in a real browser, on the real pipeline:
upload a Flask zip, watch the build log live until success, open the app,
deploy a second version, roll back to the first; the Overview shows it."""

from __future__ import annotations

import re
import secrets
import threading
from unittest import mock

import pytest
import requests
from django.db import transaction
from playwright.sync_api import Page, expect

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp
from tests.deploy_helpers import SAMPLES, cleanup_app, zip_sample

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.runtime]

BUILD_TIMEOUT_MS = 300_000


@pytest.fixture(autouse=True)
def _deploy_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False  # the app is opened on its 127.0.0.1 port
    settings.BERTH_START_TIME_LIMIT = 60
    settings.BERTH_BUILD_TIMEOUT = 300


@pytest.fixture(autouse=True)
def worker():
    """Deployments run as the Celery worker would run them, in a thread of
    this process, so the page watches a real build."""
    threads: list[threading.Thread] = []

    def delay_on_commit(*, deployment_id: int) -> None:
        def start() -> None:
            t = threading.Thread(target=services.run_deployment, args=(deployment_id,), daemon=True)
            threads.append(t)
            t.start()

        transaction.on_commit(start)

    with mock.patch("apps.deployments.tasks.deploy.delay_on_commit", side_effect=delay_on_commit):
        yield
    for t in threads:
        t.join(120)


@pytest.fixture
def app(user):
    app = WebApp.objects.create(name=f"dc-{secrets.token_hex(3)}", owner=user)
    yield app
    cleanup_app(app.name)


def upload(page: Page, app: WebApp, path, message: str) -> None:
    page.goto(f"/apps/{app.name}/deployment-center/")
    page.get_by_label("Zip package").set_input_files(str(path))
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Upload and deploy").click()
    page.wait_for_url(re.compile(rf"/apps/{app.name}/deployment-center/\d+/$"))


def wait_success(page: Page) -> None:
    expect(page.locator("#deployment-status")).to_have_text("Success", timeout=BUILD_TIMEOUT_MS)


def site(app: WebApp) -> str:
    d = Deployment.objects.get(app=app, active=True)
    return f"http://127.0.0.1:{d.host_port}/"


def test_upload_watch_open_and_roll_back(app, logged_in_page: Page, screenshot, tmp_path):
    page = logged_in_page
    v1 = tmp_path / "site-v1.zip"
    v1.write_bytes(zip_sample("flask_app"))
    v2 = tmp_path / "site-v2.zip"
    source = (SAMPLES / "flask_app" / "app.py").read_text()
    v2.write_bytes(
        zip_sample("flask_app", {"app.py": source.replace('VERSION = "v1"', 'VERSION = "v2"')})
    )

    page.goto(f"/apps/{app.name}/")
    page.get_by_role("link", name="Deployment Center", exact=True).click()
    expect(page.locator("#git-url")).to_contain_text(f"/git/{app.name}.git")
    expect(page.locator("#publishing-password-hidden")).to_be_visible()
    page.locator("#show-password").click()
    expect(page.locator("#publishing-password")).to_have_text(app.publishing_password)
    screenshot(page, "deployment-center-empty")

    upload(page, app, v1, "First version")
    # The log is live: the build's own lines arrive while it runs.
    expect(page.locator("#build-log")).to_contain_text("[berth-build]", timeout=60_000)
    expect(page.locator("ol.stages")).to_be_visible()
    screenshot(page, "deployment-building")
    wait_success(page)
    expect(page.locator("#build-log")).to_contain_text("Health check")
    expect(page.locator(".progressbar.done")).to_be_visible()
    screenshot(page, "deployment-success")
    session = requests.Session()
    session.trust_env = False
    assert session.get(site(app), timeout=10).json()["version"] == "v1"

    upload(page, app, v2, "Second version")
    wait_success(page)
    page.goto(site(app))
    expect(page.locator("body")).to_contain_text('"v2"')

    page.goto(f"/apps/{app.name}/deployment-center/")
    first = Deployment.objects.get(app=app, message="First version")
    row = page.locator(f"#deployment-{first.pk}")
    expect(page.locator("tr.row-active")).to_contain_text("Second version")
    screenshot(page, "deployment-center-list")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Redeploy").click()
    page.wait_for_url(re.compile(rf"/apps/{app.name}/deployment-center/\d+/$"))
    wait_success(page)
    assert session.get(site(app), timeout=10).json()["version"] == "v1"
    assert Deployment.objects.get(app=app, active=True).source == "rollback"

    page.goto(f"/apps/{app.name}/")
    expect(page.locator("#startup")).to_contain_text("app:app")
    expect(page.locator("#startup")).to_contain_text("Detected flask")
    expect(page.locator("#charts polyline").first).to_be_attached(timeout=15_000)
    screenshot(page, "overview-deployed")
