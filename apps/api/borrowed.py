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

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse
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
from apps.diagnostics import views as diagnostics
from apps.logs import views as logs

router = Router(tags=["deployment"])

# A token, or the app's publishing credentials (HTTP basic); the schema
# names the token, which is what the CLI sends.
BEARER = {"security": [{"BearerAuth": []}]}
DEPLOY_ERRORS = {401: DeployError, 403: DeployError, 404: DeployError}


def text(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }


def serve(view: Callable[..., HttpResponseBase], request: HttpRequest, **kwargs) -> Any:
    """The plain view's answer; its 404 in its own error shape, not a page."""
    try:
        return view(request, **kwargs)
    except Http404:
        return JsonResponse({"error": "Not found: check the app's name and the id."}, status=404)


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
    response={
        200: Deployment,
        202: Deployment,
        400: DeployError,
        413: DeployError,
        **DEPLOY_ERRORS,
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
    return serve(deployments.zipdeploy, request, name=name)


@router.get(
    "/apps/{name}/deployments/",
    auth=None,
    url_name="deployments",
    operation_id="listDeployments",
    summary="Kudu's deployment list, newest first.",
    response={200: list[Deployment], **DEPLOY_ERRORS},
    openapi_extra=BEARER,
)
def deployment_list(request: HttpRequest, name: str):
    return serve(deployments.deployment_list, request, name=name)


@router.get(
    "/apps/{name}/deployments/{id}",
    auth=None,
    url_name="deployment",
    operation_id="showDeployment",
    summary="One deployment's status.",
    response={200: Deployment, **DEPLOY_ERRORS},
    openapi_extra=BEARER,
)
def deployment_detail(request: HttpRequest, name: str, id: int):
    return serve(deployments.deployment_detail, request, name=name, pk=id)


@router.get(
    "/apps/{name}/deployments/{id}/log",
    auth=None,
    url_name="deployment_log",
    operation_id="showDeploymentLog",
    summary="The build and start-up log, secrets masked "
    "(`berth webapp log deployment show` turns it into az's entries).",
    response={200: str, **DEPLOY_ERRORS},
    openapi_extra={**BEARER, "responses": {200: text("The log.")}},
)
def deployment_log(request: HttpRequest, name: str, id: int):
    return serve(deployments.deployment_log, request, name=name, pk=id)


@router.post(
    "/apps/{name}/deployments/{id}/redeploy",
    auth=None,
    url_name="redeploy",
    operation_id="redeploy",
    summary="Redeploy an earlier release (rollback): its image, no rebuild.",
    response={202: Redeployment, 400: DeployError, **DEPLOY_ERRORS},
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
    return serve(deployments.deployment_redeploy, request, name=name, pk=id)


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
    response={200: str, 401: Error, 404: Error},
    openapi_extra={**BEARER, "responses": {200: text("Lines, streamed.")}},
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
    response={200: DiagnosticsReport, **DEPLOY_ERRORS},
    openapi_extra=BEARER,
)
def diagnose(request: HttpRequest, name: str):
    return serve(diagnostics.api_diagnostics, request, name=name)
