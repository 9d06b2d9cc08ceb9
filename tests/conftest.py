from __future__ import annotations

import secrets

import pytest
from django.contrib.auth.models import User

from apps.webapps.models import WebApp


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", "alice@example.org", "alice-password-1")


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob", "bob@example.org", "bob-password-1")


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("root", "root@example.org", "root-password-1")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def webapp(alice) -> WebApp:
    return WebApp.objects.create(name="hello-flask", owner=alice)


@pytest.fixture
def deploy_settings(settings, tmp_path):
    """What the real-engine deploy tests run with: data in the test's folder,
    no proxy routing, and waits short enough to fail fast."""
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 40
    settings.BERTH_BUILD_TIMEOUT = 300
    return settings


@pytest.fixture
def make_app(alice):
    """make("prefix", **fields) makes an app named prefix-<random>; its
    containers and images are removed at the end."""
    from tests.deploy_helpers import cleanup_app

    made: list[str] = []

    def make(prefix: str, **fields) -> WebApp:
        app = WebApp.objects.create(name=f"{prefix}-{secrets.token_hex(3)}", owner=alice, **fields)
        made.append(app.name)
        return app

    yield make
    for name in made:
        cleanup_app(name)


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Tests don't run collectstatic; serve static files from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    # PBKDF2 costs ~0.3 s a user; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
