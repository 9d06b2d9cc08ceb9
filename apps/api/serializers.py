"""Rows -> the JSON `az webapp` prints for the same thing.

Same keys as az where they apply (so `--query` expressions written for az
keep working), plus a few of Berth's own where az has nothing to say.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlsplit, urlunsplit

from apps.deployments import gitrepo
from apps.engine.runtimes import Runtime
from apps.proxy.errors import ProxyError
from apps.proxy.nginx import app_url as proxy_url
from apps.webapps.models import ConnectionString, Operation, WebApp

# There is one machine and no subscription; these keep az's id shape.
SUBSCRIPTION = "berth"
LOCATION = "berth"


def resource_id(app: WebApp) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{app.resource_group}"
        f"/providers/Microsoft.Web/sites/{app.name}"
    )


def app_url(app: WebApp) -> str:
    """Where the app answers, through the front proxy (port included)."""
    try:
        return proxy_url(app.name)
    except ProxyError:
        return f"http://{app.default_host_name}/"


def site(app: WebApp) -> dict:
    """`az webapp show` / `create` / `list` entries."""
    return {
        "id": resource_id(app),
        "name": app.name,
        "type": "Microsoft.Web/sites",
        "kind": "app,linux",
        "location": LOCATION,
        "resourceGroup": app.resource_group,
        "state": app.state,
        "enabled": True,
        "reserved": True,  # az's marker for a Linux app
        "defaultHostName": app.default_host_name,
        "hostNames": [app.default_host_name],
        "enabledHostNames": [app.default_host_name],
        "httpsOnly": app.https_only,
        "usageState": "Normal",
        "availabilityState": "Normal",
        "lastModifiedTimeUtc": app.updated.isoformat(),
        "siteConfig": {
            "linuxFxVersion": app.linux_fx_version,
            "appCommandLine": app.app_command_line,
            "alwaysOn": True,
            "healthCheckPath": app.health_check_path or None,
        },
        "tags": None,
        # Berth's own: the address through the front proxy, port included.
        "url": app_url(app),
    }


def site_config(app: WebApp) -> dict:
    """`az webapp config show`: flat camelCase. Berth's fixed facts are shown
    with the value they always have here."""
    return {
        "id": resource_id(app) + "/config/web",
        "name": app.name,
        "type": "Microsoft.Web/sites/config",
        "location": LOCATION,
        "resourceGroup": app.resource_group,
        "linuxFxVersion": app.linux_fx_version,
        "windowsFxVersion": None,
        "pythonVersion": "",
        "appCommandLine": app.app_command_line,
        "alwaysOn": True,
        "healthCheckPath": app.health_check_path or None,
        "numberOfWorkers": 1,
        "http20Enabled": False,
        "httpLoggingEnabled": False,
        "detailedErrorLoggingEnabled": False,
        "ftpsState": "Disabled",
        "minTlsVersion": "1.2",
        "use32BitWorkerProcess": False,
        "webSocketsEnabled": True,
        "scmType": "LocalGit" if app.deployment_branch or gitrepo.has_repo(app) else "None",
        "appSettings": None,
        "connectionStrings": None,
    }


def _with_user(url: str, user: str, password: str | None = None) -> str:
    """`url` with `user` (and `password`) in it, as az prints a remote."""
    parts = urlsplit(url)
    auth = quote(user, safe="$")
    if password is not None:
        auth += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc}"))


def publishing_credentials(app: WebApp, *, scm_url: str, show_password: bool) -> dict:
    """`az webapp deployment list-publishing-credentials`. Berth's SCM site is
    the portal itself (`scm_url`): git at /git/<app>.git, zip deploy at
    /api/apps/<app>/zipdeploy. The password is null, and left out of scmUri,
    unless asked for."""
    password = app.publishing_password if show_password else None
    return {
        "id": f"{resource_id(app)}/publishingcredentials/{app.publishing_username}",
        "name": app.name,
        "type": "Microsoft.Web/sites/publishingcredentials",
        "kind": None,
        "location": LOCATION,
        "resourceGroup": app.resource_group,
        "publishingUserName": app.publishing_username,
        "publishingPassword": password,
        "publishingPasswordHash": None,
        "publishingPasswordHashSalt": None,
        "scmUri": _with_user(scm_url.rstrip("/"), app.publishing_username, password),
    }


def local_git(app: WebApp, *, git_url: str) -> dict:
    """`az webapp deployment source config-local-git`: the remote, with the
    publishing user name (git asks for the password)."""
    return {"url": _with_user(git_url, app.publishing_username)}


def app_settings(app: WebApp, *, show_values: bool) -> list[dict]:
    """`az webapp config appsettings list`; values null unless asked for."""
    return [
        {"name": s.name, "slotSetting": s.slot_setting, "value": s.value if show_values else None}
        for s in app.app_settings.all()
    ]


def connection_strings(app: WebApp, *, show_values: bool) -> list[dict]:
    """`az webapp config connection-string list`."""
    return [
        {
            "name": cs.name,
            "slotSetting": cs.slot_setting,
            "type": ConnectionString.Type(cs.type).value,
            "value": cs.value if show_values else None,
        }
        for cs in app.connection_strings.all()
    ]


def runtime(rt: Runtime) -> dict:
    """`az webapp list-runtimes --os linux` entries, and whether the image is here."""
    eol = rt.end_of_life
    past = bool(eol) and date.fromisoformat(eol) < date.today()
    return {
        "os": "linux",
        "runtime": "PYTHON",
        "version": rt.version,
        "config": rt.config,
        "support": "end of life" if past else "supported",
        "end_of_life": eol or None,
        # Berth's own: is the runtime image in the engine, or can it be made here.
        "image": rt.image,
        "status": rt.status,
        "detail": rt.detail,
    }


def operation(op: Operation) -> dict:
    """A restart, start or stop and its steps (Berth's own; az has none)."""

    def when(value) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": op.pk,
        "app": op.app.name,
        "kind": op.kind.lower(),
        "trigger": op.trigger,
        "reason": op.reason,
        "actor": op.actor_name or None,
        # Stored as "success", one word with deployments; the API keeps "succeeded".
        "status": "succeeded" if op.status == Operation.Status.SUCCESS else op.status,
        "message": op.message,
        "failureCode": op.failure_code or None,
        "failureEvidence": op.failure_evidence or None,
        "serving": op.serving or None,
        "appLog": op.app_log or None,
        "created": when(op.created),
        "started": when(op.started),
        "finished": when(op.finished),
        "steps": [
            {
                "name": s["name"],
                "title": s["title"],
                "status": s["status"],
                "detail": s.get("detail", ""),
                "started": s.get("started"),
                "finished": s.get("finished"),
            }
            for s in op.steps
        ],
    }
