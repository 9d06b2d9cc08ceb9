"""The environment an app's container gets, as App Service builds it."""

from __future__ import annotations

from apps.webapps.masking import mask as mask
from apps.webapps.masking import masking_forms
from apps.webapps.models import ConnectionString, WebApp

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
