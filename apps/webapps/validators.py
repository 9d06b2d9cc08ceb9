"""The rules App Service applies to names, with messages that say what to fix."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

APP_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
# App settings become environment variables. App Service on Linux allows
# letters, digits, '_', '.', ':' and '-'; ':' turns into '__' in the container.
SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
LINUX_FX_RE = re.compile(r"^PYTHON\|3\.(\d{1,2})$")


def validate_app_name(value: str) -> None:
    if not 2 <= len(value) <= 60:
        raise ValidationError(
            "The app name must be 2 to 60 characters long; %(name)r has %(n)d.",
            params={"name": value, "n": len(value)},
            code="length",
        )
    if value != value.lower():
        raise ValidationError(
            "Use lowercase letters only: try %(lower)r.",
            params={"lower": value.lower()},
            code="case",
        )
    if not APP_NAME_RE.match(value):
        raise ValidationError(
            "The app name may hold only letters, digits and hyphens, and may not start "
            "or end with a hyphen (it becomes the host name %(name)s.<domain>).",
            params={"name": value},
            code="invalid",
        )


def validate_setting_name(value: str) -> None:
    if not value:
        raise ValidationError("A setting needs a name.", code="required")
    if len(value) > 1024:
        raise ValidationError("A setting name may be at most 1024 characters.", code="length")
    if not SETTING_NAME_RE.match(value):
        bad = sorted({c for c in value if not re.match(r"[A-Za-z0-9_.:-]", c)})
        if bad:
            raise ValidationError(
                "%(name)r is not a valid setting name: remove %(bad)s. Names may hold letters, "
                "digits, '_', '.', ':' and '-'.",
                params={"name": value, "bad": " ".join(repr(c) for c in bad)},
                code="invalid",
            )
        raise ValidationError(
            "%(name)r is not a valid setting name: it must start with a letter or '_'.",
            params={"name": value},
            code="invalid",
        )


def validate_linux_fx_version(value: str) -> None:
    if not LINUX_FX_RE.match(value):
        raise ValidationError(
            "%(value)r is not a Python stack Berth knows: use the form PYTHON|3.11.",
            params={"value": value},
            code="invalid",
        )


# Every setting and connection string reaches the app as an environment
# variable "NAME=value" (app settings twice: NAME and APPSETTING_NAME). Linux
# refuses to start a process with one such string over 128 KiB
# (MAX_ARG_STRLEN) or with the environment and arguments together over about
# 2 MiB ("argument list too long"), and no variable can carry a NUL. These
# limits leave room under both, so a setting that saves can always start.
MAX_VALUE_KB = 64
MAX_ENVIRONMENT_KB = 1024


def validate_setting_value(value: str) -> None:
    if "\x00" in value:
        raise ValidationError(
            "The value holds a NUL character (\\u0000), which no environment variable can "
            "carry: remove it.",
            code="nul",
        )
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise ValidationError(
            "The value holds %(char)s, a lone surrogate that is not a character: remove it.",
            params={"char": f"\\u{ord(value[e.start]):04x}"},
            code="encoding",
        ) from e
    if size > MAX_VALUE_KB * 1024:
        raise ValidationError(
            "The value is %(kb)d KB; a value may be at most %(limit)d KB (Linux refuses longer "
            "environment variables): put large data in a file of the app and its path here.",
            params={"kb": -(-size // 1024), "limit": MAX_VALUE_KB},
            code="length",
        )


# App settings the platform itself reads, as App Service does: what each
# must be. WEBSITES_CONTAINER_START_TIME_LIMIT is capped at 1800 s there too.
MAX_START_TIME_LIMIT = 1800
# The /home limit (apps.lifecycle.quota): from 1 MB to 1 TiB.
STORAGE_LIMIT_SETTING = "WEBSITE_STORAGE_LIMIT_MB"
MAX_STORAGE_LIMIT_MB = 1024 * 1024
PLATFORM_SETTINGS = {
    "WEBSITES_PORT": (1, 65535, "the port the app listens on, 1-65535"),
    "WEBSITES_CONTAINER_START_TIME_LIMIT": (
        1,
        MAX_START_TIME_LIMIT,
        f"seconds the app may take to answer its first request, 1-{MAX_START_TIME_LIMIT}",
    ),
    STORAGE_LIMIT_SETTING: (
        1,
        MAX_STORAGE_LIMIT_MB,
        f"the most MB the app's /home may hold, a whole number 1-{MAX_STORAGE_LIMIT_MB} "
        "(1024 is 1 GiB)",
    ),
}


def validate_platform_setting(name: str, value: str) -> None:
    """A setting the platform reads must hold what it expects (a port, a
    number of seconds); any other setting passes."""
    rule = PLATFORM_SETTINGS.get(name)
    if rule is None:
        return
    low, high, what = rule
    text = value.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValidationError(f"{name} is {what}; {value!r} is not.")


def environment_problem(env: dict[str, str]) -> str:
    """Why a process could not start with this environment, or '': a bad
    value (named) or a total over the limit. For the start path, which may
    meet values saved before these rules existed."""
    total = 0
    for name, value in env.items():
        try:
            validate_setting_value(value)
        except ValidationError as e:
            return f"The setting {name!r} cannot be passed to the app: {' '.join(e.messages)}"
        total += len(name.encode("utf-8")) + len(value.encode("utf-8")) + 2
    if total > MAX_ENVIRONMENT_KB * 1024:
        return (
            f"The app settings and connection strings come to {-(-total // 1024)} KB in the "
            f"app's environment (app settings count twice: NAME and APPSETTING_NAME); the limit "
            f"is {MAX_ENVIRONMENT_KB} KB: shorten or remove some values."
        )
    return ""
