"""The REST API under /api/: thin function views over the same services the
pages use (apps.webapps.services, apps.deployments.services).

Shapes follow `az webapp` (see apps.api.serializers); the OpenAPI document
describing all of it is apps.api.openapi.
"""

from __future__ import annotations

import logging

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from apps.access.lockout import lockout_response
from apps.api import openapi, serializers
from apps.api.auth import bearer_token
from apps.api.http import (
    ApiError,
    api_view,
    get_bool,
    get_str,
    json_body,
    json_object,
    query_bool,
    reject_unknown,
)
from apps.api.models import ApiToken, hash_token
from apps.deployments import teardown
from apps.engine import runtimes as runtime_catalog
from apps.engine.errors import EngineError
from apps.webapps import services
from apps.webapps.groups import DEFAULT_GROUP, RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE, canonical
from apps.webapps.models import DEFAULT_LINUX_FX_VERSION, ConnectionString, Operation, WebApp

logger = logging.getLogger(__name__)


def _get_app_for_user(request: HttpRequest, name: str, action: str = "read") -> WebApp:
    """The app, if this user may see it and their role allows `action`
    (apps.access); a resourceGroup query narrows it as -g does."""
    from apps.access.services import can, refusal

    app = WebApp.objects.for_user(request.user).filter(name=name).first()
    group = request.GET.get("resourceGroup")
    if app is None or (group and canonical(group) != app.resource_group):
        where = f" in resource group {group!r}" if group else ""
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The web app {name!r} was not found{where}: check the name with `berth webapp list`.",
        )
    if action != "read" and not can(request.user, app, action):
        raise ApiError(403, "AuthorizationFailed", refusal(request.user, app, action))
    return app


def _action(request: HttpRequest) -> str:
    """GET reads (showValues=true reads secrets); anything else writes."""
    if request.method == "GET":
        return "read_secrets" if query_bool(request, "showValues") else "read"
    return "write"


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


@api_view(["POST", "DELETE"], auth=False)
def token(request: HttpRequest) -> HttpResponse | dict:
    """POST: username + password -> a new token (shown this once).
    DELETE: revoke the token the request carries (`berth logout`)."""
    if request.method == "DELETE":
        deleted, _ = ApiToken.objects.filter(token_hash=hash_token(bearer_token(request))).delete()
        if not deleted:
            raise ApiError(401, "Unauthorized", "Send the token to revoke as a Bearer token.")
        return HttpResponse(status=204)
    body = json_object(request)
    reject_unknown(body, {"username", "password", "name"})
    username = get_str(body, "username", required=True)
    password = get_str(body, "password", required=True)
    name = get_str(body, "name") or "berth CLI"
    # Throttled (apps.access.lockout): axes' backend refuses a user name and
    # address with too many failures before the password is checked.
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        return lockout_response(request, credentials={"username": username})
    if user is None or not user.is_active:
        raise ApiError(
            401, "InvalidCredentials", "The user name or password is wrong: check both and retry."
        )
    # A sign-in like the login form's: it resets the failure count (and
    # records last_login).
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    row, secret = ApiToken.objects.create_for(user, name)
    return JsonResponse(
        {
            "token": secret,
            "name": row.name,
            "user": user.get_username(),
            "created": row.created.isoformat(),
            "expires": row.expires.isoformat(),
        },
        status=201,
    )


# --- Apps ---------------------------------------------------------------------


@api_view(["GET"])
def apps_list(request: HttpRequest) -> list[dict]:
    apps = WebApp.objects.for_user(request.user)
    if group := request.GET.get("resourceGroup"):
        apps = apps.filter(resource_group=group)
    return [serializers.site(app) for app in apps]


@api_view(["GET", "PUT", "PATCH", "DELETE"])
def app_detail(request: HttpRequest, name: str) -> HttpResponse | dict:
    if request.method == "PUT":
        return _create_app(request, name)
    action = {"DELETE": "manage_access", "PATCH": "write"}.get(request.method, "read")
    app = _get_app_for_user(request, name, action)
    if request.method == "PATCH":
        # `az webapp update --https-only true`: the site's own properties.
        body = json_object(request)
        reject_unknown(body, {"httpsOnly"})
        if "httpsOnly" in body:
            https_only = get_bool(body, "httpsOnly")
            try:
                services.update_general_settings(app, https_only=https_only, actor=request.user)
            except ValidationError as e:
                raise ApiError(503, "ProxyRefused", " ".join(e.messages)) from e
            app.refresh_from_db()
        return serializers.site(app)
    if request.method == "DELETE":
        try:
            teardown.delete_app(app, actor=request.user)
        except teardown.DeleteFailed as e:
            # Nothing half-done that a retry cannot finish: the app is kept, stopped.
            raise ApiError(503, "DeleteIncomplete", e.message) from e
        return HttpResponse(status=204)
    return serializers.site(app)


