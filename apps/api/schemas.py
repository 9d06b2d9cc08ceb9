"""The API's request and response shapes, as typed classes: the OpenAPI
document (/api/openapi.json) is generated from them and from the operations
in apps.api.views.

Responses keep the keys and order apps.api.serializers writes (az's), so a
response validated through these classes is the same JSON as before. Times
stay the strings the serializers wrote (declared `format: date-time`):
parsing them into datetimes would re-render them differently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictStr, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from apps.engine.runtimes import PYTHON_VERSIONS

DateTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# Request fields: strings are strings (no coercion from numbers), as before.
Text = StrictStr


T = TypeVar("T")
# A property left out when there is nothing to say (never null): optional in
# the schema, not nullable. Answers using it are rendered with exclude_unset.
Absent = T | SkipJsonSchema[None]


def _bare_ref(schema: dict[str, Any]) -> None:
    """An Absent object property as a plain $ref (pydantic wraps it in allOf
    to hang a title beside it)."""
    schema.pop("title", None)
    if len(schema.get("allOf", ())) == 1:
        schema.update(schema.pop("allOf")[0])


def absent(description: str | None = None) -> Any:
    return Field(None, description=description, json_schema_extra=_bare_ref)


class Closed(Schema):
    """A request body: unknown properties are refused (422 UnknownProperty)."""

    model_config = ConfigDict(extra="forbid")


# --- Errors ----------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str = Field(examples=["ValidationError"])
    message: str = Field(description="What to fix.")


class Error(Schema):
    """Every error of apps.api: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


class DeployError(Schema):
    """The errors of zip deploy, deployments and diagnostics: a message to act on."""

    error: str


# --- Tokens ---------------------------------------------------------------------------


class TokenRequest(Closed):
    username: Text
    password: Text = Field(json_schema_extra={"format": "password"})
    name: Text | None = Field(None, description="A label for the token.")


class Token(Schema):
    token: str = Field(description="Shown this once; only a hash is kept.")
    name: str
    user: str
    created: DateTime
    expires: DateTime = Field(
        description="BERTH_TOKEN_DAYS after created; a password change revokes it "
        "sooner. Then `berth login` again."
    )


# --- Apps ----------------------------------------------------------------------------

LINUX_FX_VERSION_HELP = (
    f"{' | '.join(f'PYTHON|{v}' for v in PYTHON_VERSIONS)}; "
    "the API also takes az's python:3.X and a bare 3.X."
)


class SiteConfigSummary(Schema):
    linuxFxVersion: str
    appCommandLine: str
    alwaysOn: bool
    healthCheckPath: str | None


class Site(Schema):
    """As `az webapp show` prints it."""

    id: str
    name: str
    type: str
    kind: str
    location: str
    resourceGroup: str
    state: Literal["Running", "Stopped"]
    enabled: bool
    reserved: bool
    defaultHostName: str
    hostNames: list[str]
    enabledHostNames: list[str]
    httpsOnly: bool
    usageState: str
    availabilityState: str
    lastModifiedTimeUtc: DateTime
    siteConfig: SiteConfigSummary
    tags: dict[str, str] | None
    url: str = Field(description="Berth's own: the app's address through the front proxy.")


class CreateSite(Closed):
    resourceGroup: Text | None = Field(
        None,
        description="Default `default`; stored in lowercase.",
        json_schema_extra={"pattern": r"^[-\w.()]{0,89}[-\w()]$"},
    )
    linuxFxVersion: Text | None = Field(
        None, description=LINUX_FX_VERSION_HELP, examples=["PYTHON|3.11"]
    )
    runtime: Text | None = Field(
        None, description="az's --runtime: PYTHON|3.11, PYTHON:3.11 or 3.11."
    )
    appCommandLine: Text | None = None


class SitePatch(Closed):
    httpsOnly: StrictBool | None = Field(
        None, description="Applied by the front proxy at once (no restart)."
    )


