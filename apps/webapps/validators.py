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
