"""The REST API under /api/: thin operations over the same services the
pages use (apps.webapps.services, apps.deployments.services).

Shapes follow `az webapp` (apps.api.serializers writes them, apps.api.schemas
types them); django-ninja generates the OpenAPI document from these
operations (apps.api.api).
"""

from __future__ import annotations

import logging
from typing import Annotated

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import BeforeValidator

from apps.access.lockout import lockout_response
from apps.access.services import Refused, app_for
from apps.api import serializers
from apps.api.auth import bearer_token
from apps.api.http import ApiError, json_body, parse, parse_list
from apps.api.models import ApiToken, hash_token
from apps.api.schemas import (
    AppSetting,
    AppSettingOut,
    ConnectionString,
    ConnectionStringOut,
    CreateSite,
    Error,
    LifecycleResult,
    LocalGit,
    Operation,
    OperationFailed,
    PublishingCredentials,
    Runtime,
    Site,
    SiteConfig,
    SiteConfigPatch,
    SitePatch,
    Token,
    TokenRequest,
)
from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.deployments import gitrepo, teardown
from apps.engine import runtimes as runtime_catalog
from apps.engine.errors import EngineError
from apps.lifecycle import operations as lifecycle_ops
from apps.logs import dump as log_dump
from apps.webapps import services
from apps.webapps.groups import DEFAULT_GROUP, RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE, canonical
from apps.webapps.models import DEFAULT_LINUX_FX_VERSION, WebApp
from apps.webapps.models import ConnectionString as ConnectionStringRow
from apps.webapps.models import Operation as OperationRow

logger = logging.getLogger(__name__)

router = Router(tags=["webapp"])

# The answers every app-scoped operation may give besides its own.
# (400: NUL characters or a bad query parameter, on any of them.)
APP_ERRORS = {400: Error, 401: Error, 403: Error, 404: Error}
CHANGE_ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 415: Error, 422: Error}

# Declared on each app operation for the schema (and checked by ninja);
# _get_app_for_user reads it from the request, as the pages' lookup does.
ResourceGroup = Query(None, description="Only if the app is in this resource group (as az's -g).")
# As before ninja: an empty ?showValues= is false, not a 400.
QueryBool = Annotated[bool, BeforeValidator(lambda value: value or False)]
ShowValues = Query(
    False, description="Values are null unless this is true: secrets are not shown by default."
)


def json_request(schema: type[Schema], *, listed: bool = False, required: bool = True) -> dict:
    """The requestBody of an operation whose body `parse` reads (so the errors
    keep the API's codes); the schema is the same class."""
    schema_json = schema.model_json_schema()
    if listed:
        schema_json = {"type": "array", "items": schema_json}
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema_json}},
        }
    }


def _get_app_for_user(request: HttpRequest, name: str, action: str = "read") -> WebApp:
    """The app, if this user may see it and their role allows `action`
    (apps.access.services.app_for); a resourceGroup query narrows it as -g does."""
    group = request.GET.get("resourceGroup") or ""
    try:
        return app_for(request.user, name, action, resource_group=group)
    except Http404:
        where = f" in resource group {group!r}" if group else ""
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The web app {name!r} was not found{where}: check the name with `berth webapp list`.",
        ) from None
    except Refused as e:
        raise ApiError(403, "AuthorizationFailed", e.message) from None


def normalize_linux_fx_version(value: str) -> str:
    """Accept what az accepts ("PYTHON|3.11", "python:3.11", "3.11") and
    return App Service's spelling, or say which versions exist."""
    raw = value.strip()
    text = raw.upper().replace(":", "|")
    if "|" not in text:
        text = f"PYTHON|{text}"
    stack, _, version = text.partition("|")
    if stack == "PYTHON" and version in runtime_catalog.PYTHON_VERSIONS:
        return f"PYTHON|{version}"
    choices = ", ".join(f"PYTHON|{v}" for v in runtime_catalog.PYTHON_VERSIONS)
    raise ApiError(
        422,
        "InvalidRuntime",
        f"{raw!r} is not a runtime Berth offers: use one of {choices} "
        "(see `berth webapp list-runtimes --os linux`).",
    )