class SiteConfig(Schema):
    """As `az webapp config show` prints it: flat camelCase."""

    id: str
    name: str
    type: str
    location: str
    resourceGroup: str
    linuxFxVersion: str
    windowsFxVersion: None
    pythonVersion: str
    appCommandLine: str
    alwaysOn: bool
    healthCheckPath: str | None
    numberOfWorkers: int
    http20Enabled: bool
    httpLoggingEnabled: bool
    detailedErrorLoggingEnabled: bool
    ftpsState: str
    minTlsVersion: str
    use32BitWorkerProcess: bool
    webSocketsEnabled: bool
    scmType: str
    appSettings: None
    connectionStrings: None


class SiteConfigPatch(Closed):
    """What can change (then the app restarts to apply it)."""

    linuxFxVersion: Text | None = Field(
        None, description=LINUX_FX_VERSION_HELP, examples=["PYTHON|3.11"]
    )
    appCommandLine: Text | None = Field(
        None, description="The startup command or startup file; empty: auto-detect."
    )
    healthCheckPath: Text | None = Field(
        None, json_schema_extra={"pattern": r"^(/\S*)?$"}, examples=["/healthz"]
    )


# --- Deployment credentials and local Git ----------------------------------------------


class PublishingCredentials(Schema):
    """As `az webapp deployment list-publishing-credentials` prints it. The
    password (and the scmUri that carries it) only with showValues=true."""

    id: str
    name: str
    type: str
    kind: None
    location: str
    resourceGroup: str
    publishingUserName: str
    publishingPassword: str | None = Field(description="null unless showValues=true.")
    publishingPasswordHash: None
    publishingPasswordHashSalt: None
    scmUri: str = Field(
        description="The portal's address with the user name, and the password only "
        "with showValues=true."
    )


class LocalGit(Schema):
    """As `az webapp deployment source config-local-git` prints it."""

    url: str = Field(
        description="The app's Git remote, with the publishing user name: push the "
        "deployment branch (main or master) there with the publishing password."
    )


# --- App settings and connection strings ----------------------------------------------

SETTING_NAME = {"pattern": r"^[A-Za-z_][A-Za-z0-9_.:-]*$", "maxLength": 1024}


class AppSetting(Closed):
    name: Text = Field(json_schema_extra=SETTING_NAME)
    value: Text
    slotSetting: StrictBool | None = False


class AppSettingOut(Schema):
    name: str
    slotSetting: bool
    value: str | None = Field(description="null unless showValues=true.")


ConnectionStringType = Literal["MySql", "SQLServer", "SQLAzure", "PostgreSQL", "Custom"]


class ConnectionString(Closed):
    name: Text = Field(json_schema_extra=SETTING_NAME)
    value: Text
    type: Text | None = Field(
        "Custom",
        description="MySql, SQLServer, SQLAzure, PostgreSQL or Custom (any case).",
    )
    slotSetting: StrictBool | None = False


class ConnectionStringOut(Schema):
    name: str
    slotSetting: bool
    type: ConnectionStringType
    value: str | None = Field(description="null unless showValues=true.")


# --- Operations (restart, start, stop) ------------------------------------------------


class OperationStep(Schema):
    name: str = Field(examples=["start", "health", "switch", "retire"])
    title: str = Field(examples=["Waiting for HTTP (health check)"])
    status: Literal["pending", "running", "done", "failed", "skipped"]
    detail: str = Field(examples=["GET / answered 200 after 0.8 s"])
    started: str | None
    finished: str | None


class Operation(Schema):
    """A restart, start or stop of an app, step by step: starting the new
    container, waiting for HTTP, switching traffic, stopping the old container
    (a stop: switching traffic off, stopping the container). Berth's own."""

    id: int
    app: str
    kind: Literal["restart", "start", "stop"]
    trigger: str = Field(
        description="What asked for it: a Save of application settings or of general "
        "settings, or the Restart, Start or Stop command.",
        examples=["settings", "general", "restart", "start", "stop"],
    )
    reason: str
    actor: str | None
    status: Literal["queued", "running", "succeeded", "failed"]
    message: str = Field(description="The outcome, or why it failed.")
    failureCode: str | None = Field(
        description="Why it failed, for machines (apps.core.failures): start_timeout, "
        "http_5xx, exited, oom, proxy_refused, lock_timeout, worker_lost, ...; on a Stop "
        "Berth made itself, why it did: storage_full."
    )
    failureEvidence: dict[str, Any] | None = Field(
        description="What was seen: exit code, status, limit, the app's last log lines "
        "(secret values masked), the proxy's reason."
    )
    serving: str | None = Field(
        description="The container serving the app when it ended: after a failed "
        "restart, the previous one, still serving."
    )
    appLog: str | None = Field(
        description="When the new container failed: the app's last log lines "
        "(secret values masked)."
    )
    created: DateTime | None
    started: DateTime | None
    finished: DateTime | None
    steps: list[OperationStep]


