"""Service Connector's operations (`az webapp connection ...`) over
apps.databases.connections: connect an app to Berth's PostgreSQL or Redis,
list and show its connections (values hidden unless asked), delete one.
Kept apart from apps.api.views: its own router, schemas and section."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status

from apps.api.http import ApiError, json_body, parse
from apps.api.schemas import Error
from apps.api.views import (
    APP_ERRORS,
    CHANGE_ERRORS,
    QueryBool,
    ResourceGroup,
    ShowValues,
    _get_app_for_user,
    json_request,
)
from apps.databases import connecting, connections, pending
from apps.databases.models import ServiceConnection

router = Router(tags=["connection"])

TargetType = Literal["postgres-flexible", "redis"]
ClientType = Literal["django", "python"]


class ConnectionCreate(Schema):
    targetType: TargetType = Field(description="What to connect: Berth's PostgreSQL or Redis.")
    clientType: ClientType | None = Field(
        None, description="Which app settings to set (default python, as az for Python apps)."
    )
    connectionName: str | None = Field(
        None, description="Default: postgres_flexible or redis.", examples=["postgres_flexible"]
    )


class ConnectionSetting(Schema):
    name: str
    value: str | None = Field(description="null unless showValues=true.")


class Connection(Schema):
    """As `az webapp connection show` answers, in Berth's shape."""

    name: str
    targetType: TargetType
    clientType: ClientType
    authType: Literal["secret"] = "secret"
    host: str
    database: str
    user: str
    configurations: list[ConnectionSetting]


class ConnectionProgress(Schema):
    """A connection being made in the background: the first one to a service
    builds its image first."""

    name: str
    targetType: TargetType
    clientType: ClientType
    status: Literal["queued", "running", "failed", "done", "stalled"]
    percent: int
    message: str
    error: str = Field("", description="Why it failed (status failed).")
    errorCode: str = Field("", description="The failure's code, as the API's errors carry.")
    log: list[str] = Field(description="The last progress lines.")


def _progress(state: pending.Pending) -> dict:
    return {
        "name": state.name,
        "targetType": state.target,
        "clientType": state.client_type,
        "status": "stalled" if state.stalled else state.status,
        "percent": state.percent,
        "message": state.message,
        "error": state.error,
        "errorCode": state.code,
        "log": state.log,
    }


class ConnectionDeleted(Schema):
    name: str
    targetType: TargetType
    settingsRemoved: list[str]
    databaseDeleted: bool
    warnings: list[str]


def _as_json(connection: ServiceConnection, *, show_values: bool) -> dict:
    values = connections.settings_for(connection)
    return {
        "name": connection.name,
        "targetType": connection.target,
        "clientType": connection.client_type,
        "authType": "secret",
        "host": connection.host,
        "database": connection.database,
        "user": connection.role,
        "configurations": [
            {"name": k, "value": v if show_values else None} for k, v in sorted(values.items())
        ],
    }


def _problem(e: connections.ConnectionProblem) -> ApiError:
    return ApiError(e.status, e.code, e.message)


CONNECTIONS = "/apps/{name}/connections"
CONNECTION = "/apps/{name}/connections/{connection}"


@router.get(
    CONNECTIONS,
    url_name="connections",
    operation_id="listConnections",
    summary="`az webapp connection list`",
    response={200: list[Connection], **APP_ERRORS},
)
def connection_list(
    request: HttpRequest,
    name: str,
    showValues: QueryBool = ShowValues,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "read_secrets" if showValues else "read")
    return [_as_json(c, show_values=showValues) for c in app.service_connections.all()]


@router.post(
    CONNECTIONS,
    operation_id="createConnection",
    summary="`az webapp connection create postgres-flexible|redis`: make the database "
    "(starting the service if needed) and set the app settings; values come back null. "
    "When the service's image must be built first, 202 at once with the progress, "
    "Location to poll it.",
    response={201: Connection, 202: ConnectionProgress, 409: Error, 503: Error, **CHANGE_ERRORS},
    openapi_extra=json_request(ConnectionCreate),
)
def connection_create(
    request: HttpRequest,
    response: HttpResponse,
    name: str,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "write")
    given = parse(ConnectionCreate, json_body(request))
    try:
        connection = connecting.connect(
            app,
            given.targetType,
            client_type=given.clientType or "",
            name=given.connectionName or "",
            actor=request.user,
        )
    except connections.ConnectionProblem as e:
        raise _problem(e) from None
    if isinstance(connection, pending.Pending):
        response["Location"] = reverse(
            "api:connection-progress", args=[app.name, connection.target]
        )
        return Status(202, _progress(connection))
    return Status(201, _as_json(connection, show_values=False))


@router.get(
    "/apps/{name}/connection-progress/{target}",
    url_name="connection-progress",
    operation_id="connectionProgress",
    summary="The progress of a connection to postgres-flexible or redis made in the "
    "background; 404 when none was.",
    response={200: ConnectionProgress, **APP_ERRORS},
)
def connection_progress(
    request: HttpRequest, name: str, target: TargetType, resourceGroup: str | None = ResourceGroup
):
    app = _get_app_for_user(request, name, "read")
    state = pending.read(app.name, target)
    if state is None:
        raise ApiError(
            404, "ResourceNotFound", f"No connection of {app.name} to {target} was queued."
        )
    return _progress(state)


@router.get(
    CONNECTION,
    operation_id="showConnection",
    summary="`az webapp connection show`",
    response={200: Connection, **APP_ERRORS},
)
def connection_show(
    request: HttpRequest,
    name: str,
    connection: str,
    showValues: QueryBool = ShowValues,
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "read_secrets" if showValues else "read")
    try:
        found = connections.get(app, connection)
    except connections.ConnectionProblem as e:
        raise _problem(e) from None
    return _as_json(found, show_values=showValues)


@router.delete(
    CONNECTION,
    operation_id="deleteConnection",
    summary="`az webapp connection delete`: the settings it set go; the database stays "
    "unless deleteDatabase=true.",
    response={200: ConnectionDeleted, **APP_ERRORS},
)
def connection_delete(
    request: HttpRequest,
    name: str,
    connection: str,
    deleteDatabase: QueryBool = Query(  # noqa: B008
        False, description="Also drop the database and its role (Redis: its data)."
    ),
    resourceGroup: str | None = ResourceGroup,
):
    app = _get_app_for_user(request, name, "write")
    try:
        deleted = connections.delete(
            app, connection, delete_database=deleteDatabase, actor=request.user
        )
    except connections.ConnectionProblem as e:
        raise _problem(e) from None
    return {
        "name": deleted.name,
        "targetType": deleted.target,
        "settingsRemoved": deleted.settings_removed,
        "databaseDeleted": deleted.database_deleted,
        "warnings": deleted.warnings,
    }


class ValidationCheck(Schema):
    name: str
    result: Literal["success", "failure"]
    detail: str


class ConnectionValidation(Schema):
    name: str
    ok: bool
    checks: list[ValidationCheck]


@router.post(
    CONNECTION + "/validate",
    operation_id="validateConnection",
    summary="`az webapp connection validate`: connect from the app's network with its "
    "settings, and say whether it works.",
    response={200: ConnectionValidation, **APP_ERRORS},
)
def connection_validate(
    request: HttpRequest, name: str, connection: str, resourceGroup: str | None = ResourceGroup
):
    app = _get_app_for_user(request, name, "read")
    try:
        result = connections.validate(app, connection)
    except connections.ConnectionProblem as e:
        raise _problem(e) from None
    return {"name": result.name, "ok": result.ok, "checks": result.checks}
