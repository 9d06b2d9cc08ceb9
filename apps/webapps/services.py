"""What a user can do to an app's configuration. The pages, the API and the
CLI all call these, so validation and the save-then-restart rule live here once.

Every change is saved first (in one transaction: all of it or none) and then
applied by restarting the app, as App Service does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.access import services as access
from apps.audit.models import AuditEvent
from apps.audit.services import describe_changes, masked, record
from apps.core import hooks
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps import operations
from apps.webapps.environment import build_environment, storage_limit_mb
from apps.webapps.models import (
    DEFAULT_LINUX_FX_VERSION,
    AppSetting,
    ConnectionString,
    Operation,
    WebApp,
)
from apps.webapps.validators import (
    STORAGE_LIMIT_SETTING,
    environment_problem,
    validate_platform_setting,
    validate_setting_name,
    validate_setting_value,
)

# The app settings App Service itself reads, for the build and the start (shown on the
# Application settings page with a hint).
KNOWN_SETTINGS = {
    "SCM_DO_BUILD_DURING_DEPLOYMENT": "Run the Oryx build (pip install, collectstatic) on deploy.",
    "PRE_BUILD_COMMAND": "A command or script run before pip install.",
    "POST_BUILD_COMMAND": "A command or script run after the build.",
    "DISABLE_COLLECTSTATIC": "true skips `manage.py collectstatic`.",
    "WEBSITES_PORT": "The port the app listens on ($PORT): 8000 unless set.",
    "WEBSITES_CONTAINER_START_TIME_LIMIT": "Seconds a new container may take to answer (230; up to 1800).",
    "WEBSITE_STORAGE_LIMIT_MB": "The most MB /home may hold (1024 unless set); over it, Berth stops the app.",
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


def _check_values(items: Iterable[SettingInput | ConnectionStringInput], what: str) -> None:
    errors: list[ValidationError] = []
    for item in items:
        try:
            validate_setting_value(item.value)
            validate_platform_setting(item.name, item.value)
        except ValidationError as e:
            errors.extend(ValidationError(f"{what} {item.name!r}: {m}") for m in e.messages)
    if errors:
        raise ValidationError(errors)


# Inside one_environment_check(): the lists change one after the other and
# only the end result must be startable.
_deferred: ContextVar[bool] = ContextVar("environment_check_deferred", default=False)


def _check_environment(app: WebApp) -> None:
    """Refuse (and so roll back) a change that leaves the app an environment
    it could not start with."""
    if _deferred.get():
        return
    if problem := environment_problem(build_environment(app)):
        raise ValidationError(problem)


@contextlib.contextmanager
def one_environment_check(app: WebApp) -> Iterator[None]:
    """Change settings and connection strings together, then check the app's
    environment once (call inside the transaction that saves them)."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)
    _check_environment(app)


def _settings_snapshot(app: WebApp) -> dict[str, dict]:
    return {
        s.name: {"value": s.value, "slotSetting": s.slot_setting}
        for s in AppSetting.objects.filter(app=app)
    }


def _strings_snapshot(app: WebApp) -> dict[str, dict]:
    return {
        cs.name: {"value": cs.value, "type": cs.type, "slotSetting": cs.slot_setting}
        for cs in ConnectionString.objects.filter(app=app)
    }


def _record_secrets_change(
    app: WebApp, action: str, before: dict[str, dict], after: dict[str, dict], what: str, actor
) -> bool:
    """Record a settings/connection strings change, values masked; False if nothing changed."""
    if before == after:
        return False
    record(
        app=app,
        action=action,
        actor=actor,
        before=masked(before),
        after=masked(after),
        summary=describe_changes(before, after, what),
    )
    return True


def request_restart(
    app: WebApp, reason: str, *, trigger: str = Operation.Trigger.SETTINGS, actor=None
) -> Operation | None:
    """Apply saved configuration by restarting the app, once the transaction
    commits; the operation records it step by step (None: the app is
    stopped, so the change applies when it starts)."""
    if app.state != WebApp.State.RUNNING:
        return None
    op = operations.begin(app, trigger, actor=actor, reason=reason)
    # The restart is the lifecycle's (a layer above): apps.core.hooks reaches it.
    transaction.on_commit(lambda: hooks.request_restart(app.pk, reason, op.pk))
    return op