def _check_health_check_path(value: str) -> str:
    value = value.strip()
    if value and not value.startswith("/"):
        raise ApiError(422, "InvalidProperty", f"Start healthCheckPath with '/': try '/{value}'.")
    if any(c.isspace() for c in value):
        raise ApiError(422, "InvalidProperty", "healthCheckPath may not contain spaces.")
    return value


# --- Tokens -------------------------------------------------------------------


@router.post(
    "/token",
    auth=None,
    url_name="token",
    operation_id="createToken",
    summary="Exchange a user name and password for an API token (`berth login`).",
    response={
        201: Token,
        400: Error,
        401: Error,
        415: Error,
        422: Error,
        429: Error,  # too many failed sign-ins; Retry-After says when to try again
    },
    openapi_extra=json_request(TokenRequest),
)
def token(request: HttpRequest):
    given = parse(TokenRequest, json_body(request))
    # Throttled (apps.access.lockout): axes' backend refuses a user name and
    # address with too many failures before the password is checked.
    user = authenticate(request, username=given.username, password=given.password)
    if getattr(request, "axes_locked_out", False):
        return lockout_response(request, credentials={"username": given.username})
    if user is None or not user.is_active:
        raise ApiError(
            401, "InvalidCredentials", "The user name or password is wrong: check both and retry."
        )
    # A sign-in like the login form's: it resets the failure count (and
    # records last_login).
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    row, secret = ApiToken.objects.create_for(user, given.name or "berth CLI")
    token = {
        "token": secret,
        "name": row.name,
        "user": user.get_username(),
        "created": row.created.isoformat(),
        "expires": row.expires.isoformat(),
    }
    return Status(201, token)


@router.delete(
    "/token",
    auth=None,
    operation_id="revokeToken",
    summary="Revoke the token this request carries (`berth logout`).",
    response={204: None, 400: Error, 401: Error},
    openapi_extra={"security": [{"BearerAuth": []}]},
)
def token_revoke(request: HttpRequest):
    deleted, _ = ApiToken.objects.filter(token_hash=hash_token(bearer_token(request))).delete()
    if not deleted:
        raise ApiError(401, "Unauthorized", "Send the token to revoke as a Bearer token.")
    return HttpResponse(status=204)


# --- Apps ---------------------------------------------------------------------


@router.get(
    "/apps",
    url_name="apps",
    operation_id="listApps",
    summary="`az webapp list`",
    response={200: list[Site], 400: Error, 401: Error},
)
def apps_list(request: HttpRequest, resourceGroup: str | None = ResourceGroup):
    apps = WebApp.objects.for_user(request.user)
    if resourceGroup:
        apps = apps.filter(resource_group=resourceGroup)
    return [serializers.site(app) for app in apps]


