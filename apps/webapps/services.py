"""What a user can do to an app's configuration. The pages, the API and the
CLI all call these, so validation and the save-then-restart rule live here once.

Every change is saved first (in one transaction: all of it or none) and then
applied by restarting the app, as App Service does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.webapps.models import AppSetting, ConnectionString, WebApp
from apps.webapps.validators import validate_setting_name

# The build settings App Service reads from app settings (shown on the
# Application settings page with a hint).
BUILD_SETTINGS = {
    "SCM_DO_BUILD_DURING_DEPLOYMENT": "Run the Oryx build (pip install, collectstatic) on deploy.",
    "PRE_BUILD_COMMAND": "A command or script run before pip install.",
    "POST_BUILD_COMMAND": "A command or script run after the build.",
    "DISABLE_COLLECTSTATIC": "true skips `manage.py collectstatic`.",
}


@dataclass(frozen=True)
class SettingInput:
    name: str
    value: str
    slot_setting: bool = False


@dataclass(frozen=True)
class ConnectionStringInput:
    name: str
    value: str
    type: str = ConnectionString.Type.CUSTOM
    slot_setting: bool = False


def _check_names(names: Iterable[str], what: str) -> None:
    errors: list[ValidationError] = []
    seen: set[str] = set()
    for name in names:
        try:
            validate_setting_name(name)
        except ValidationError as e:
            errors.extend(e.error_list)
        if name in seen:
            errors.append(ValidationError(f"{what} {name!r} is given twice: keep one."))
        seen.add(name)
    if errors:
        raise ValidationError(errors)


def request_restart(app: WebApp, reason: str) -> None:
    """Apply saved configuration by restarting the app, once the transaction commits."""
    from apps.deployments import tasks

    if app.state != WebApp.State.RUNNING:
        return
    transaction.on_commit(lambda: tasks.restart.delay(app_id=app.pk, reason=reason))


@transaction.atomic
def set_app_settings(
    app: WebApp, settings: Iterable[SettingInput], *, restart: bool = True
) -> None:
    """Add or update settings (`az webapp config appsettings set`)."""
    settings = list(settings)
    _check_names((s.name for s in settings), "The setting")
    for s in settings:
        AppSetting.objects.update_or_create(
            app=app, name=s.name, defaults={"value": s.value, "slot_setting": s.slot_setting}
        )
    if restart and settings:
        request_restart(app, "app settings changed")


@transaction.atomic
def delete_app_settings(app: WebApp, names: Iterable[str], *, restart: bool = True) -> int:
    deleted, _ = AppSetting.objects.filter(app=app, name__in=list(names)).delete()
    if restart and deleted:
        request_restart(app, "app settings deleted")
    return deleted


@transaction.atomic
def replace_app_settings(
    app: WebApp, settings: Iterable[SettingInput], *, restart: bool = True
) -> None:
    """Make the app's settings exactly these (the portal's Save and Advanced edit)."""
    settings = list(settings)
    _check_names((s.name for s in settings), "The setting")
    AppSetting.objects.filter(app=app).exclude(name__in=[s.name for s in settings]).delete()
    for s in settings:
        AppSetting.objects.update_or_create(
            app=app, name=s.name, defaults={"value": s.value, "slot_setting": s.slot_setting}
        )
    if restart:
        request_restart(app, "app settings changed")


@transaction.atomic
def set_connection_strings(
    app: WebApp, strings: Iterable[ConnectionStringInput], *, restart: bool = True
) -> None:
    strings = list(strings)
    _check_names((s.name for s in strings), "The connection string")
    valid_types = {t.value for t in ConnectionString.Type}
    for s in strings:
        if s.type not in valid_types:
            raise ValidationError(
                f"{s.type!r} is not a connection string type: use one of "
                f"{', '.join(sorted(valid_types))}."
            )
    for s in strings:
        ConnectionString.objects.update_or_create(
            app=app,
            name=s.name,
            defaults={"value": s.value, "type": s.type, "slot_setting": s.slot_setting},
        )
    if restart and strings:
        request_restart(app, "connection strings changed")


@transaction.atomic
def delete_connection_strings(app: WebApp, names: Iterable[str], *, restart: bool = True) -> int:
    deleted, _ = ConnectionString.objects.filter(app=app, name__in=list(names)).delete()
    if restart and deleted:
        request_restart(app, "connection strings deleted")
    return deleted


@transaction.atomic
def update_general_settings(
    app: WebApp,
    *,
    linux_fx_version: str | None = None,
    app_command_line: str | None = None,
    health_check_path: str | None = None,
    restart: bool = True,
) -> list[str]:
    """Change the stack, startup command or health check path; returns what changed."""
    changed = []
    if linux_fx_version is not None and linux_fx_version != app.linux_fx_version:
        app.linux_fx_version = linux_fx_version
        changed.append("linux_fx_version")
    if app_command_line is not None and app_command_line != app.app_command_line:
        app.app_command_line = app_command_line
        changed.append("app_command_line")
    if health_check_path is not None and health_check_path != app.health_check_path:
        app.health_check_path = health_check_path
        changed.append("health_check_path")
    if changed:
        app.full_clean()
        app.save(update_fields=[*changed, "updated"])
        if restart:
            request_restart(app, "general settings changed: " + ", ".join(changed))
    return changed


def setting_value(app: WebApp, name: str, default: str = "") -> str:
    s = AppSetting.objects.filter(app=app, name=name).first()
    return s.value if s else default
