"""The /api/ endpoints other apps serve, in the API's schema.

Zip deploy and deployments (apps.deployments, Kudu's shapes and
`{"error": "..."}` bodies), the log stream (apps.logs, a never-ending text
stream) and diagnostics (apps.diagnostics) stay plain Django views in their
own apps: they authenticate in their own way (publishing credentials as
well as a token), stream bodies ninja should not read, and belong to those
apps. Each operation here declares the path, parameters and answers, and
hands the request to that view unchanged, so the document describes the
code that really answers (the fuzz checks the answers against it).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from apps.api.schemas import (
    DeployError,
    Deployment,
    DiagnosticsReport,
    Error,
    Redeployment,
    RedeployRequest,
)
from apps.deployments import views as deployments
from apps.pages import diagnose as diagnostics
from apps.pages import logstream as logs

router = Router(tags=["deployment"])

# A token, or the app's publishing credentials (HTTP basic); the schema
# names the token, which is what the CLI sends.
BEARER = {"security": [{"BearerAuth": []}]}
# 400: the view's own refusal (a bad zip) or the API's (a bad query parameter,
# NUL characters); 404: the API's, for an unknown app or deployment.
ERRORS = {
    400: Error | DeployError,
    401: DeployError,
    403: DeployError,
    404: Error,
}


def text(description: str, **extra: Any) -> dict[str, Any]:
    """openapi_extra for an answer in plain text (ninja would say JSON)."""
    plain = {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {**BEARER, "responses": {200: plain}, **extra}


@router.post(
    "/apps/{name}/zipdeploy",
    auth=None,
    url_name="zipdeploy",
    operation_id="zipDeploy",
    summary="Kudu's zip deploy (`az webapp deploy --type zip`, `az webapp up`).",
    description="The zip is checked before the build; the answer's `precheck` lists what "
    "the check found (committed virtual environment, missing requirements.txt, hard-coded "
    "SECRET_KEY with DEBUG on) and the start-up rule that will match with its command. "
    "Warnings never stop the deployment. 400: not a zip, or the build failed (synchronous); "
    "413: over BERTH_MAX_ZIP_MB.",
    # A synchronous deployment that failed is a 400 with the deployment.
    response={
        200: Deployment,
        202: Deployment,
        **ERRORS,
        400: Deployment | Error | DeployError,
        413: DeployError,
    },
    openapi_extra={
        **BEARER,
        "requestBody": {
            "required": True,
            "content": {
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
def zipdeploy(
    request: HttpRequest,
    name: str,
    isAsync: bool = Query(False, description="true: answer 202 at once, Location to poll."),
    author: str = Query("", description="Who wrote the code (as claimed)."),
    message: str = Query("", description="What this deployment is."),
):
    return deployments.zipdeploy(request, name=name)


@router.get(
    "/apps/{name}/deployments/",
    auth=None,
    url_name="deployments",
    operation_id="listDeployments",
    summary="Kudu's deployment list, newest first.",
    response={200: list[Deployment], **ERRORS},
    openapi_extra=BEARER,
)
def deployment_list(request: HttpRequest, name: str):
    return deployments.deployment_list(request, name=name)


@router.get(
    "/apps/{name}/deployments/{int:id}",
    auth=None,
    url_name="deployment",
    operation_id="showDeployment",
    summary="One deployment's status.",
    response={200: Deployment, **ERRORS},
    openapi_extra=BEARER,
)
def deployment_detail(request: HttpRequest, name: str, id: int):
    return deployments.deployment_detail(request, name=name, pk=id)


@router.get(
    "/apps/{name}/deployments/{int:id}/log",
    auth=None,
    url_name="deployment_log",
    operation_id="showDeploymentLog",
    summary="The build and start-up log, secrets masked "
    "(`berth webapp log deployment show` turns it into az's entries).",
    response=ERRORS,
    openapi_extra=text("The log."),
)
def deployment_log(request: HttpRequest, name: str, id: int):
    return deployments.deployment_log(request, name=name, pk=id)


@router.post(
    "/apps/{name}/deployments/{int:id}/redeploy",
    auth=None,
    url_name="redeploy",
    operation_id="redeploy",
    summary="Redeploy an earlier release (rollback): its image, no rebuild.",
    response={202: Redeployment, **ERRORS},
    openapi_extra={
        **BEARER,
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": RedeployRequest.model_json_schema()}},
        },
    },
)
def deployment_redeploy(
    request: HttpRequest,
    name: str,
    id: int,
    restoreSettings: bool = Query(False, description="The same as the body's."),
):
    return deployments.deployment_redeploy(request, name=name, pk=id)


@router.get(
    "/apps/{name}/logstream",
    auth=None,
    url_name="logstream",
    operation_id="tailLog",
    tags=["logs"],
    summary="`az webapp log tail`: the app's container output as it comes, one line each "
    "(`<time> <stdout|stderr> <text>`, markers on restart), after the last 100 lines (the "
    "archive's when no container runs); secrets masked as ***. Streams until the client "
    "closes it.",
    response={400: Error, 401: Error, 404: Error},
    openapi_extra=text("Lines, streamed."),
)
async def logstream(request: HttpRequest, name: str):
    return await logs.api_logstream(request, name=name)


@router.get(
    "/apps/{name}/diagnostics",
    auth=None,
    url_name="diagnostics",
    operation_id="diagnose",
    tags=["diagnostics"],
    summary='"Diagnose and solve problems": every detector\'s result for the app.',
    response={200: DiagnosticsReport, **ERRORS},
    openapi_extra=BEARER,
)
def diagnose(request: HttpRequest, name: str):
    return diagnostics.api_diagnostics(request, name=name)
