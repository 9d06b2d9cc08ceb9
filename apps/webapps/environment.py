"""The environment an app's container gets, as App Service builds it."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from apps.webapps.models import ConnectionString, WebApp

MASK = "***"

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
    """Values to mask as *** in any log Berth stores or streams: each secret
    and its common encodings (URL, JSON-escaped, base64), longest first so a
    value containing another is masked whole."""
    values = [s.value for s in app.app_settings.all()] + [
        cs.value for cs in app.connection_strings.all()
    ]
    values.append(app.publishing_password)
    return masking_forms(values)


def environment_secrets(env: dict[str, str]) -> list[str]:
    """secret_values() as a container was started with them, read back from
    its environment (every app setting is also APPSETTING_<NAME>, connection
    strings carry their type's prefix): a container retired by a settings
    change printed the old values, which the app no longer has."""
    prefixes = ("APPSETTING_", *ConnectionString.PREFIXES.values())
    return masking_forms(v for name, v in env.items() if name.startswith(prefixes))


def masking_forms(values: Iterable[str]) -> list[str]:
    """The forms of `values` worth masking, longest first."""
    found: set[str] = set()
    for value in values:
        if _worth_masking(value):
            found.update(v for v in encodings(value) if len(v) >= 4)
    return sorted(found, key=len, reverse=True)


def encodings(value: str) -> set[str]:
    """The value as it may appear in a log: plain, URL-encoded (a connection
    string in a URL, a form post), JSON- or repr-escaped, base64 (basic auth)."""
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
    forms.add(json.dumps(value)[1:-1])
    forms.add(repr(value)[1:-1])
    with contextlib.suppress(UnicodeError):
        forms.add(base64.b64encode(value.encode()).decode().rstrip("="))
    return {f for f in forms if f}


def _worth_masking(value: str) -> bool:
    plain = value.strip().lower()
    if len(plain) < 4 or plain in ("true", "false", "none", "null"):
        return False
    return not plain.replace(".", "", 1).isdigit()


def mask(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by ***. Mask whole lines (or whole
    texts), never raw chunks of a stream: a secret split across two chunks
    would slip through."""
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text