class LifecycleResult(Schema):
    """The app's state after it, what happened, and the operation's record."""

    name: str
    state: str
    message: str
    operation: Absent[Operation] = absent()


class OperationFailed(Schema):
    """An Error, with the failed operation's record."""

    error: ErrorDetail
    operation: Absent[Operation] = absent()


# --- Runtimes -----------------------------------------------------------------------


class Runtime(Schema):
    """As `az webapp list-runtimes --os linux` prints it, plus Berth's image status."""

    os: str
    runtime: str
    version: str
    config: str = Field(examples=["PYTHON|3.11"])
    support: str
    end_of_life: str | None
    image: str
    status: str
    detail: str


# --- Deployments (apps.deployments, Kudu's shapes) --------------------------------------


class PrecheckFinding(Schema):
    """One finding of the pre-deployment check made when the code was received,
    before the build. Warnings never stop a deployment; they are also the first
    lines of the build log."""

    level: Literal["warning", "info"]
    code: str = Field(
        examples=["committed_venv", "missing_requirements", "secret_key_debug", "startup_rule"]
    )
    message: str = Field(description="What was found and what to do; never a secret value.")
    path: str | None = Field(None, description="The file or folder it is about (warnings).")
    line: int | None = Field(None, description="The line in `path`, 0 if none.")
    rule: str | None = Field(None, description="startup_rule: the start-up rule that will match.")
    command: str | None = Field(None, description="startup_rule: the exact command it will run.")


class Deployment(Schema):
    """A deployment, Kudu-style."""

    id: int
    status: Literal["queued", "building", "deploying", "success", "failed"]
    status_text: str
    failure_code: str | None = Field(
        description="Why it failed, for machines (apps.core.failures): build_failed, "
        "start_timeout, http_5xx, oom, proxy_refused, engine_unreachable, lock_timeout, ..."
    )
    failure_evidence: dict[str, Any] | None = Field(
        description="What was seen: exit code, status, limit, the last log lines "
        "(secret values masked), the proxy's reason."
    )
    complete: bool
    active: bool
    source: Literal["zip", "git", "rollback"]
    author: str
    deployer: str
    deployed_by: str = Field(
        description="Who deployed, as they authenticated: a user, or '<publishing user> "
        "(deployment credentials)'. `author` is only claimed."
    )
    message: str
    commit_id: str
    image: str
    received_time: DateTime | None
    start_time: DateTime | None
    end_time: DateTime | None
    url: str
    log_url: str
    site_url: str
    precheck: list[PrecheckFinding]


class Redeployment(Deployment):
    restoreSettings: bool = Field(description="Whether the release's settings were put back too.")


class RedeployRequest(Schema):
    restoreSettings: bool = Field(
        False, description="Also put back the settings the release ran with (rollback)."
    )


# --- Diagnostics -----------------------------------------------------------------------


class DiagnosticsSummary(Schema):
    critical: int
    warning: int


class DetectorResult(Schema):
    id: str
    title: str
    category: str
    subcategory: str
    description: str
    status: str = Field(examples=["healthy", "warning", "critical"])
    finding: dict[str, Any] | None = Field(
        description="The cause, its evidence and the steps to fix it; null when healthy."
    )
    error: str | None = Field(description="Why the detector could not run, if it could not.")


class DiagnosticsReport(Schema):
    """ "Diagnose and solve problems" as JSON: every detector's result."""

    app: str
    status: str
    summary: DiagnosticsSummary
    collectedAt: DateTime | None
    problems: list[str]
    detectors: list[DetectorResult]