@router.get(
    "/apps/{name}",
    url_name="app",
    operation_id="showApp",
    summary="`az webapp show`",
    response={200: Site, **APP_ERRORS},
)
def app_show(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    return serializers.site(_get_app_for_user(request, name))


@router.put(
    "/apps/{name}",
    operation_id="createApp",
    summary="`az webapp create`: 201 when made, 200 when it already exists in this group.",
    description="403 AuthorizationFailed: creating an app in an existing resource group "
    "needs Contributor or Owner on the group; in a new group the creator becomes its "
    "Owner; anyone may create apps in `default`. Group names are stored in lowercase.",
    response={
        200: Site,
        201: Site,
        400: Error,
        401: Error,
        403: Error,
        409: Error,
        **CHANGE_ERRORS,
    },
    openapi_extra=json_request(CreateSite, required=False),
)
def app_create(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    """`az webapp create`: idempotent for the same app in the same group."""
    given = parse(CreateSite, json_body(request))
    group = given.resourceGroup or resourceGroup or DEFAULT_GROUP
    if not RESOURCE_GROUP_RE.match(group):
        raise ApiError(422, "InvalidResourceGroup", RESOURCE_GROUP_RULE)
    group = canonical(group)
    runtime = given.linuxFxVersion or given.runtime
    linux_fx_version = normalize_linux_fx_version(runtime) if runtime else DEFAULT_LINUX_FX_VERSION
    command = given.appCommandLine or ""

    existing = WebApp.objects.filter(name=name).first()
    if existing is not None:
        if not WebApp.objects.for_user(request.user).filter(pk=existing.pk).exists():
            raise ApiError(
                409,
                "NameTaken",
                f"The name {name!r} is taken (it becomes a host name): choose another.",
            )
        _get_app_for_user(request, name, "write")
        # An app stays in the group it was created in (no move).
        if existing.resource_group != group:
            raise ApiError(
                409,
                "Conflict",
                f"The web app {name!r} already exists in resource group "
                f"{existing.resource_group!r}: use -g {existing.resource_group} or another name.",
            )
        return Status(200, serializers.site(existing))
    try:
        app = services.create_app(
            name=name,
            owner=request.user,
            resource_group=group,
            linux_fx_version=linux_fx_version,
            app_command_line=command,
            actor=request.user,
        )
    except PermissionDenied as e:
        raise ApiError(403, "AuthorizationFailed", str(e)) from e
    return Status(201, serializers.site(app))


@router.patch(
    "/apps/{name}",
    operation_id="updateApp",
    summary="`az webapp update --https-only true|false`: the site's own properties. "
    "HTTPS Only is applied by the front proxy at once (no restart).",
    response={200: Site, **CHANGE_ERRORS, 503: Error},
    openapi_extra=json_request(SitePatch),
)
def app_update(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "write")
    given = parse(SitePatch, json_body(request))
    if given.httpsOnly is not None:
        try:
            services.update_general_settings(app, https_only=given.httpsOnly, actor=request.user)
        except ValidationError as e:
            raise ApiError(503, "ProxyRefused", " ".join(e.messages)) from e
        app.refresh_from_db()
    return serializers.site(app)


@router.delete(
    "/apps/{name}",
    operation_id="deleteApp",
    summary="`az webapp delete`: the app, its settings, deployments, containers, release "
    "images, artifacts, Git repository and logs.",
    description="503 DeleteIncomplete: something could not be removed (the engine is "
    "down, a deployment is running); the app is kept, stopped, and deleting it again "
    "finishes the job.",
    response={204: None, **APP_ERRORS, 503: Error},
)
def app_delete(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "manage_access")
    try:
        teardown.delete_app(app, actor=request.user)
    except teardown.DeleteFailed as e:
        # Nothing half-done that a retry cannot finish: the app is kept, stopped.
        raise ApiError(503, "DeleteIncomplete", e.message) from e
    return HttpResponse(status=204)


# --- Start, stop, restart -------------------------------------------------------


def _outcome(app: WebApp, outcome) -> Status:
    """The answer to start/stop/restart: the app's state, what happened, and
    the operation with its steps (GET .../operations/<id> reads it again). A
    failure is a 409 with the reason, and the operation saying which
    container still serves."""
    op = getattr(outcome, "operation", None)
    if outcome is not None and not outcome.ok:
        body: dict = {"error": {"code": "OperationFailed", "message": outcome.message}}
        if op is not None:
            body["operation"] = serializers.operation(op)
        return Status(409, body)
    app.refresh_from_db()
    answer = {
        "name": app.name,
        "state": app.state,
        "message": getattr(outcome, "message", "") or "",
    }
    if op is not None:
        answer["operation"] = serializers.operation(op)
    return Status(200, answer)


def _run(app: WebApp, call):
    try:
        return call()
    except NotImplementedError as e:
        raise ApiError(501, "NotImplemented", str(e) or "Not available in this portal yet.") from e
    except EngineError as e:
        raise ApiError(
            503, "EngineUnavailable", f"{e.message} (the app's saved state is unchanged)."
        ) from e


# These run in the request, as `az webapp restart` waits; the operation's
# steps are written as they happen, so another client can watch them.

LIFECYCLE = {
    "description": "Answers when it is over; its steps are recorded as they happen "
    "(GET /api/apps/{name}/operations/{id}). 409: it failed (or the app stayed busy): "
    "the reason, and the operation saying which container still serves.",
    "response": {
        200: LifecycleResult,
        409: OperationFailed,
        **APP_ERRORS,
        501: Error,
        503: Error,
    },
    # An answer without an operation leaves the key out, as before.
    "exclude_unset": True,
}


@router.post(
    "/apps/{name}/start",
    url_name="start",
    operation_id="startApp",
    summary="`az webapp start`",
    **LIFECYCLE,
)
def app_start(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "write")
    return _outcome(app, _run(app, lambda: lifecycle_ops.start_app(app, actor=request.user)))


@router.post(
    "/apps/{name}/stop",
    url_name="stop",
    operation_id="stopApp",
    summary="`az webapp stop`",
    **LIFECYCLE,
)
def app_stop(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "write")
    return _outcome(app, _run(app, lambda: lifecycle_ops.stop_app(app, actor=request.user)))


@router.post(
    "/apps/{name}/restart",
    url_name="restart",
    operation_id="restartApp",
    summary="`az webapp restart`",
    **LIFECYCLE,
)
def app_restart(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "write")
    return _outcome(
        app,
        _run(
            app,
            lambda: lifecycle_ops.restart_app(
                app, reason="restart requested (API)", actor=request.user
            ),
        ),
    )


OPERATIONS_LISTED = 20


@router.get(
    "/apps/{name}/operations",
    url_name="operations",
    operation_id="listOperations",
    summary=f"The app's latest restarts, starts and stops ({OPERATIONS_LISTED}), newest first.",
    response={200: list[Operation], **APP_ERRORS},
)
def app_operations(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name)
    ops = OperationRow.objects.filter(app=app).select_related("app")[:OPERATIONS_LISTED]
    return [serializers.operation(op) for op in ops]


@router.get(
    "/apps/{name}/operations/{int:id}",
    url_name="operation",
    operation_id="showOperation",
    summary="One restart, start or stop and its steps; poll it while it runs.",
    response={200: Operation, **APP_ERRORS},
)
def app_operation(
    request: HttpRequest,
    name: str,
    id: int,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name)
    op = OperationRow.objects.filter(app=app, pk=id).first() if 0 <= id < 2**63 else None
    if op is None:
        raise ApiError(
            404,
            "NotFound",
            f"{app.name} has no operation {id}: list them with GET /api/apps/{app.name}/operations.",
        )
    return serializers.operation(op)


# --- Configuration ----------------------------------------------------------------

CONFIG_FIELDS = {
    "linuxFxVersion": "linux_fx_version",
    "appCommandLine": "app_command_line",
    "healthCheckPath": "health_check_path",
}


@router.get(
    "/apps/{name}/config",
    url_name="config",
    operation_id="showConfig",
    summary="`az webapp config show`",
    response={200: SiteConfig, **APP_ERRORS},
)
def app_config(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    return serializers.site_config(_get_app_for_user(request, name))


@router.patch(
    "/apps/{name}/config",
    operation_id="setConfig",
    summary="`az webapp config set` (--linux-fx-version, --startup-file).",
    response={200: SiteConfig, **CHANGE_ERRORS},
    openapi_extra=json_request(SiteConfigPatch),
)
def app_config_set(
    request: HttpRequest,
    response: HttpResponse,
    name: str,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "write")
    given = parse(SiteConfigPatch, json_body(request))
    changes = {field: getattr(given, key) for key, field in CONFIG_FIELDS.items()}
    if changes["linux_fx_version"] is not None:
        changes["linux_fx_version"] = normalize_linux_fx_version(changes["linux_fx_version"])
    if changes["health_check_path"] is not None:
        changes["health_check_path"] = _check_health_check_path(changes["health_check_path"])
    if changes["app_command_line"] is not None:
        changes["app_command_line"] = changes["app_command_line"].strip()
    saved = services.update_general_settings(app, **changes, actor=request.user)
    app.refresh_from_db()
    # A stack change builds the serving release again (a deployment): say
    # where to follow it, as the CLI does.
    if saved.rebuild_id is not None:
        response["Berth-Rebuild"] = reverse("api:deployment", args=[app.name, saved.rebuild_id])
    return serializers.site_config(app)


# --- App settings and connection strings --------------------------------------------
# GET lists (values only with showValues=true); PATCH adds or updates; PUT
# replaces all; DELETE removes ?settingNames=. Changes answer the list with
# values null, as az does.

ENTRY = '{"name": ..., "value": ...}'
SettingNames = Query(
    None,
    description="The names to delete (repeat the parameter for several).",
)


def _names(names: list[str] | None) -> list[str]:
    names = [n for n in names or [] if n]
    if not names:
        raise ApiError(400, "MissingQuery", "Name what to delete: ?settingNames=NAME (repeatable).")
    return names


def _settings(request: HttpRequest) -> list[services.SettingInput]:
    return [
        services.SettingInput(name=s.name, value=s.value, slot_setting=bool(s.slotSetting))
        for s in parse_list(AppSetting, json_body(request), shape=ENTRY)
    ]


def _connection_strings(request: HttpRequest) -> list[services.ConnectionStringInput]:
    return [
        services.ConnectionStringInput(
            name=cs.name,
            value=cs.value,
            type=_connection_string_type(cs.type or "Custom"),
            slot_setting=bool(cs.slotSetting),
        )
        for cs in parse_list(ConnectionString, json_body(request), shape=ENTRY)
    ]


def _connection_string_type(value: str) -> str:
    """az's --connection-string-type is case-insensitive."""
    for choice in ConnectionStringRow.Type:
        if choice.value.lower() == value.lower():
            return choice.value
    raise ApiError(
        422,
        "InvalidProperty",
        f"{value!r} is not a connection string type: use one of "
        f"{', '.join(t.value for t in ConnectionStringRow.Type)}.",
    )


APPSETTINGS = "/apps/{name}/appsettings"
SETTINGS_LIST = {200: list[AppSettingOut], 400: Error, **APP_ERRORS}


@router.get(
    APPSETTINGS,
    url_name="appsettings",
    operation_id="listAppSettings",
    summary="`az webapp config appsettings list`",
    response=SETTINGS_LIST,
)
def app_settings(
    request: HttpRequest,
    name: str,
    showValues: QueryBool = ShowValues,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "read_secrets" if showValues else "read")
    return serializers.app_settings(app, show_values=showValues)


@router.patch(
    APPSETTINGS,
    operation_id="setAppSettings",
    summary="`az webapp config appsettings set`: add or update these; values come back null.",
    response={200: list[AppSettingOut], **CHANGE_ERRORS},
    openapi_extra=json_request(AppSetting, listed=True),
)
def app_settings_set(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "write")
    services.set_app_settings(app, _settings(request), actor=request.user)
    return serializers.app_settings(app, show_values=False)


@router.put(
    APPSETTINGS,
    operation_id="replaceAppSettings",
    summary="Make the list exactly this (the portal's Advanced edit).",
    response={200: list[AppSettingOut], **CHANGE_ERRORS},
    openapi_extra=json_request(AppSetting, listed=True),
)
def app_settings_replace(
    request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup
):
    app = _get_app_for_user(request, name, "write")
    services.replace_app_settings(app, _settings(request), actor=request.user)
    return serializers.app_settings(app, show_values=False)


@router.delete(
    APPSETTINGS,
    operation_id="deleteAppSettings",
    summary="`az webapp config appsettings delete --setting-names ...`",
    response=SETTINGS_LIST,
)
def app_settings_delete(
    request: HttpRequest,
    name: str,
    settingNames: list[str] | None = SettingNames,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "write")
    services.delete_app_settings(app, _names(settingNames), actor=request.user)
    return serializers.app_settings(app, show_values=False)


CONNECTIONSTRINGS = "/apps/{name}/connectionstrings"
STRINGS_LIST = {200: list[ConnectionStringOut], 400: Error, **APP_ERRORS}


@router.get(
    CONNECTIONSTRINGS,
    url_name="connectionstrings",
    operation_id="listConnectionStrings",
    summary="`az webapp config connection-string list`",
    response=STRINGS_LIST,
)
def connection_strings(
    request: HttpRequest,
    name: str,
    showValues: QueryBool = ShowValues,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "read_secrets" if showValues else "read")
    return serializers.connection_strings(app, show_values=showValues)


@router.patch(
    CONNECTIONSTRINGS,
    operation_id="setConnectionStrings",
    summary="`az webapp config connection-string set`: add or update these; values come back null.",
    response={200: list[ConnectionStringOut], **CHANGE_ERRORS},
    openapi_extra=json_request(ConnectionString, listed=True),
)
def connection_strings_set(
    request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup
):
    app = _get_app_for_user(request, name, "write")
    services.set_connection_strings(app, _connection_strings(request), actor=request.user)
    return serializers.connection_strings(app, show_values=False)


@router.put(
    CONNECTIONSTRINGS,
    operation_id="replaceConnectionStrings",
    summary="Make the list exactly this (the portal's Advanced edit).",
    response={200: list[ConnectionStringOut], **CHANGE_ERRORS},
    openapi_extra=json_request(ConnectionString, listed=True),
)
def connection_strings_replace(
    request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup
):
    app = _get_app_for_user(request, name, "write")
    services.replace_connection_strings(app, _connection_strings(request), actor=request.user)
    return serializers.connection_strings(app, show_values=False)


@router.delete(
    CONNECTIONSTRINGS,
    operation_id="deleteConnectionStrings",
    summary="`az webapp config connection-string delete --setting-names ...`",
    response=STRINGS_LIST,
)
def connection_strings_delete(
    request: HttpRequest,
    name: str,
    settingNames: list[str] | None = SettingNames,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "write")
    services.delete_connection_strings(app, _names(settingNames), actor=request.user)
    return serializers.connection_strings(app, show_values=False)


# --- Runtimes -------------------------------------------------------------------------


@router.get(
    "/runtimes",
    url_name="runtimes",
    operation_id="listRuntimes",
    summary="`az webapp list-runtimes --os linux`",
    response={200: list[Runtime], 400: Error, 401: Error},
)
def runtimes(
    request: HttpRequest,
    os: str = Query("linux", description="linux or windows (Berth runs Linux apps only)."),
):
    os_type = os.lower()
    if os_type not in ("linux", "windows"):
        raise ApiError(400, "InvalidQuery", "os must be linux or windows.")
    if os_type == "windows":
        return []
    return [serializers.runtime(rt) for rt in runtime_catalog.catalog()]


# --- Deployment credentials, local Git, log download -------------------------------


@router.get(
    "/apps/{name}/publishingcredentials",
    url_name="publishingcredentials",
    operation_id="listPublishingCredentials",
    summary="`az webapp deployment list-publishing-credentials`: the user name for git and "
    "zip deploy; the password only with showValues=true (which needs Contributor or Owner "
    "and is recorded in the app's Activity log).",
    response={200: PublishingCredentials, **APP_ERRORS},
)
def publishing_credentials(
    request: HttpRequest,
    response: HttpResponse,
    name: str,
    showValues: QueryBool = ShowValues,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "read_secrets" if showValues else "read")
    if showValues:
        # As Azure's Activity log lists "List Web App Publishing Credentials".
        record(
            app=app,
            action=AuditEvent.Action.CREDENTIALS_LIST,
            actor=request.user,
            summary=f"Read the deployment password of {app.publishing_username} (API)",
        )
    response["Cache-Control"] = "no-store"  # it may carry the password
    return serializers.publishing_credentials(
        app, scm_url=request.build_absolute_uri("/"), show_password=showValues
    )


@router.post(
    "/apps/{name}/localgit",
    url_name="localgit",
    operation_id="configLocalGit",
    summary="`az webapp deployment source config-local-git`: make the app's Git repository "
    "(if not yet) and answer its remote. Push with the publishing credentials.",
    response={200: LocalGit, **APP_ERRORS},
)
def local_git(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name, "write")
    gitrepo.ensure_repo(app)
    url = request.build_absolute_uri(f"/git/{app.name}.git")
    return serializers.local_git(app, git_url=url)


@router.get(
    "/apps/{name}/dump",
    url_name="dump",
    operation_id="downloadLogs",
    tags=["logs"],
    summary="`az webapp log download` (Kudu's /api/dump): a zip of the app's container log "
    f"(the archive, then the serving container's latest lines) and the logs of its "
    f"{log_dump.DEPLOYMENTS} latest deployments, secrets masked as ***.",
    response=APP_ERRORS,
    openapi_extra={
        "responses": {
            200: {
                "description": "The zip.",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_logs(request: HttpRequest, name: str, resourceGroup: str | None = ResourceGroup):
    app = _get_app_for_user(request, name)
    found = log_dump.dump(app)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = FileResponse(
        found.file,
        as_attachment=True,
        filename=f"{app.name}-logs-{stamp}.zip",
        content_type="application/zip",
    )
    for warning in found.warnings:
        logger.warning("Log download of %s: %s", app.name, warning)
    return response
