"""The environment an app's container gets, as App Service builds it."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.webapps.masking import mask as mask
from apps.webapps.masking import masking_forms
from apps.webapps.models import ConnectionString, WebApp
from apps.webapps.validators import STORAGE_LIMIT_SETTING, validate_platform_setting

APP_PATH = "/home/site/wwwroot"
DEFAULT_PORT = 8000


def _platform_number(app: WebApp, name: str, default: int) -> int:
    """An app setting the platform reads, as a number (validators check it
    at save; a value saved before that rule counts as unset)."""
    row = app.app_settings.filter(name=name).first()
    if row is None:
        return default
    try:
        validate_platform_setting(name, row.value)
    except ValidationError:
        return default
    return int(row.value.strip())


def container_port(app: WebApp) -> int:
    """The port the app listens on in its container: WEBSITES_PORT, else
    8000, as App Service's Python image. $PORT says it to the app."""
    return _platform_number(app, "WEBSITES_PORT", DEFAULT_PORT)


def start_time_limit(app: WebApp) -> int:
    """How long a new container may take to answer: the app's
    WEBSITES_CONTAINER_START_TIME_LIMIT (at most 1800 s), else
    BERTH_START_TIME_LIMIT (230 s, as App Service)."""
    return _platform_number(
        app, "WEBSITES_CONTAINER_START_TIME_LIMIT", int(settings.BERTH_START_TIME_LIMIT)
    )


def storage_limit_mb(app: WebApp) -> int:
    """The most MB the app's /home may hold: the app setting
    WEBSITE_STORAGE_LIMIT_MB, else BERTH_STORAGE_LIMIT_MB (1024, 1 GiB)."""
    return _platform_number(app, STORAGE_LIMIT_SETTING, int(settings.BERTH_STORAGE_LIMIT_MB))


def env_name(name: str) -> str:
    # On Linux, ':' is not allowed in variable names; App Service uses '__'.
    return name.replace(":", "__")


def build_environment(app: WebApp, *, instance_id: str = "") -> dict[str, str]:
    port = container_port(app)
    env: dict[str, str] = {
        "WEBSITE_SITE_NAME": app.name,
        "WEBSITE_HOSTNAME": app.default_host_name,
        "WEBSITE_RESOURCE_GROUP": app.resource_group,
        "WEBSITE_INSTANCE_ID": instance_id,
        "HOME": "/home",
        "PORT": str(port),
        "APP_PATH": APP_PATH,
        "PYTHONUNBUFFERED": "1",
    }
    for s in app.app_settings.all():
        env[env_name(s.name)] = s.value
        env[f"APPSETTING_{env_name(s.name)}"] = s.value
    for cs in app.connection_strings.all():
        env[env_name(cs.env_name)] = cs.value
    # Settings may not override what Berth itself decides about the container.
    env["PORT"] = str(port)
    env["WEBSITE_SITE_NAME"] = app.name
    return env


def secret_values(app: WebApp) -> list[str]:
    """Values to mask as *** in any log Berth stores or streams, in each of
    their forms (apps.webapps.masking says which values and forms)."""
    named = [(s.name, s.value) for s in app.app_settings.all()]
    named += [(cs.env_name, cs.value) for cs in app.connection_strings.all()]
    named.append(("PUBLISHING_PASSWORD", app.publishing_password))
    return masking_forms(named)


def environment_secrets(env: dict[str, str]) -> list[str]:
    """secret_values() as a container was started with them, read back from
    its environment (every app setting is also APPSETTING_<NAME>, connection
    strings carry their type's prefix): a container retired by a settings
    change printed the old values, which the app no longer has."""
    prefixes = ("APPSETTING_", *ConnectionString.PREFIXES.values())
    return masking_forms((name, v) for name, v in env.items() if name.startswith(prefixes))
