"""The API's OpenAPI 3.1 document, written as data.

Why by hand: the views are plain Django functions, and the schema libraries
that fit Django (drf-spectacular, django-ninja) each want their own view layer
to generate from. The document is small, it is served from here, the docs
page is rendered from it, and schemathesis fuzzes the API against it
(tests/test_api_schema_fuzz.py), which keeps it honest.

It also describes the endpoints apps.deployments serves under /api/ (zip
deploy and deployments, in Kudu's shapes), so one document covers the CLI.
"""

from __future__ import annotations

from functools import cache

from apps.engine.runtimes import PYTHON_VERSIONS

# What the views accept, said in the schema so clients (and the fuzzer) know.
LINUX_FX_VERSION = {
    "type": "string",
    "enum": [f"PYTHON|{v}" for v in PYTHON_VERSIONS],
    "description": "PYTHON|3.X; the API also takes az's python:3.X and a bare 3.X.",
    "examples": ["PYTHON|3.11"],
}
HEALTH_CHECK_PATH = {"type": "string", "pattern": r"^(/\S*)?$", "examples": ["/healthz"]}
SETTING_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.:-]*$", "maxLength": 1024}
RESOURCE_GROUP = {"type": "string", "pattern": r"^[-\w.()]{0,89}[-\w()]$", "default": "default"}

APP_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The web app's name (it becomes <name>.<apps domain>).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 60},
}
RESOURCE_GROUP_QUERY = {
    "name": "resourceGroup",
    "in": "query",
    "required": False,
    "description": "Only if the app is in this resource group (as az's -g).",
    "schema": {"type": "string"},
}
SHOW_VALUES = {
    "name": "showValues",
    "in": "query",
    "required": False,
    "description": "Values are null unless this is true: secrets are not shown by default.",
    "schema": {"type": "boolean", "default": False},
}
SETTING_NAMES = {
    "name": "settingNames",
    "in": "query",
    "required": True,
    "description": "The names to delete (repeat the parameter for several).",
    "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "style": "form",
    "explode": True,
}
DEPLOYMENT_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "A deployment id.",
    "schema": {"type": "integer"},
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: dict | None = None, status: str = "200") -> dict:
    response: dict = {"description": description}
    if schema is not None:
        response["content"] = json_content(schema)
    return {status: response}


def errors(*statuses: int, schema: str = "Error") -> dict:
    meanings = {
        400: "The request is malformed (not JSON, wrong body shape, bad query).",
        401: "No valid API token.",
        404: "No such app for this user.",
        405: "Method not allowed.",
        409: "Conflicts with the current state (name taken, operation failed).",
        415: "The body is not JSON.",
        422: "The values are not acceptable; the message says what to fix.",
        501: "Not available in this portal yet.",
        503: "The Docker engine cannot be reached.",
    }
    return {
        str(s): {"description": meanings[s], "content": json_content(ref(schema))} for s in statuses
    }