@dataclass(frozen=True)
class _Kind:
    """What differs between app settings and connection strings; the rules
    (validate, save in one go, record masked, then restart) are the same."""

    model: type[AppSetting] | type[ConnectionString]
    fields: tuple[str, ...]  # saved from the input besides its name
    snapshot: Callable[[WebApp], dict[str, dict]]
    action: str
    title: str  # for the audit summary
    item: str  # for validation messages
    check: Callable[[list], None] | None = None


def _save(kind: _Kind, app: WebApp, items: list, *, replace: bool, actor) -> bool:
    """Save these items (with `replace`, drop all others); True if anything changed."""
    _check_names((s.name for s in items), kind.item)
    _check_values(items, kind.item)
    if kind.check is not None:
        kind.check(items)
    before = kind.snapshot(app)
    if replace:
        kind.model.objects.filter(app=app).exclude(name__in=[s.name for s in items]).delete()
    for s in items:
        kind.model.objects.update_or_create(
            app=app, name=s.name, defaults={f: getattr(s, f) for f in kind.fields}
        )
    _check_environment(app)
    return _record_secrets_change(app, kind.action, before, kind.snapshot(app), kind.title, actor)


def _delete(kind: _Kind, app: WebApp, names: Iterable[str], *, actor) -> int:
    before = kind.snapshot(app)
    deleted, _ = kind.model.objects.filter(app=app, name__in=list(names)).delete()
    _record_secrets_change(app, kind.action, before, kind.snapshot(app), kind.title, actor)
    return deleted


@transaction.atomic
def set_app_settings(
    app: WebApp, settings: Iterable[SettingInput], *, restart: bool = True, actor=None
) -> None:
    """Add or update settings (`az webapp config appsettings set`)."""
    settings = list(settings)
    _save(_APP_SETTINGS, app, settings, replace=False, actor=actor)
    if restart and settings:
        request_restart(app, "app settings changed", actor=actor)


@transaction.atomic
def delete_app_settings(
    app: WebApp, names: Iterable[str], *, restart: bool = True, actor=None
) -> int:
    deleted = _delete(_APP_SETTINGS, app, names, actor=actor)
    if restart and deleted:
        request_restart(app, "app settings deleted", actor=actor)
    return deleted


@transaction.atomic
def replace_app_settings(
    app: WebApp, settings: Iterable[SettingInput], *, restart: bool = True, actor=None
) -> None:
    """Make the app's settings exactly these (the portal's Save and Advanced edit)."""
    _save(_APP_SETTINGS, app, list(settings), replace=True, actor=actor)
    if restart:
        request_restart(app, "app settings changed", actor=actor)


@transaction.atomic
def set_connection_strings(
    app: WebApp, strings: Iterable[ConnectionStringInput], *, restart: bool = True, actor=None
) -> None:
    strings = list(strings)
    _save(_CONNECTION_STRINGS, app, strings, replace=False, actor=actor)
    if restart and strings:
        request_restart(app, "connection strings changed", actor=actor)


@transaction.atomic
def delete_connection_strings(
    app: WebApp, names: Iterable[str], *, restart: bool = True, actor=None
) -> int:
    deleted = _delete(_CONNECTION_STRINGS, app, names, actor=actor)
    if restart and deleted:
        request_restart(app, "connection strings deleted", actor=actor)
    return deleted


def set_storage_limit(app: WebApp, limit_mb: int | None, *, actor=None) -> bool:
    """Save the /home limit as the app setting WEBSITE_STORAGE_LIMIT_MB,
    unless it is the one in effect; True if saved. No restart: the periodic
    check of /home (apps.lifecycle.quota) reads it."""
    if limit_mb is None or limit_mb == storage_limit_mb(app):
        return False
    try:
        validate_platform_setting(STORAGE_LIMIT_SETTING, str(limit_mb))
    except ValidationError as e:
        raise ValidationError({"storage_limit_mb": e.messages}) from e
    _save(
        _APP_SETTINGS,
        app,
        [SettingInput(STORAGE_LIMIT_SETTING, str(limit_mb))],
        replace=False,
        actor=actor,
    )
    return True


