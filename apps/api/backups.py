"""Backups (`az webapp config backup create|list|restore`) over
apps.databases.backups. Kept apart from apps.api.views: its own router."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from apps.api.http import ApiError, json_body, parse
from apps.api.schemas import Error
from apps.api.views import APP_ERRORS, CHANGE_ERRORS, ResourceGroup, _get_app_for_user, json_request
from apps.databases import backups

router = Router(tags=["backup"])


class BackupOut(Schema):
    name: str
    created: str
    sizeInBytes: int
    databases: list[str]
    trigger: str = Field(description="manual, scheduled or pre-restore")
    homeFiles: int | None = Field(
        None, description="Files of the app's /home in it; null: the app had no /home volume."
    )
    linuxFxVersion: str = Field("", description="The stack it restores.")


class BackupCreate(Schema):
    backupName: str | None = Field(None, description="Default: the time, YYYYmmdd-HHMMSS.")


class BackupRestore(Schema):
    targetName: str | None = Field(
        None,
        description="Restore into this existing app (create it first); default: the same app.",
    )


def _out(backup: backups.Backup) -> dict:
    return {
        "name": backup.name,
        "created": backup.created,
        "sizeInBytes": backup.size,
        "databases": backup.databases,
        "trigger": backup.trigger,
        "homeFiles": backup.home_files,
        "linuxFxVersion": backup.stack,
    }


def _problem(e: backups.BackupProblem) -> ApiError:
    return ApiError(e.status, e.code, e.message)


BACKUPS = "/apps/{name}/backups"


@router.get(
    BACKUPS,
    operation_id="listBackups",
    summary="`az webapp config backup list`",
    response={200: list[BackupOut], **APP_ERRORS},
)
def backup_list(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "read")
    return [_out(b) for b in backups.list_backups(app)]


@router.post(
    BACKUPS,
    operation_id="createBackup",
    summary="`az webapp config backup create`: configuration (encrypted), /home and a "
    "verified dump of each connected database.",
    response={201: BackupOut, 409: Error, 503: Error, **CHANGE_ERRORS},
    openapi_extra=json_request(BackupCreate, required=False),
)
def backup_create(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    # A backup holds the secrets (encrypted): who may read them may make one.
    app = _get_app_for_user(request, name, "read_secrets")
    given = parse(BackupCreate, json_body(request))
    try:
        backup = backups.create(app, name=given.backupName or "", actor=request.user)
    except backups.BackupProblem as e:
        raise _problem(e) from None
    return Status(201, _out(backup))


@router.post(
    BACKUPS + "/{backup}/restore",
    operation_id="restoreBackup",
    summary="`az webapp config backup restore`: into the same app or --target-name.",
    response={200: BackupOut, 409: Error, 503: Error, **CHANGE_ERRORS},
    openapi_extra=json_request(BackupRestore, required=False),
)
def backup_restore(
    request: HttpRequest, name: str, backup: str, resourceGroup: str | None = ResourceGroup
):
    app = _get_app_for_user(request, name, "read_secrets")
    given = parse(BackupRestore, json_body(request))
    target = app
    if given.targetName and given.targetName != app.name:
        target = _target_app(request, given.targetName, app)
    try:
        backups.restore(app, backup, target=target, actor=request.user)
        found = next(b for b in backups.list_backups(app) if b.name == backup)
    except backups.BackupProblem as e:
        raise _problem(e) from None
    return _out(found)


def _target_app(request: HttpRequest, target_name: str, source):
    """The app to restore into: an existing one the caller may change."""
    target = _get_app_for_user(request, target_name, "write")
    if target.pk == source.pk:
        raise ApiError(422, "InvalidProperty", "targetName is the same app.")
    return target