def body(schema: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": json_content(schema)}


APP_ERRORS = (401, 404)
CHANGE_ERRORS = (400, 401, 404, 415, 422)

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["ValidationError"]},
                    "message": {"type": "string", "description": "What to fix."},
                },
            }
        },
    },
    "TokenRequest": {
        "type": "object",
        "required": ["username", "password"],
        "additionalProperties": False,
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string", "format": "password"},
            "name": {"type": "string", "description": "A label for the token."},
        },
    },
    "Token": {
        "type": "object",
        "properties": {
            "token": {"type": "string", "description": "Shown this once; only a hash is kept."},
            "name": {"type": "string"},
            "user": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
        },
    },
    "Site": {
        "type": "object",
        "description": "As `az webapp show` prints it.",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "type": {"type": "string"},
            "kind": {"type": "string"},
            "location": {"type": "string"},
            "resourceGroup": {"type": "string"},
            "state": {"type": "string", "enum": ["Running", "Stopped"]},
            "enabled": {"type": "boolean"},
            "reserved": {"type": "boolean"},
            "defaultHostName": {"type": "string"},
            "hostNames": {"type": "array", "items": {"type": "string"}},
            "enabledHostNames": {"type": "array", "items": {"type": "string"}},
            "httpsOnly": {"type": "boolean"},
            "usageState": {"type": "string"},
            "availabilityState": {"type": "string"},
            "lastModifiedTimeUtc": {"type": "string", "format": "date-time"},
            "siteConfig": {"type": "object"},
            "tags": {"type": ["object", "null"]},
            "url": {"type": "string", "description": "Berth's own: the app's address."},
        },
    },
    "CreateSite": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "resourceGroup": RESOURCE_GROUP,
            "linuxFxVersion": LINUX_FX_VERSION,
            "runtime": {
                "type": "string",
                "description": "az's --runtime: PYTHON|3.11, PYTHON:3.11 or 3.11.",
            },
            "appCommandLine": {"type": "string"},
        },
    },
    "SiteConfig": {
        "type": "object",
        "description": "As `az webapp config show` prints it: flat camelCase.",
        "properties": {
            "linuxFxVersion": {"type": "string"},
            "appCommandLine": {"type": "string"},
            "alwaysOn": {"type": "boolean"},
            "healthCheckPath": {"type": ["string", "null"]},
            "numberOfWorkers": {"type": "integer"},
            "ftpsState": {"type": "string"},
            "scmType": {"type": "string"},
        },
    },
    "SiteConfigPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "What can change (then the app restarts to apply it).",
        "properties": {
            "linuxFxVersion": LINUX_FX_VERSION,
            "appCommandLine": {
                "type": "string",
                "description": "The startup command or startup file; empty: auto-detect.",
            },
            "healthCheckPath": HEALTH_CHECK_PATH,
        },
    },
    "AppSetting": {
        "type": "object",
        "required": ["name", "value"],
        "additionalProperties": False,
        "properties": {
            "name": SETTING_NAME,
            "value": {"type": "string"},
            "slotSetting": {"type": "boolean", "default": False},
        },
    },
    "AppSettingOut": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "slotSetting": {"type": "boolean"},
            "value": {"type": ["string", "null"]},
        },
    },
    "ConnectionString": {
        "type": "object",
        "required": ["name", "value"],
        "additionalProperties": False,
        "properties": {
            "name": SETTING_NAME,
            "value": {"type": "string"},
            "type": {
                "type": "string",
                "enum": ["MySql", "SQLServer", "SQLAzure", "PostgreSQL", "Custom"],
                "default": "Custom",
            },
            "slotSetting": {"type": "boolean", "default": False},
        },
    },
    "ConnectionStringOut": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "slotSetting": {"type": "boolean"},
            "type": {"type": "string"},
            "value": {"type": ["string", "null"]},
        },
    },
    "LifecycleResult": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "state": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Runtime": {
        "type": "object",
        "description": "As `az webapp list-runtimes --os linux` prints it, plus Berth's image status.",
        "properties": {
            "os": {"type": "string"},
            "runtime": {"type": "string"},
            "version": {"type": "string"},
            "config": {"type": "string", "examples": ["PYTHON|3.11"]},
            "support": {"type": "string"},
            "end_of_life": {"type": ["string", "null"]},
            "image": {"type": "string"},
            "status": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "Deployment": {
        "type": "object",
        "description": "A deployment, Kudu-style (served by apps.deployments).",
        "properties": {
            "id": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["queued", "building", "deploying", "success", "failed"],
            },
            "status_text": {"type": "string"},
            "complete": {"type": "boolean"},
            "active": {"type": "boolean"},
            "source": {"type": "string", "enum": ["zip", "git", "rollback"]},
            "author": {"type": "string"},
            "deployer": {"type": "string"},
            "message": {"type": "string"},
            "commit_id": {"type": "string"},
            "image": {"type": "string"},
            "received_time": {"type": ["string", "null"]},
            "start_time": {"type": ["string", "null"]},
            "end_time": {"type": ["string", "null"]},
            "url": {"type": "string"},
            "log_url": {"type": "string"},
            "site_url": {"type": "string"},
        },
    },
    "DeployError": {
        "type": "object",
        "description": "apps.deployments' errors: a message to act on.",
        "properties": {"error": {"type": "string"}},
    },
}