# The general settings a user edits, with App Service's names for them.
GENERAL_FIELDS = {
    "linux_fx_version": "linuxFxVersion",
    "app_command_line": "appCommandLine",
    "health_check_path": "healthCheckPath",
    "https_only": "httpsOnly",
}
# Applied at once without a restart: HTTPS Only by the front proxy, the
# storage limit (an app setting) by the periodic check of /home.
NO_RESTART_FIELDS = {"https_only", "storage_limit_mb"}


@dataclass(frozen=True)
class GeneralSaved:
    """What a save of the general settings did: the fields it changed (in
    GENERAL_FIELDS's names) and the stack change's rebuild, a Deployment id,
    when it started one."""

    changed: list[str]
    rebuild_id: int | None = None


@transaction.atomic
def update_general_settings(
    app: WebApp,
    *,
    linux_fx_version: str | None = None,
    app_command_line: str | None = None,
    health_check_path: str | None = None,
    https_only: bool | None = None,
    storage_limit_mb: int | None = None,  # saved as its app setting, with no restart
    restart: bool = True,
    actor=None,
) -> GeneralSaved:
    """Change the stack, startup command, health check path or HTTPS Only;
    returns what changed and the rebuild it started, if any. HTTPS Only goes to the proxy at once (no restart);
    if the proxy refuses it, nothing is saved."""
    before = {f: getattr(app, f) for f in GENERAL_FIELDS}
    set_storage_limit(app, storage_limit_mb, actor=actor)
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
    if https_only is not None and https_only != app.https_only:
        app.https_only = https_only
        changed.append("https_only")
    if changed:
        app.full_clean()
        app.save(update_fields=[*changed, "updated"])
        if "https_only" in changed:
            apply_https_only(app)  # raises before the commit: nothing saved
        # Not secrets: the log keeps the real values so a change can be undone by hand.
        record(
            app=app,
            action=AuditEvent.Action.GENERAL_SETTINGS,
            actor=actor,
            before={f: before[f] for f in changed},
            after={f: getattr(app, f) for f in changed},
            summary="General settings: changed " + ", ".join(GENERAL_FIELDS[f] for f in changed),
        )
        rebuild = None
        if restart and "linux_fx_version" in changed:
            # Another Python needs another build of the code: the serving
            # release is built again on the new runtime (which also applies
            # the other changes), unless there is no release yet.
            try:
                rebuild = hooks.request_rebuild(app.pk, before["linux_fx_version"], actor)
            except ValueError as e:  # the release's source is gone: nothing saved
                raise ValidationError({"linux_fx_version": str(e)}) from e
        if restart and rebuild is None and set(changed) - NO_RESTART_FIELDS:
            request_restart(
                app,
                "general settings changed: " + ", ".join(changed),
                trigger=Operation.Trigger.GENERAL,
                actor=actor,
            )
        return GeneralSaved(changed, rebuild)
    return GeneralSaved(changed)


def apply_https_only(app: WebApp) -> None:
    """Tell the front proxy the app's HTTPS Only choice. A refusal is a
    ValidationError saying why, so the caller's transaction saves nothing."""
    if not getattr(django_settings, "BERTH_PROXY_ROUTING", True):
        return
    try:
        nginx.set_https_only(app.name, app.https_only)
    except ProxyError as e:
        raise ValidationError(f"The front proxy did not take HTTPS Only: {e.message}") from e


def _check_types(strings: Iterable[ConnectionStringInput]) -> None:
    valid_types = {t.value for t in ConnectionString.Type}
    for s in strings:
        if s.type not in valid_types:
            raise ValidationError(
                f"{s.type!r} is not a connection string type: use one of "
                f"{', '.join(sorted(valid_types))}."
            )


