from __future__ import annotations

import difflib
import json
import re
import secrets as _secrets
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core import jsontext
from apps.engine.runtimes import PYTHON_VERSIONS
from apps.webapps.models import ConnectionString, WebApp
from apps.webapps.validators import (
    STORAGE_LIMIT_SETTING,
    validate_linux_fx_version,
    validate_platform_setting,
    validate_setting_name,
    validate_setting_value,
)


def python_version_choices() -> list[tuple[str, str]]:
    return [(f"PYTHON|{v}", f"Python {v}") for v in PYTHON_VERSIONS]


class CreateWebAppForm(forms.ModelForm):
    linux_fx_version = forms.ChoiceField(label="Runtime stack", choices=python_version_choices)
    # "Web App + Database": connections made with the app (apps.databases).
    database = forms.BooleanField(
        label="Also create a PostgreSQL database",
        required=False,
        help_text="A database and a role of the app's own on Berth's PostgreSQL, "
        "connected the Service Connector way.",
    )
    cache = forms.BooleanField(
        label="Also create a Redis cache",
        required=False,
        help_text="A Redis of the app's own (TLS on 6380).",
    )
    client_type = forms.ChoiceField(
        label="Client type for the connections",
        choices=[("django", "Django"), ("python", "Python")],
        initial="django",
        required=False,
        help_text="Django: AZURE_POSTGRESQL_HOST/NAME/USER/PASSWORD; Python: "
        "AZURE_POSTGRESQL_CONNECTIONSTRING. Redis: AZURE_REDIS_CONNECTIONSTRING.",
    )

    class Meta:
        model = WebApp
        fields = ("name", "resource_group", "linux_fx_version")
        help_texts = {
            "name": "Becomes <name>.<apps domain>. Letters, digits and hyphens.",
            "resource_group": "An existing group needs Contributor or Owner on it; a new name "
            "creates the group, with you as its Owner; anyone may use default.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["linux_fx_version"].initial = "PYTHON|3.11"


# --- Configuration pages (General settings, Application settings) -----------


class GeneralSettingsForm(forms.Form):
    linux_fx_version = forms.ChoiceField(label="Python version")
    app_command_line = forms.CharField(
        label="Startup Command",
        required=False,
        help_text="Empty: Berth detects Django or Flask at start-up, as App Service does. "
        "Example: gunicorn --bind=0.0.0.0 --timeout 600 app:app. The app must listen on "
        "0.0.0.0 and $PORT (8000, or the app setting WEBSITES_PORT) and answer within 230 s "
        "(the app setting WEBSITES_CONTAINER_START_TIME_LIMIT, up to 1800).",
        widget=forms.TextInput(attrs={"class": "mono", "spellcheck": "false"}),
    )
    health_check_path = forms.CharField(
        label="Health check path",
        required=False,
        max_length=255,
        help_text="A path such as /healthz that answers 200 when the app is healthy. Empty: off.",
    )

    https_only = forms.BooleanField(
        label="HTTPS Only",
        required=False,
        help_text="On: plain HTTP requests get a 301 redirect to the app's HTTPS address. "
        "Applied by the front proxy at once, without a restart.",
    )

    storage_limit_mb = forms.CharField(
        label="Storage limit (MB)",
        max_length=16,
        required=False,
        help_text="The most /home may hold, in MB (1024 is 1 GiB; empty: Berth's default): "
        "past it, Berth stops the app and says why. The app setting "
        f"{STORAGE_LIMIT_SETTING}; saved without a restart.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "narrow"}),
    )

    def __init__(self, *args, runtimes=(), current: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [(rt.config, f"Python {rt.version} ({rt.status})") for rt in runtimes]
        if current and current not in {value for value, _ in choices}:
            choices.insert(0, (current, f"{current} (current)"))
        self.fields["linux_fx_version"].choices = choices

    def clean_linux_fx_version(self) -> str:
        value = self.cleaned_data["linux_fx_version"]
        validate_linux_fx_version(value)
        return value

    def clean_app_command_line(self) -> str:
        return self.cleaned_data["app_command_line"].strip()

    def clean_storage_limit_mb(self) -> int:
        value = self.cleaned_data["storage_limit_mb"].strip()
        if not value:
            return int(settings.BERTH_STORAGE_LIMIT_MB)
        validate_platform_setting(STORAGE_LIMIT_SETTING, value)
        return int(value)

    def clean_health_check_path(self) -> str:
        value = self.cleaned_data["health_check_path"].strip()
        if value and not value.startswith("/"):
            raise ValidationError(f"Start the path with '/': try '/{value}'.")
        if any(c.isspace() for c in value):
            raise ValidationError("A path may not contain spaces: encode them as %20.")
        return value


# The rows of the Application settings and Connection strings tables. The
# page keeps every pending edit in the form itself (one hidden/visible input
# set per row), so nothing is saved until Save; a row's value is in the page
# only once the user asked to see or edit it, or typed it.

ROW_KEY_RE = re.compile(r"^[a-z0-9]{1,16}$")


@dataclass
class Row:
    key: str
    original: str = ""  # the stored name; "" for a row added in this edit
    name: str = ""
    value: str | None = None  # None: not in the page; the stored value stays
    slot_setting: bool = False
    type: str = ""  # connection strings only
    deleted: bool = False
    editing: bool = False
    shown: bool = False
    error: str = ""
    status: str = ""  # "new", "changed", "deleted" or "" (set by mark_changes)
    hint: str = ""  # what a build setting does

    @property
    def is_new(self) -> bool:
        return not self.original

    @property
    def value_json(self) -> str:
        return json.dumps(self.value, ensure_ascii=False)


def new_row_key() -> str:
    return _secrets.token_hex(4)


def rows_from_stored(stored: dict, *, connection: bool = False) -> list[Row]:
    """The rows as saved: names only, values left out of the page."""
    return [
        Row(
            key=f"r{i}",
            original=name,
            name=name,
            slot_setting=obj.slot_setting,
            type=obj.type if connection else "",
        )
        for i, (name, obj) in enumerate(sorted(stored.items()))
    ]


def rows_from_post(data, prefix: str, *, connection: bool = False) -> list[Row]:
    rows = []
    seen = set()
    for key in data.getlist(prefix):
        if not ROW_KEY_RE.match(key) or key in seen:
            continue
        seen.add(key)

        def field(name: str, key=key) -> str:
            return data.get(f"{prefix}-{key}-{name}", "")

        rows.append(
            Row(
                key=key,
                original=field("original"),
                name=field("name").strip(),
                value=_posted_value(field("has_value"), field("value")),
                slot_setting=field("slot") == "on",
                type=(field("type") or ConnectionString.Type.CUSTOM) if connection else "",
                deleted=field("deleted") == "1",
                editing=field("editing") == "1",
                shown=field("shown") == "1",
            )
        )
    return rows


def _posted_value(how: str, raw: str) -> str | None:
    """A row's value as the browser sent it. Browsers send every line break in
    a form as CRLF, so a value carried in a hidden input travels JSON-encoded
    ("json": exact), and one typed in a textarea ("text") gets its CRLFs back
    to LF, which is what the user typed. Advanced edit keeps CRs exactly."""
    if how == "json":
        try:
            value = jsontext.loads(raw)
        except jsontext.BadJson:
            return None
        return value if isinstance(value, str) else None
    if how == "text":
        return raw.replace("\r\n", "\n")
    return None


def mark_changes(rows: list[Row], stored: dict, hints: dict[str, str] | None = None) -> None:
    """Set each row's status against what is saved, and drop from the page
    values that were only shown (unchanged), so hiding them hides them."""
    for row in rows:
        obj = stored.get(row.original) if row.original else None
        shown_only = obj is not None and row.value == obj.value
        if shown_only and not row.shown and not row.editing:
            row.value = None
        if row.deleted:
            row.status = "deleted" if obj is not None else "new"
        elif obj is None:
            row.status = "new"
        elif (
            row.name != row.original
            or row.slot_setting != obj.slot_setting
            or (row.type and row.type != obj.type)
            or (row.value is not None and row.value != obj.value)
        ):
            row.status = "changed"
        else:
            row.status = ""
        row.hint = (hints or {}).get(row.name, "")


def validate_rows(rows: list[Row], stored: dict, what: str) -> bool:
    """Put a message on each row that cannot be saved; True when all can."""
    ok = True
    seen: set[str] = set()
    valid_types = {t.value for t in ConnectionString.Type}
    for row in rows:
        row.error = ""
        if row.deleted:
            continue
        try:
            validate_setting_name(row.name)
        except ValidationError as e:
            row.error = " ".join(e.messages)
        else:
            if row.name in seen:
                row.error = f"{what} {row.name!r} is given twice: rename or delete one of them."
            elif row.value is None and row.original not in stored:
                row.error = f"{row.original!r} was deleted meanwhile: enter its value again."
            elif row.type and row.type not in valid_types:
                row.error = f"Choose a type: {', '.join(sorted(valid_types))}."
            elif row.value is not None:
                try:
                    validate_setting_value(row.value)
                except ValidationError as e:
                    row.error = " ".join(e.messages)
        seen.add(row.name)
        if row.error:
            ok = False
            row.editing = True
    return ok


def row_value(row: Row, stored: dict) -> str:
    return row.value if row.value is not None else stored[row.original].value


# Advanced edit: the Azure portal's JSON, exactly.

SETTING_KEYS = ("name", "value", "slotSetting")
CONNECTION_KEYS = ("name", "value", "type", "slotSetting")


def settings_json(stored: dict) -> str:
    items = [
        {"name": name, "value": s.value, "slotSetting": s.slot_setting}
        for name, s in sorted(stored.items())
    ]
    return json.dumps(items, indent=2, ensure_ascii=False)


def connection_strings_json(stored: dict) -> str:
    items = [
        {"name": name, "value": cs.value, "type": cs.type, "slotSetting": cs.slot_setting}
        for name, cs in sorted(stored.items())
    ]
    return json.dumps(items, indent=2, ensure_ascii=False)


_JSON_HINTS = {
    "Expecting property name enclosed in double quotes": (
        "put names in double quotes, and remove a comma before '}'"
    ),
    "Expecting value": "a value is missing here (or a comma before ']' must go)",
    "Expecting ',' delimiter": "a comma is missing between two items or two keys",
    "Expecting ':' delimiter": "put ':' between a key and its value",
    "Invalid control character at": (
        "a line break inside a value must be written as \\n (or paste the value in the table)"
    ),
    "Unterminated string starting at": "a string is missing its closing double quote",
    "Extra data": "there is text after the closing ']'",
    "Invalid \\escape": "a backslash in a value must be written as \\\\",
}


def parse_advanced_json(text: str, *, connection: bool = False) -> tuple[list[dict], list[str]]:
    """Parse the advanced-edit text: (items, errors). Items are dicts with
    name, value, slot_setting (and type)."""
    keys = CONNECTION_KEYS if connection else SETTING_KEYS
    shape = (
        '[{"name": "...", "value": "...", "type": "Custom", "slotSetting": false}]'
        if connection
        else '[{"name": "...", "value": "...", "slotSetting": false}]'
    )
    try:
        data = jsontext.loads(text)
    except jsontext.BadJson as bad:
        e = bad.__cause__
        if not isinstance(e, json.JSONDecodeError):
            return [], [f"{bad}."]
        hint = next((h for msg, h in _JSON_HINTS.items() if e.msg.startswith(msg)), "")
        return [], [f"Line {e.lineno}, column {e.colno}: {e.msg}" + (f": {hint}." if hint else ".")]
    if not isinstance(data, list):
        return [], [f"The text must be a JSON list like {shape}."]
    errors: list[str] = []
    items: list[dict] = []
    seen: set[str] = set()
    valid_types = {t.value for t in ConnectionString.Type}
    for i, item in enumerate(data, start=1):
        where = f"Item {i}"
        if not isinstance(item, dict):
            errors.append(f"{where} must be an object like {shape[1:-1]}.")
            continue
        name = item.get("name")
        if isinstance(name, str):
            where = f"Item {i} ({name!r})"
        for key in item:
            if key not in keys:
                close = difflib.get_close_matches(key, keys, n=1)
                fix = f"did you mean {close[0]!r}?" if close else f"use only {', '.join(keys)}."
                errors.append(f"{where}: unknown key {key!r}: {fix}")
        if not isinstance(name, str):
            errors.append(f'{where}: "name" is required and must be a string in double quotes.')
            continue
        try:
            validate_setting_name(name)
        except ValidationError as e:
            errors.append(f"{where}: " + " ".join(e.messages))
        if name in seen:
            errors.append(f"{where}: the name is given twice: keep one.")
        seen.add(name)
        value = item.get("value", None)
        if not isinstance(value, str):
            errors.append(
                f'{where}: "value" is required and must be a string in double quotes'
                ' (write numbers and true/false as "1", "true").'
            )
        else:
            try:
                validate_setting_value(value)
            except ValidationError as e:
                errors.append(f"{where}: " + " ".join(e.messages))
        slot = item.get("slotSetting", False)
        if not isinstance(slot, bool):
            errors.append(f'{where}: "slotSetting" must be true or false, without quotes.')
        parsed = {"name": name, "value": value, "slot_setting": slot}
        if connection:
            type_ = item.get("type", ConnectionString.Type.CUSTOM)
            if type_ not in valid_types:
                errors.append(f'{where}: "type" must be one of {", ".join(sorted(valid_types))}.')
            parsed["type"] = type_
        items.append(parsed)
    return (items if not errors else []), errors


class AdvancedEditForm(forms.Form):
    text = forms.CharField(
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "mono"}),
    )

    def __init__(self, *args, connection: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connection = connection
        self.items: list[dict] = []

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if not text.strip():
            # An empty box is more likely a slip than "delete everything".
            raise ValidationError(
                "The box is empty. To delete every entry, write [] and save again."
            )
        items, errors = parse_advanced_json(text, connection=self.connection)
        if errors:
            raise ValidationError(errors)
        self.items = items
        return text