def _paths() -> dict:
    app = [APP_NAME, RESOURCE_GROUP_QUERY]
    return {
        "/api/token": {
            "post": {
                "operationId": "createToken",
                "summary": "Exchange a user name and password for an API token (`berth login`).",
                "security": [],
                "requestBody": body(ref("TokenRequest")),
                "responses": {
                    **ok("A new token.", ref("Token"), "201"),
                    **errors(400, 401, 415, 422),
                },
            },
            "delete": {
                "operationId": "revokeToken",
                "summary": "Revoke the token this request carries (`berth logout`).",
                "responses": {"204": {"description": "Revoked."}, **errors(401)},
            },
        },
        "/api/apps": {
            "get": {
                "operationId": "listApps",
                "summary": "`az webapp list`",
                "parameters": [RESOURCE_GROUP_QUERY],
                "responses": {
                    **ok("The apps.", {"type": "array", "items": ref("Site")}),
                    **errors(401),
                },
            }
        },
        "/api/apps/{name}": {
            "parameters": app,
            "get": {
                "operationId": "showApp",
                "summary": "`az webapp show`",
                "responses": {**ok("The app.", ref("Site")), **errors(*APP_ERRORS)},
            },
            "put": {
                "operationId": "createApp",
                "summary": "`az webapp create`: 201 when made, 200 when it already exists in this group.",
                "requestBody": body(ref("CreateSite"), required=False),
                "responses": {
                    **ok("Created.", ref("Site"), "201"),
                    **ok("It already existed.", ref("Site")),
                    **errors(400, 401, 409, 415, 422),
                },
            },
            "delete": {
                "operationId": "deleteApp",
                "summary": "`az webapp delete`: the app, its settings, deployments and containers.",
                "responses": {"204": {"description": "Deleted."}, **errors(*APP_ERRORS)},
            },
        },
        **{
            f"/api/apps/{{name}}/{verb}": {
                "parameters": app,
                "post": {
                    "operationId": f"{verb}App",
                    "summary": f"`az webapp {verb}`",
                    "responses": {
                        **ok("Done.", ref("LifecycleResult")),
                        **errors(401, 404, 409, 501, 503),
                    },
                },
            }
            for verb in ("start", "stop", "restart")
        },
        "/api/apps/{name}/config": {
            "parameters": app,
            "get": {
                "operationId": "showConfig",
                "summary": "`az webapp config show`",
                "responses": {**ok("The configuration.", ref("SiteConfig")), **errors(*APP_ERRORS)},
            },
            "patch": {
                "operationId": "setConfig",
                "summary": "`az webapp config set` (--linux-fx-version, --startup-file).",
                "requestBody": body(ref("SiteConfigPatch")),
                "responses": {
                    **ok("The configuration after the change.", ref("SiteConfig")),
                    **errors(*CHANGE_ERRORS),
                },
            },
        },
        "/api/apps/{name}/appsettings": _settings_paths(
            "AppSetting", "AppSettingOut", "appsettings", "appSettings", app
        ),
        "/api/apps/{name}/connectionstrings": _settings_paths(
            "ConnectionString",
            "ConnectionStringOut",
            "connection-string",
            "connectionStrings",
            app,
        ),
        "/api/runtimes": {
            "get": {
                "operationId": "listRuntimes",
                "summary": "`az webapp list-runtimes --os linux`",
                "parameters": [
                    {
                        "name": "os",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["linux", "windows"]},
                    }
                ],
                "responses": {
                    **ok("The runtimes.", {"type": "array", "items": ref("Runtime")}),
                    **errors(400, 401),
                },
            }
        },
        # Served by apps.deployments (Kudu's shapes); described here so one
        # document covers everything the CLI calls.
        "/api/apps/{name}/zipdeploy": {
            "parameters": [APP_NAME],
            "post": {
                "operationId": "zipDeploy",
                "summary": "Kudu's zip deploy (`az webapp deploy --type zip`, `az webapp up`).",
                "parameters": [
                    {
                        "name": "isAsync",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean"},
                        "description": "true: answer 202 at once with the deployment's URL in Location.",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/zip": {"schema": {"type": "string", "format": "binary"}},
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": {
                    **ok("Deployed (synchronous).", ref("Deployment")),
                    **ok("Accepted; poll the Location.", ref("Deployment"), "202"),
                    **errors(400, 401, 404, schema="DeployError"),
                },
            },
        },
        "/api/apps/{name}/deployments/": {
            "parameters": [APP_NAME],
            "get": {
                "operationId": "listDeployments",
                "summary": "Kudu's deployment list, newest first.",
                "responses": {
                    **ok("Deployments.", {"type": "array", "items": ref("Deployment")}),
                    **errors(*APP_ERRORS, schema="DeployError"),
                },
            },
        },
        "/api/apps/{name}/deployments/{id}": {
            "parameters": [APP_NAME, DEPLOYMENT_ID],
            "get": {
                "operationId": "showDeployment",
                "summary": "One deployment's status.",
                "responses": {
                    **ok("The deployment.", ref("Deployment")),
                    **errors(*APP_ERRORS, schema="DeployError"),
                },
            },
        },
        "/api/apps/{name}/deployments/{id}/log": {
            "parameters": [APP_NAME, DEPLOYMENT_ID],
            "get": {
                "operationId": "showDeploymentLog",
                "summary": "The build and start-up log, secrets masked "
                "(`berth webapp log deployment show` turns it into az's entries).",
                "responses": {
                    "200": {
                        "description": "The log.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **errors(*APP_ERRORS, schema="DeployError"),
                },
            },
        },
        "/api/apps/{name}/deployments/{id}/redeploy": {
            "parameters": [APP_NAME, DEPLOYMENT_ID],
            "post": {
                "operationId": "redeploy",
                "summary": "Redeploy an earlier release (rollback): its image, no rebuild.",
                "responses": {
                    **ok("Accepted; poll the Location.", ref("Deployment"), "202"),
                    **errors(400, 401, 404, schema="DeployError"),
                },
            },
        },
        # The log stream (`az webapp log tail`) and diagnostics ("Diagnose and
        # solve problems") are added by their owners: describe them here when
        # their views land (e.g. /api/apps/{name}/logstream, /api/apps/{name}/diagnostics).
        "/api/apps/{name}/logstream": {
            "parameters": [APP_NAME],
            "get": {
                "operationId": "tailLog",
                "summary": "`az webapp log tail`: the app's container output as it comes, "
                "one line each (`<time> <stdout|stderr> <text>`, markers on restart), "
                "after the last 100 lines (the archive's when no container runs); "
                "secrets masked as ***. Streams until the client closes it.",
                "responses": {
                    "200": {
                        "description": "Lines, streamed.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **errors(401, 404),
                },
            },
        },
    }


def _settings_paths(item: str, out: str, az: str, tag: str, app: list) -> dict:
    listing = {"type": "array", "items": ref(out)}
    return {
        "parameters": app,
        "get": {
            "operationId": f"list{tag[0].upper()}{tag[1:]}",
            "summary": f"`az webapp config {az} list`",
            "parameters": [SHOW_VALUES],
            "responses": {**ok("The list.", listing), **errors(400, 401, 404)},
        },
        "patch": {
            "operationId": f"set{tag[0].upper()}{tag[1:]}",
            "summary": f"`az webapp config {az} set`: add or update these; values come back null.",
            "requestBody": body({"type": "array", "items": ref(item)}),
            "responses": {**ok("The list, values null.", listing), **errors(*CHANGE_ERRORS)},
        },
        "put": {
            "operationId": f"replace{tag[0].upper()}{tag[1:]}",
            "summary": "Make the list exactly this (the portal's Advanced edit).",
            "requestBody": body({"type": "array", "items": ref(item)}),
            "responses": {**ok("The list, values null.", listing), **errors(*CHANGE_ERRORS)},
        },
        "delete": {
            "operationId": f"delete{tag[0].upper()}{tag[1:]}",
            "summary": f"`az webapp config {az} delete --setting-names ...`",
            "parameters": [SETTING_NAMES],
            "responses": {**ok("The list, values null.", listing), **errors(400, 401, 404)},
        },
    }


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Berth API",
            "version": "1",
            "description": (
                "Berth's REST API: what the `berth` CLI (az webapp's commands) calls. "
                "Authenticate with `Authorization: Bearer <token>` (POST /api/token, or "
                '`berth login`). Errors are `{"error": {"code", "message"}}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def operations() -> list[dict]:
    """(method, path, summary) rows for the docs page."""
    rows = []
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "public": op.get("security") == [],
                }
            )
    return rows