def _create_app(request: HttpRequest, name: str) -> JsonResponse:
    """`az webapp create`: idempotent for the same app in the same group."""
    body = json_object(request)
    reject_unknown(body, {"resourceGroup", "linuxFxVersion", "runtime", "appCommandLine"})
    group = get_str(body, "resourceGroup") or request.GET.get("resourceGroup") or DEFAULT_GROUP
    if not RESOURCE_GROUP_RE.match(group):
        raise ApiError(422, "InvalidResourceGroup", RESOURCE_GROUP_RULE)
    group = canonical(group)
    runtime = get_str(body, "linuxFxVersion") or get_str(body, "runtime")
    linux_fx_version = normalize_linux_fx_version(runtime) if runtime else DEFAULT_LINUX_FX_VERSION
    command = get_str(body, "appCommandLine") or ""

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
        return JsonResponse(serializers.site(existing), status=200)
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
    return JsonResponse(serializers.site(app), status=201)


# --- Start, stop, restart -------------------------------------------------------


def _lifecycle(name: str):
    from apps.deployments import services as deploy_services

    function = getattr(deploy_services, name, None)
    if function is None:
        raise ApiError(
            501,
            "NotImplemented",
            f"This portal cannot {name.removesuffix('_app')} apps yet: update Berth.",
        )
    return function


def _outcome(app: WebApp, outcome) -> HttpResponse | dict:
    """The answer to start/stop/restart: the app's state, what happened, and
    the operation with its steps (GET .../operations/<id> reads it again). A
    failure is a 409 with the reason, and the operation saying which
    container still serves."""
    op = getattr(outcome, "operation", None)
    if outcome is not None and not outcome.ok:
        body: dict = {"error": {"code": "OperationFailed", "message": outcome.message}}
        if op is not None:
            body["operation"] = serializers.operation(op)
        return JsonResponse(body, status=409)
    app.refresh_from_db()
    answer = {
        "name": app.name,
        "state": app.state,
        "message": getattr(outcome, "message", "") or "",
    }
    if op is not None:
        answer["operation"] = serializers.operation(op)
    return answer


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


@api_view(["POST"])
def app_start(request: HttpRequest, name: str) -> HttpResponse | dict:
    app = _get_app_for_user(request, name, "write")
    start = _lifecycle("start_app")
    return _outcome(app, _run(app, lambda: start(app, actor=request.user)))


@api_view(["POST"])
def app_stop(request: HttpRequest, name: str) -> HttpResponse | dict:
    app = _get_app_for_user(request, name, "write")
    stop = _lifecycle("stop_app")
    return _outcome(app, _run(app, lambda: stop(app, actor=request.user)))


@api_view(["POST"])
def app_restart(request: HttpRequest, name: str) -> HttpResponse | dict:
    app = _get_app_for_user(request, name, "write")
    restart = _lifecycle("restart_app")
    return _outcome(
        app,
        _run(app, lambda: restart(app, reason="restart requested (API)", actor=request.user)),
    )


OPERATIONS_LISTED = 20


@api_view(["GET"])
def app_operations(request: HttpRequest, name: str) -> list[dict]:
    """The app's latest restarts, starts and stops, newest first."""
    app = _get_app_for_user(request, name)
    ops = Operation.objects.filter(app=app).select_related("app")[:OPERATIONS_LISTED]
    return [serializers.operation(op) for op in ops]


@api_view(["GET"])
def app_operation(request: HttpRequest, name: str, pk: int) -> dict:
    app = _get_app_for_user(request, name)
    op = Operation.objects.filter(app=app, pk=pk).first() if pk < 2**63 else None
    if op is None:
        raise ApiError(
            404,
            "NotFound",
            f"{app.name} has no operation {pk}: list them with GET /api/apps/{app.name}/operations.",
        )
    return serializers.operation(op)


# --- Configuration ----------------------------------------------------------------

CONFIG_FIELDS = {
    "linuxFxVersion": "linux_fx_version",
    "appCommandLine": "app_command_line",
    "healthCheckPath": "health_check_path",
}


