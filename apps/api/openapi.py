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


def text(description: str, status: str = "200") -> dict:
    return {status: {"description": description, "content": {"text/plain": {"schema": string()}}}}


def errors(*statuses: int, schema: str = "Error") -> dict:
    meanings = {
        400: "The request is malformed (not JSON, wrong body shape, bad query).",
        401: "No valid API token.",
        403: "Your role on the app does not allow this (a Reader sees, Contributors and "
        "Owners change); the message names the role needed.",
        404: "No such app for this user.",
        405: "Method not allowed.",
        409: "Conflicts with the current state (name taken, operation failed).",
        415: "The body is not JSON.",
        422: "The values are not acceptable; the message says what to fix.",
        429: "Too many failed sign-ins for this user name from this address; the message "
        "and Retry-After say when to try again.",
        501: "Not available in this portal yet.",
        503: "The Docker engine cannot be reached.",
    }
    return {
        str(s): {"description": meanings[s], "content": json_content(ref(schema))} for s in statuses
    }


def body(schema: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": json_content(schema)}


APP_ERRORS = (401, 403, 404)
CHANGE_ERRORS = (400, 401, 403, 404, 415, 422)


def string(**extra) -> dict:
    return {"type": "string", **extra}


def nullable(kind: str = "string") -> dict:
    return {"type": [kind, "null"]}


def array_of(items: dict) -> dict:
    return {"type": "array", "items": items}


def strings(*names: str) -> dict:
    """Plain string properties, for the many fields that are just text."""
    return {name: string() for name in names}


def obj(
    properties: dict,
    *,
    required: list[str] | None = None,
    closed: bool = False,
    description: str | None = None,
) -> dict:
    """An object schema; `closed` rejects unknown fields (the request bodies)."""
    schema: dict = {"type": "object"}
    if description is not None:
        schema["description"] = description
    if required is not None:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    schema["properties"] = properties
    return schema


BOOLEAN = {"type": "boolean"}
DATE_TIME = string(format="date-time")
SLOT_SETTING_IN = {"type": "boolean", "default": False}

SCHEMA_ERROR_BODY = obj(
    {
        "code": string(examples=["ValidationError"]),
        "message": string(description="What to fix."),
    },
    required=["code", "message"],
)

SCHEMAS: dict[str, dict] = {
    "Error": obj({"error": SCHEMA_ERROR_BODY}, required=["error"]),
    "TokenRequest": obj(
        {
            "username": string(),
            "password": string(format="password"),
            "name": string(description="A label for the token."),
        },
        required=["username", "password"],
        closed=True,
    ),
    "Token": obj(
        {
            "token": string(description="Shown this once; only a hash is kept."),
            **strings("name", "user"),
            "created": DATE_TIME,
            "expires": {
                **DATE_TIME,
                "description": "BERTH_TOKEN_DAYS after created; a password change revokes "
                "it sooner. Then `berth login` again.",
            },
        }
    ),
    "Site": obj(
        {
            **strings("id", "name", "type", "kind", "location", "resourceGroup"),
            "state": string(enum=["Running", "Stopped"]),
            "enabled": BOOLEAN,
            "reserved": BOOLEAN,
            "defaultHostName": string(),
            "hostNames": array_of(string()),
            "enabledHostNames": array_of(string()),
            "httpsOnly": BOOLEAN,
            **strings("usageState", "availabilityState"),
            "lastModifiedTimeUtc": DATE_TIME,
            "siteConfig": {"type": "object"},
            "tags": nullable("object"),
            "url": string(description="Berth's own: the app's address."),
        },
        description="As `az webapp show` prints it.",
    ),
    "CreateSite": obj(
        {
            "resourceGroup": RESOURCE_GROUP,
            "linuxFxVersion": LINUX_FX_VERSION,
            "runtime": string(description="az's --runtime: PYTHON|3.11, PYTHON:3.11 or 3.11."),
            "appCommandLine": string(),
        },
        closed=True,
    ),
    "SiteConfig": obj(
        {
            **strings("linuxFxVersion", "appCommandLine"),
            "alwaysOn": BOOLEAN,
            "healthCheckPath": nullable(),
            "numberOfWorkers": {"type": "integer"},
            **strings("ftpsState", "scmType"),
        },
        description="As `az webapp config show` prints it: flat camelCase.",
    ),
    "SiteConfigPatch": obj(
        {
            "linuxFxVersion": LINUX_FX_VERSION,
            "appCommandLine": string(
                description="The startup command or startup file; empty: auto-detect."
            ),
            "healthCheckPath": HEALTH_CHECK_PATH,
        },
        closed=True,
        description="What can change (then the app restarts to apply it).",
    ),
    "AppSetting": obj(
        {"name": SETTING_NAME, "value": string(), "slotSetting": SLOT_SETTING_IN},
        required=["name", "value"],
        closed=True,
    ),
    "AppSettingOut": obj({"name": string(), "slotSetting": BOOLEAN, "value": nullable()}),
    "ConnectionString": obj(
        {
            "name": SETTING_NAME,
            "value": string(),
            "type": string(
                enum=["MySql", "SQLServer", "SQLAzure", "PostgreSQL", "Custom"], default="Custom"
            ),
            "slotSetting": SLOT_SETTING_IN,
        },
        required=["name", "value"],
        closed=True,
    ),
    "ConnectionStringOut": obj(
        {"name": string(), "slotSetting": BOOLEAN, "type": string(), "value": nullable()}
    ),
    "LifecycleResult": obj(
        {
            **strings("name", "state", "message"),
            "operation": ref("Operation"),
        },
        description="The app's state after it, what happened, and the operation's record.",
    ),
    "OperationStep": obj(
        {
            "name": string(enum=["start", "health", "switch", "retire"]),
            "title": string(examples=["Waiting for HTTP (health check)"]),
            "status": string(enum=["pending", "running", "done", "failed", "skipped"]),
            "detail": string(examples=["GET / answered 200 after 0.8 s"]),
            "started": nullable(),
            "finished": nullable(),
        }
    ),
    "Operation": obj(
        {
            "id": {"type": "integer"},
            "app": string(),
            "kind": string(enum=["restart", "start", "stop"]),
            "trigger": string(
                enum=["settings", "general", "restart", "start", "stop"],
                description="What asked for it: a Save of application settings or of "
                "general settings, or the Restart, Start or Stop command.",
            ),
            "reason": string(),
            "actor": nullable(),
            "status": string(enum=["queued", "running", "succeeded", "failed"]),
            "message": string(description="The outcome, or why it failed."),
            "failureCode": {
                **nullable(),
                "description": "Why it failed, for machines: start_timeout, http_5xx, "
                "exited, oom, proxy_refused, lock_timeout, worker_lost, ...",
            },
            "failureEvidence": {
                **nullable("object"),
                "description": "What was seen: exit code, status, limit, the app's last "
                "log lines (secret values masked), the proxy's reason.",
            },
            "serving": {
                **nullable(),
                "description": "The container serving the app when it ended: after a "
                "failed restart, the previous one, still serving.",
            },
            "appLog": {
                **nullable(),
                "description": "When the new container failed: the app's last log lines "
                "(secret values masked).",
            },
            "created": DATE_TIME,
            "started": nullable(),
            "finished": nullable(),
            "steps": array_of(ref("OperationStep")),
        },
        description="A restart, start or stop of an app, step by step: starting the new "
        "container, waiting for HTTP, switching traffic, stopping the old container "
        "(a stop: switching traffic off, stopping the container). Berth's own.",
    ),
    "OperationFailed": obj(
        {"error": SCHEMA_ERROR_BODY, "operation": ref("Operation")},
        required=["error"],
        description="An Error, with the failed operation's record.",
    ),
    "Runtime": obj(
        {
            **strings("os", "runtime", "version"),
            "config": string(examples=["PYTHON|3.11"]),
            "support": string(),
            "end_of_life": nullable(),
            **strings("image", "status", "detail"),
        },
        description="As `az webapp list-runtimes --os linux` prints it, plus Berth's image status.",
    ),
    "Deployment": obj(
        {
            "id": {"type": "integer"},
            "status": string(enum=["queued", "building", "deploying", "success", "failed"]),
            "status_text": string(),
            "failure_code": {
                **nullable(),
                "description": "Why it failed, for machines: build_failed, start_timeout, "
                "http_5xx, oom, proxy_refused, engine_unreachable, lock_timeout, ...",
            },
            "failure_evidence": {
                **nullable("object"),
                "description": "What was seen: exit code, status, limit, the last log "
                "lines (secret values masked), the proxy's reason.",
            },
            "complete": BOOLEAN,
            "active": BOOLEAN,
            "source": string(enum=["zip", "git", "rollback"]),
            **strings("author", "deployer", "message", "commit_id", "image"),
            "deployed_by": string(
                description="Who deployed, as they authenticated: a user, or "
                "'<publishing user> (deployment credentials)'. `author` is only claimed."
            ),
            **{t: nullable() for t in ("received_time", "start_time", "end_time")},
            **strings("url", "log_url", "site_url"),
            "precheck": array_of(ref("PrecheckFinding")),
        },
        description="A deployment, Kudu-style (served by apps.deployments).",
    ),
    "PrecheckFinding": obj(
        {
            "level": string(enum=["warning", "info"]),
            "code": string(
                examples=[
                    "committed_venv",
                    "missing_requirements",
                    "misnamed_requirements",
                    "secret_key_debug",
                    "startup_rule",
                ]
            ),
            "message": string(description="What was found and what to do; never a secret value."),
            "path": string(description="The file or folder it is about (warnings)."),
            "line": {"type": "integer", "description": "The line in `path`, 0 if none."},
            "rule": string(
                enum=["django", "flask", "default", "custom", ""],
                description="startup_rule: the start-up rule that will match.",
            ),
            "command": string(description="startup_rule: the exact command it will run."),
        },
        required=["level", "code", "message"],
        description="One finding of the pre-deployment check made when the code was "
        "received, before the build. Warnings never stop a deployment; they are also "
        "the first lines of the build log.",
    ),
    "DeployError": obj(
        {"error": string()}, description="apps.deployments' errors: a message to act on."
    ),
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
                    **errors(400, 401, 415, 422, 429),
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
                    **ok("The apps.", array_of(ref("Site"))),
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
                "description": "403 AuthorizationFailed: creating an app in an existing resource "
                "group needs Contributor or Owner on the group; in a new group the creator "
                "becomes its Owner; anyone may create apps in `default`. Group names are "
                "stored in lowercase.",
                "requestBody": body(ref("CreateSite"), required=False),
                "responses": {
                    **ok("Created.", ref("Site"), "201"),
                    **ok("It already existed.", ref("Site")),
                    **errors(400, 401, 403, 409, 415, 422),
                },
            },
            "patch": {
                "operationId": "updateApp",
                "summary": "`az webapp update --https-only true|false`: the site's own "
                "properties. HTTPS Only is applied by the front proxy at once (no restart).",
                "requestBody": body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"httpsOnly": BOOLEAN},
                    }
                ),
                "responses": {**ok("The app.", ref("Site")), **errors(*APP_ERRORS, 415, 422, 503)},
            },
            "delete": {
                "operationId": "deleteApp",
                "summary": "`az webapp delete`: the app, its settings, deployments, containers, "
                "release images, artifacts, Git repository and logs.",
                "description": "503 DeleteIncomplete: something could not be removed (the engine "
                "is down, a deployment is running); the app is kept, stopped, and deleting it "
                "again finishes the job.",
                "responses": {"204": {"description": "Deleted."}, **errors(*APP_ERRORS, 503)},
            },
        },
        **{
            f"/api/apps/{{name}}/{verb}": {
                "parameters": app,
                "post": {
                    "operationId": f"{verb}App",
                    "summary": f"`az webapp {verb}`",
                    "description": "Answers when it is over; its steps are recorded as they "
                    "happen (GET /api/apps/{name}/operations/{id}).",
                    "responses": {
                        **ok("Done.", ref("LifecycleResult")),
                        **errors(401, 404, 501, 503),
                        "409": {
                            "description": "It failed (or the app stayed busy): the reason, "
                            "and the operation saying which container still serves.",
                            "content": json_content(ref("OperationFailed")),
                        },
                    },
                },
            }
            for verb in ("start", "stop", "restart")
        },
        "/api/apps/{name}/operations": {
            "parameters": app,
            "get": {
                "operationId": "listOperations",
                "summary": "The app's latest restarts, starts and stops (20), newest first.",
                "responses": {
                    **ok("The operations.", array_of(ref("Operation"))),
                    **errors(*APP_ERRORS),
                },
            },
        },
        "/api/apps/{name}/operations/{id}": {
            "parameters": [
                *app,
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "An operation id (from a start/stop/restart answer).",
                    "schema": {"type": "integer"},
                },
            ],
            "get": {
                "operationId": "showOperation",
                "summary": "One restart, start or stop and its steps; poll it while it runs.",
                "responses": {**ok("The operation.", ref("Operation")), **errors(*APP_ERRORS)},
            },
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
                    **ok("The runtimes.", array_of(ref("Runtime"))),
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
                "description": "The zip is checked before the build; the answer's `precheck` "
                "lists what the check found (committed virtual environment, missing "
                "requirements.txt, hard-coded SECRET_KEY with DEBUG on) and the start-up "
                "rule that will match with its command. Warnings never stop the deployment.",
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
                        "application/zip": {"schema": string(format="binary")},
                        "application/octet-stream": {"schema": string(format="binary")},
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
                    **ok("Deployments.", array_of(ref("Deployment"))),
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
                    **text("The log."),
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
                    **text("Lines, streamed."),
                    **errors(401, 404),
                },
            },
        },
    }


def _settings_paths(item: str, out: str, az: str, tag: str, app: list) -> dict:
    listing = array_of(ref(out))
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
            "requestBody": body(array_of(ref(item))),
            "responses": {**ok("The list, values null.", listing), **errors(*CHANGE_ERRORS)},
        },
        "put": {
            "operationId": f"replace{tag[0].upper()}{tag[1:]}",
            "summary": "Make the list exactly this (the portal's Advanced edit).",
            "requestBody": body(array_of(ref(item))),
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