@transaction.atomic
def replace_connection_strings(
    app: WebApp, strings: Iterable[ConnectionStringInput], *, restart: bool = True, actor=None
) -> None:
    """Make the app's connection strings exactly these (the portal's Save and Advanced edit)."""
    changed = _save(_CONNECTION_STRINGS, app, list(strings), replace=True, actor=actor)
    if restart and changed:
        request_restart(app, "connection strings changed", actor=actor)


_APP_SETTINGS = _Kind(
    model=AppSetting,
    fields=("value", "slot_setting"),
    snapshot=_settings_snapshot,
    action=AuditEvent.Action.APP_SETTINGS,
    title="App settings",
    item="The setting",
)
_CONNECTION_STRINGS = _Kind(
    model=ConnectionString,
    fields=("value", "type", "slot_setting"),
    snapshot=_strings_snapshot,
    action=AuditEvent.Action.CONNECTION_STRINGS,
    title="Connection strings",
    item="The connection string",
    check=_check_types,
)


@transaction.atomic
def save_configuration(
    app: WebApp,
    *,
    settings: Iterable[SettingInput],
    connection_strings: Iterable[ConnectionStringInput],
    actor=None,
) -> bool:
    """The portal's one Save: both lists replaced together or not at all, then
    one restart if anything changed. Returns whether anything changed."""
    before = (_settings_snapshot(app), _strings_snapshot(app))
    with one_environment_check(app):
        replace_app_settings(app, settings, restart=False, actor=actor)
        replace_connection_strings(app, connection_strings, restart=False, actor=actor)
    changed = before != (_settings_snapshot(app), _strings_snapshot(app))
    if changed:
        request_restart(app, "application settings changed", actor=actor)
    return changed


@transaction.atomic
def create_app(
    *,
    name: str,
    owner,
    resource_group: str = "default",
    linux_fx_version: str = DEFAULT_LINUX_FX_VERSION,
    app_command_line: str = "",
    actor=None,
) -> WebApp:
    """Create a web app (`az webapp create`) as `owner`, who must be allowed to
    create apps in the resource group (apps.access.create_right: raises
    PermissionDenied saying what would allow it); raises ValidationError
    with field messages. The creator gets an Owner grant on the app (and on
    the group, if it is new), recorded in its Activity log."""
    right = access.create_right(owner, resource_group)
    app = WebApp(
        name=name,
        owner=owner,
        resource_group=resource_group,
        linux_fx_version=linux_fx_version,
        app_command_line=app_command_line,
    )
    app.full_clean()
    app.save()
    record(
        app=app,
        action=AuditEvent.Action.APP_CREATE,
        actor=actor if actor is not None else owner,
        after={
            "name": app.name,
            "resourceGroup": app.resource_group,
            "linuxFxVersion": app.linux_fx_version,
            "appCommandLine": app.app_command_line,
        },
        summary=f"Created {app.name} ({app.linux_fx_version}) in {app.resource_group}",
    )
    access.grant_creator(app, right, actor=actor if actor is not None else owner)
    # The default site serves at once (the lifecycle's, through apps.core.hooks).
    transaction.on_commit(lambda: hooks.app_created(app.pk))
    return app


@transaction.atomic
def delete_rows(app: WebApp, *, actor, removed: dict) -> None:
    """The app's rows go in one transaction (settings, connection strings,
    deployments with their logs, roles, metrics) and the Activity log records
    the deletion. apps.deployments.teardown.delete_app calls this last."""
    record(
        app=app,
        action=AuditEvent.Action.APP_DELETE,
        actor=actor,
        before={
            "name": app.name,
            "resourceGroup": app.resource_group,
            "linuxFxVersion": app.linux_fx_version,
            "appSettings": sorted(_settings_snapshot(app)),
            "connectionStrings": sorted(_strings_snapshot(app)),
        },
        after={"removed": removed},
        summary=f"Deleted {app.name}",
    )
    app.delete()
