"""The environment an app's container gets, as App Service builds it."""

from __future__ import annotations

from apps.webapps.models import WebApp

APP_PATH = "/home/site/wwwroot"


def env_name(name: str) -> str:
    # On Linux, ':' is not allowed in variable names; App Service uses '__'.
    return name.replace(":", "__")


def build_environment(app: WebApp, *, instance_id: str = "", port: int = 8000) -> dict[str, str]:
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
    """Values to mask as *** in any log Berth stores or streams."""
    values = [s.value for s in app.app_settings.all()] + [
        cs.value for cs in app.connection_strings.all()
    ]
    values.append(app.publishing_password)
    # Short values, flags and numbers (true, 1, a port) would mask half the log
    # and hide nothing.
    return sorted({v for v in values if _worth_masking(v)}, key=len, reverse=True)


def _worth_masking(value: str) -> bool:
    plain = value.strip().lower()
    if len(plain) < 4 or plain in ("true", "false", "none", "null"):
        return False
    return not plain.replace(".", "", 1).isdigit()


def mask(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text