@api_view(["GET", "PATCH"])
def app_config(request: HttpRequest, name: str) -> dict:
    app = _get_app_for_user(request, name, _action(request))
    if request.method == "PATCH":
        body = json_object(request)
        reject_unknown(body, set(CONFIG_FIELDS))
        changes = {CONFIG_FIELDS[key]: get_str(body, key) for key in CONFIG_FIELDS}
        if changes["linux_fx_version"] is not None:
            changes["linux_fx_version"] = normalize_linux_fx_version(changes["linux_fx_version"])
        if changes["health_check_path"] is not None:
            changes["health_check_path"] = _check_health_check_path(changes["health_check_path"])
        if changes["app_command_line"] is not None:
            changes["app_command_line"] = changes["app_command_line"].strip()
        services.update_general_settings(app, **changes, actor=request.user)
        app.refresh_from_db()
    return serializers.site_config(app)


# --- App settings and connection strings --------------------------------------------


def _items(request: HttpRequest, allowed: set[str]) -> list[dict]:
    body = json_body(request)
    if not isinstance(body, list):
        raise ApiError(
            400,
            "InvalidBody",
            'The body must be a JSON list of {"name": ..., "value": ...} objects.',
        )
    for item in body:
        if not isinstance(item, dict):
            raise ApiError(400, "InvalidBody", 'Each entry must be {"name": ..., "value": ...}.')
        reject_unknown(item, allowed)
        get_str(item, "name", required=True)
        get_str(item, "value", required=True)
    return body


def _names(request: HttpRequest) -> list[str]:
    names = [n for n in request.GET.getlist("settingNames") if n]
    if not names:
        raise ApiError(400, "MissingQuery", "Name what to delete: ?settingNames=NAME (repeatable).")
    return names


@api_view(["GET", "PUT", "PATCH", "DELETE"])
def app_settings(request: HttpRequest, name: str) -> list[dict]:
    """GET lists (values only with showValues=true); PATCH adds or updates;
    PUT replaces all; DELETE removes ?settingNames=. Changes answer the list
    with values null, as az does."""
    app = _get_app_for_user(request, name, _action(request))
    if request.method == "GET":
        return serializers.app_settings(app, show_values=query_bool(request, "showValues"))
    if request.method == "DELETE":
        services.delete_app_settings(app, _names(request), actor=request.user)
    else:
        items = [
            services.SettingInput(
                name=item["name"], value=item["value"], slot_setting=get_bool(item, "slotSetting")
            )
            for item in _items(request, {"name", "value", "slotSetting"})
        ]
        if request.method == "PUT":
            services.replace_app_settings(app, items, actor=request.user)
        else:
            services.set_app_settings(app, items, actor=request.user)
    return serializers.app_settings(app, show_values=False)


@api_view(["GET", "PUT", "PATCH", "DELETE"])
def connection_strings(request: HttpRequest, name: str) -> list[dict]:
    app = _get_app_for_user(request, name, _action(request))
    if request.method == "GET":
        return serializers.connection_strings(app, show_values=query_bool(request, "showValues"))
    if request.method == "DELETE":
        services.delete_connection_strings(app, _names(request), actor=request.user)
    else:
        items = []
        for item in _items(request, {"name", "value", "type", "slotSetting"}):
            items.append(
                services.ConnectionStringInput(
                    name=item["name"],
                    value=item["value"],
                    type=_connection_string_type(get_str(item, "type") or "Custom"),
                    slot_setting=get_bool(item, "slotSetting"),
                )
            )
        if request.method == "PUT":
            services.replace_connection_strings(app, items, actor=request.user)
        else:
            services.set_connection_strings(app, items, actor=request.user)
    return serializers.connection_strings(app, show_values=False)


def _connection_string_type(value: str) -> str:
    """az's --connection-string-type is case-insensitive."""
    for choice in ConnectionString.Type:
        if choice.value.lower() == value.lower():
            return choice.value
    raise ApiError(
        422,
        "InvalidProperty",
        f"{value!r} is not a connection string type: use one of "
        f"{', '.join(t.value for t in ConnectionString.Type)}.",
    )


# --- Runtimes -------------------------------------------------------------------------


@api_view(["GET"])
def runtimes(request: HttpRequest) -> list[dict]:
    """`az webapp list-runtimes --os linux`: Berth runs Linux apps only."""
    os_type = request.GET.get("os", "linux").lower()
    if os_type not in ("linux", "windows"):
        raise ApiError(400, "InvalidQuery", "os must be linux or windows.")
    if os_type == "windows":
        return []
    return [serializers.runtime(rt) for rt in runtime_catalog.catalog()]


# --- The schema and its page ------------------------------------------------------------


@api_view(["GET"], auth=False)
def openapi_json(request: HttpRequest) -> dict:
    return openapi.document()


@api_view(["GET"], auth=False)
def docs(request: HttpRequest) -> HttpResponse:
    return render(request, "api/docs.html", {"operations": openapi.operations()})
