"""The commands: parse az's arguments, call the API, return what az would print."""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from berth_cli import config
from berth_cli.client import Client, NotFound
from berth_cli.errors import CliError
from berth_cli.ziputil import make_zip, plan

DEFAULT_RUNTIME = "PYTHON|3.11"
POLL_EVERY = 2.0


@dataclass
class Result:
    """A command's answer, and how az's table output would show it."""

    value: Any
    table: Any = None


def warn(args, message: str) -> None:
    if not getattr(args, "only_show_errors", False):
        sys.stderr.write(f"WARNING: {message}\n")


def _client() -> Client:
    profile = config.current_profile()
    return Client(profile.url, profile.token)


def _app_path(name: str, suffix: str = "") -> str:
    return f"/api/apps/{quote(name, safe='')}{suffix}"


def _group(args) -> dict:
    group = getattr(args, "resource_group", None)
    return {"resourceGroup": group} if group else {}


# --- login / logout ------------------------------------------------------------------


def login(args) -> Any:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise CliError("No terminal to ask for the password: pipe it with --password-stdin.")
        password = getpass.getpass(f"Password for {args.username}: ")
    if not password:
        raise CliError("The password is empty.")
    url = args.url.rstrip("/")
    if not re.match(r"^https?://", url):
        raise CliError(f"{args.url!r} is not a URL: give it as http(s)://host[:port].")
    answer = Client(url).call(
        "POST",
        "/api/token",
        json={"username": args.username, "password": password, "name": _token_name()},
    )
    if not isinstance(answer, dict) or not answer.get("token"):
        raise CliError(f"The portal at {url} did not hand out a token: is it a Berth portal?")
    data = config.load()
    data.update({"url": url, "user": answer.get("user", args.username), "token": answer["token"]})
    path = config.save(data)
    until = f" until {answer['expires'][:10]}" if answer.get("expires") else ""
    sys.stderr.write(f"Logged in to {url} as {data['user']}{until}; the token is kept in {path}.\n")
    # az login prints the accounts it can use; the token itself is never printed.
    return [
        {
            "cloudName": "Berth",
            "isDefault": True,
            "name": url,
            "state": "Enabled",
            "user": {"name": data["user"], "type": "user"},
        }
    ]


def _token_name() -> str:
    import socket

    return f"berth CLI on {socket.gethostname()}"[:100]


def logout(args) -> None:
    data = config.load()
    if data.get("url") and data.get("token"):
        try:
            Client(data["url"], data["token"]).call("DELETE", "/api/token")
        except CliError as e:
            warn(args, f"Could not revoke the token on {data['url']}: {e.message}")
    for key in ("token", "user"):
        data.pop(key, None)
    config.save(data)


# --- az compatibility no-ops -------------------------------------------------------


def group_create(args) -> dict:
    warn(
        args,
        "Berth creates a resource group with its first app, whose creator becomes the "
        "group's Owner: nothing to create yet.",
    )
    return {
        "id": f"/subscriptions/berth/resourceGroups/{args.name}",
        "location": args.location or "berth",
        "name": args.name,
        "properties": {"provisioningState": "Succeeded"},
        "type": "Microsoft.Resources/resourceGroups",
    }


def group_list(args) -> list:
    apps = _client().call("GET", "/api/apps")
    names = sorted({a["resourceGroup"] for a in apps})
    return [{"location": "berth", "name": n} for n in names]


def plan_create(args) -> dict:
    warn(args, "Berth has one plan (this machine): nothing to create.")
    return {"name": args.name, "kind": "linux", "reserved": True, "sku": {"name": args.sku or ""}}


# --- webapp ---------------------------------------------------------------------------


def _site_table(site: dict) -> dict:
    # az's table for webapp list/show.
    return {
        "Name": site.get("name"),
        "Location": site.get("location"),
        "State": site.get("state"),
        "ResourceGroup": site.get("resourceGroup"),
        "DefaultHostName": site.get("defaultHostName"),
        "AppServicePlan": "berth",
    }


def _get_site(client: Client, args) -> dict:
    return client.call("GET", _app_path(args.name), params=_group(args))


def webapp_create(args) -> Result:
    body: dict = {"resourceGroup": args.resource_group or "default"}
    if args.runtime:
        body["runtime"] = args.runtime
    if args.startup_file is not None:
        body["appCommandLine"] = args.startup_file
    client = _client()
    response = client.request("PUT", _app_path(args.name), json=body)
    site = response.json()
    if response.status_code == 200:
        warn(args, f"Webapp '{args.name}' already exists. The command will use the existing app.")
    return Result(site, _site_table)


def webapp_list(args) -> Result:
    return Result(
        _client().call("GET", "/api/apps", params=_group(args)),
        lambda sites: [_site_table(s) for s in sites],
    )


def webapp_show(args) -> Result:
    return Result(_get_site(_client(), args), _site_table)


def webapp_delete(args) -> None:
    _client().call("DELETE", _app_path(args.name), params=_group(args))


def _lifecycle(args, verb: str) -> None:
    _client().call("POST", _app_path(args.name, f"/{verb}"), params=_group(args))


def webapp_start(args) -> None:
    _lifecycle(args, "start")


def webapp_stop(args) -> None:
    _lifecycle(args, "stop")


def webapp_restart(args) -> None:
    _lifecycle(args, "restart")


def webapp_update(args) -> Result:
    if args.https_only is None:
        raise CliError("Nothing to change: give --https-only true|false.")
    site = _client().call(
        "PATCH",
        _app_path(args.name),
        params=_group(args),
        json={"httpsOnly": args.https_only == "true"},
    )
    return Result(site, _site_table)


def webapp_browse(args) -> str:
    site = _get_site(_client(), args)
    url = site.get("url") or f"http://{site['defaultHostName']}/"
    return url


# --- up and deploy ----------------------------------------------------------------------


def default_app_name(folder: Path) -> str:
    """The folder's name made into a valid app name (lowercase, digits, hyphens)."""
    name = re.sub(r"[^a-z0-9-]+", "-", folder.name.lower()).strip("-")[:60].strip("-")
    if len(name) < 2:
        raise CliError("Cannot make an app name from this folder's name: give one with -n.")
    return name


def webapp_up(args) -> dict:
    folder = Path(args.src_path).resolve()
    if not folder.is_dir():
        raise CliError(f"{args.src_path!r} is not a folder.")
    name = args.name or default_app_name(folder)
    zip_plan = plan(folder)
    if not zip_plan.files:
        raise CliError(f"Nothing to deploy in {folder}: it has no files (after skipping).")
    if not (folder / "requirements.txt").exists() and not (folder / "pyproject.toml").exists():
        warn(args, "No requirements.txt here: the build will install nothing.")
    client = _client()
    try:
        site = client.call("GET", _app_path(name))
    except NotFound:
        site = None
    if (
        site is not None
        and args.resource_group
        and (site["resourceGroup"].lower() != args.resource_group.lower())
    ):
        raise CliError(
            f"The app {name!r} exists in resource group {site['resourceGroup']!r}, "
            f"not {args.resource_group!r}: use -g {site['resourceGroup']} or another -n."
        )
    group = site["resourceGroup"] if site else (args.resource_group or "default")
    current = site["siteConfig"]["linuxFxVersion"] if site else None
    runtime = _normalize_runtime(args.runtime) if args.runtime else current or DEFAULT_RUNTIME
    summary = {
        "URL": None,
        "appserviceplan": "berth",
        "location": "berth",
        "name": name,
        "os": "Linux",
        "resourcegroup": group,
        "runtime_version": runtime.lower(),
        "runtime_version_detected": "-",
        "sku": "FREE",
        "src_path": str(folder),
    }
    if args.dryrun:
        what = "use the existing app" if site else "create the app"
        sys.stderr.write(
            f"Dry run: would {what} {name!r} in {group!r} ({runtime}), then zip "
            f"{len(zip_plan.files)} files ({zip_plan.size} bytes) and deploy them. Skipped: "
            f"{', '.join(zip_plan.skipped) or 'nothing'}.\n"
        )
        summary["URL"] = f"http://{site['defaultHostName']}" if site else None
        return summary
    if site is None:
        sys.stderr.write(f"Creating the web app {name!r} in {group!r} ({runtime})...\n")
        site = client.call(
            "PUT", _app_path(name), json={"resourceGroup": group, "linuxFxVersion": runtime}
        )
        # As az webapp up: build on the server (pip install -r requirements.txt).
        client.call(
            "PATCH",
            _app_path(name, "/appsettings"),
            json=[{"name": "SCM_DO_BUILD_DURING_DEPLOYMENT", "value": "true"}],
        )
    elif runtime != current:
        sys.stderr.write(f"Updating the runtime of {name!r} to {runtime}...\n")
        client.call("PATCH", _app_path(name, "/config"), json={"linuxFxVersion": runtime})
    sys.stderr.write(
        f"Zipping {len(zip_plan.files)} files from {folder} and deploying to {name!r}...\n"
    )
    archive = make_zip(zip_plan)
    try:
        deployment = _deploy_zip(client, name, archive, wait=True, timeout=1800, args=args)
    finally:
        archive.unlink(missing_ok=True)
    summary["URL"] = site.get("url") or deployment.get("site_url") or site["defaultHostName"]
    sys.stderr.write(f"You can launch the app at {summary['URL']}\n")
    if args.launch_browser:
        webbrowser.open(summary["URL"])
    if args.logs:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
        try:
            _tail(client, name)
        except CliError as e:
            # The deployment worked: a missing log stream is worth a warning, not a failure.
            warn(args, e.message)
        except KeyboardInterrupt:
            pass
        return None  # type: ignore[return-value]
    return summary


def _normalize_runtime(value: str) -> str:
    text = value.strip().upper().replace(":", "|")
    return text if "|" in text else f"PYTHON|{text}"


def _deploy_zip(
    client: Client, name: str, archive: Path, *, wait: bool, timeout: int, args=None
) -> dict:
    with archive.open("rb") as body:
        response = client.request(
            "POST",
            _app_path(name, "/zipdeploy"),
            params={"isAsync": "true"},
            data=body,
            headers={"Content-Type": "application/zip"},
        )
    deployment = response.json()
    say_precheck(args, deployment.get("precheck") or [])
    if not wait:
        return deployment
    return _wait_for(client, name, deployment, timeout)


def _wait_for(client: Client, name: str, deployment: dict, timeout: int) -> dict:
    """Follow a deployment until it ends, its status on stderr; its log's
    last lines and an error if it failed."""
    path = _app_path(name, f"/deployments/{deployment['id']}")
    deadline = time.monotonic() + timeout
    last_status = None
    while not deployment.get("complete"):
        if time.monotonic() > deadline:
            raise CliError(
                f"The deployment {deployment['id']} is still {deployment.get('status')} after "
                f"{timeout} s: see `berth webapp log deployment show -n {name}`."
            )
        # The status, and what the portal says about it when that changes
        # ("No worker is running: deployments wait in the queue.").
        now = (deployment.get("status"), deployment.get("status_text") or "")
        if now != last_status:
            last_status = now
            said = f" ({now[1]})" if now[1] else ""
            sys.stderr.write(f"Status: {now[0]}...{said}\n")
        time.sleep(POLL_EVERY)
        deployment = client.call("GET", path)
    if deployment.get("status") not in ("success", 4):
        log = client.request("GET", path + "/log").text
        tail = "\n".join(log.splitlines()[-30:])
        sys.stderr.write(tail + "\n")
        cause = f" ({deployment['failure_code']})" if deployment.get("failure_code") else ""
        raise CliError(
            f"Deployment {deployment['id']} failed{cause}: "
            f"{deployment.get('status_text') or 'see the log'}"
            f" (whole log: `berth webapp log deployment show -n {name}`)."
        )
    return deployment


def say_precheck(args, findings: list[dict]) -> None:
    """The pre-deployment check's findings, on stderr as az prints warnings
    (stdout stays the deployment's JSON). Warnings don't stop the deployment."""
    for finding in findings:
        if finding.get("level") == "warning":
            warn(args, f"Pre-deployment check: {finding.get('message', '')}")
        elif finding.get("code") == "startup_rule" and not getattr(args, "only_show_errors", False):
            sys.stderr.write(f"Start-up rule: {finding.get('message', '')}\n")


def webapp_deploy(args) -> dict:
    if args.type.lower() != "zip":
        raise CliError(f"--type {args.type} is not supported by Berth: use --type zip.")
    archive = Path(args.src_path)
    if not archive.is_file():
        raise CliError(f"{args.src_path!r} is not a file: give the zip with --src-path.")
    client = _client()
    _get_site(client, args)  # a clear "not found" before uploading anything
    return _deploy_zip(
        client, args.name, archive, wait=args.is_async == "false", timeout=args.timeout, args=args
    )


# --- config -------------------------------------------------------------------------------


def config_show(args) -> dict:
    return _client().call("GET", _app_path(args.name, "/config"), params=_group(args))


def config_set(args) -> dict:
    body: dict = {}
    for text in args.generic_configurations or []:
        try:
            extra = json.loads(text)
        except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
            raise CliError(f"--generic-configurations takes JSON: {e}.") from e
        if not isinstance(extra, dict):
            raise CliError("--generic-configurations takes a JSON object.")
        body.update(extra)
    if args.linux_fx_version is not None:
        body["linuxFxVersion"] = args.linux_fx_version
    if args.startup_file is not None:
        body["appCommandLine"] = args.startup_file
    if not body:
        raise CliError("Nothing to change: give --linux-fx-version and/or --startup-file.")
    client = _client()
    response = client.request(
        "PATCH", _app_path(args.name, "/config"), params=_group(args), json=body
    )
    config = response.json()
    # A stack change builds the serving release again: follow it, as az
    # would show the site restarting.
    rebuild = response.headers.get("Berth-Rebuild")
    if rebuild:
        deployment = client.call("GET", rebuild)
        if args.no_wait:
            sys.stderr.write(
                f"Building {args.name} for {config.get('linuxFxVersion')}: deployment "
                f"{deployment['id']} (`berth webapp log deployment show -n {args.name}`).\n"
            )
        else:
            sys.stderr.write(
                f"Building {args.name} again for {config.get('linuxFxVersion')} "
                f"(deployment {deployment['id']}); it serves the old stack until then...\n"
            )
            _wait_for(client, args.name, deployment, 1800)
            sys.stderr.write(f"{args.name} now runs {config.get('linuxFxVersion')}.\n")
    return config


def parse_settings(values: list[str], *, slot: bool = False) -> list[dict]:
    """KEY=VALUE words, or @file.json (az's list or {"KEY": "VALUE"}), into the API's list."""
    items: list[dict] = []
    for word in values:
        if word.startswith("@"):
            items.extend(_settings_file(word[1:], slot=slot))
            continue
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise CliError(f"{word!r} is not KEY=VALUE.")
        items.append({"name": key, "value": value, "slotSetting": slot})
    return items


def _settings_file(path: str, *, slot: bool) -> list[dict]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested too deep
        raise CliError(f"Cannot read settings from {path}: {e}") from e
    if isinstance(data, dict):
        return [{"name": k, "value": str(v), "slotSetting": slot} for k, v in data.items()]
    if isinstance(data, list) and all(isinstance(d, dict) and "name" in d for d in data):
        return [
            {
                "name": d["name"],
                "value": "" if d.get("value") is None else str(d["value"]),
                "slotSetting": bool(d.get("slotSetting", slot)),
            }
            for d in data
        ]
    raise CliError(f'{path}: expected {{"KEY": "VALUE"}} or [{{"name": ..., "value": ...}}].')


# App settings and connection strings: the same calls on two resources.


def _list_named(args, resource: str) -> list:
    params = {**_group(args), "showValues": "true" if args.show_values else "false"}
    return _client().call("GET", _app_path(args.name, resource), params=params)


def _set_named(args, resource: str, items: list[dict]) -> list:
    return _client().call("PATCH", _app_path(args.name, resource), params=_group(args), json=items)


def _delete_named(args, resource: str) -> list:
    params = {**_group(args), "settingNames": args.setting_names}
    return _client().call("DELETE", _app_path(args.name, resource), params=params)


def _items_to_set(args, key: str) -> list[dict]:
    items = parse_settings(args.settings) + parse_settings(args.slot_settings, slot=True)
    if not items:
        raise CliError(f"Give --settings {key}=VALUE ... (or --slot-settings).")
    return items


def appsettings_list(args) -> list:
    return _list_named(args, "/appsettings")


def appsettings_set(args) -> list:
    result = _set_named(args, "/appsettings", _items_to_set(args, "KEY"))
    warn(
        args,
        "App settings have been redacted. Use `berth webapp config appsettings list "
        "--show-values` to view.",
    )
    return result


def appsettings_delete(args) -> list:
    return _delete_named(args, "/appsettings")


def connstr_list(args) -> list:
    return _list_named(args, "/connectionstrings")


def _connstr_properties(rows: list[dict]) -> dict:
    # az answers set/delete with the ARM properties: {name: {type, value}}, values redacted.
    return {r["name"]: {"type": r["type"], "value": None} for r in rows}


def connstr_set(args) -> dict:
    items = _items_to_set(args, "NAME")
    for item in items:
        value = item["value"]
        # az strips the quotes people put around values with spaces.
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            item["value"] = value[1:-1]
        item["type"] = args.connection_string_type
    rows = _set_named(args, "/connectionstrings", items)
    warn(
        args,
        "Connection string values have been redacted. Use `berth webapp config "
        "connection-string list --show-values` to view.",
    )
    return _connstr_properties(rows)


def connstr_delete(args) -> dict:
    return _connstr_properties(_delete_named(args, "/connectionstrings"))


# --- runtimes -------------------------------------------------------------------------------


def list_runtimes(args) -> Any:
    if args.os_type == "windows":
        return []
    runtimes = _client().call("GET", "/api/runtimes", params={"os": "linux"})
    if args.linux:
        return [r["config"] for r in runtimes]
    if args.os_type == "linux":
        return Result(runtimes, lambda rows: [_runtime_table(r) for r in rows])
    return {"linux": [r["config"] for r in runtimes], "windows": []}


def _runtime_table(r: dict) -> dict:
    return {
        "Runtime": r.get("runtime"),
        "Version": r.get("version"),
        "Config": r.get("config"),
        "Support": r.get("support"),
        "End_of_life": r.get("end_of_life"),
        "Status": r.get("status"),
    }


# --- logs -----------------------------------------------------------------------------------


def _tail(client: Client, name: str) -> None:
    path = _app_path(name, "/logstream")
    try:
        for line in client.lines(path):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except NotFound as e:
        raise CliError(
            f"The portal at {client.url} has no log stream for apps yet (GET {path} answered "
            "404): update Berth, or read the log in the portal."
        ) from e


def log_tail(args) -> None:
    client = _client()
    _get_site(client, args)  # "app not found" is a different error from "no log stream"
    try:
        _tail(client, args.name)
    except KeyboardInterrupt:
        return None


def log_config(args) -> dict:
    _get_site(_client(), args)
    warn(args, "Berth always keeps the app's container log: nothing to configure.")
    return {
        "applicationLogs": {"fileSystem": {"level": args.level or "Verbose"}},
        "httpLogs": {"fileSystem": {"enabled": True}},
        "detailedErrorMessages": {"enabled": True},
        "failedRequestsTracing": {"enabled": False},
    }


def log_download(args) -> None:
    """`az webapp log download`: the zip lands in --log-file; nothing on stdout."""
    target = Path(args.log_file)
    if target.is_dir():
        raise CliError(f"--log-file {args.log_file!r} is a folder: give a file name.")
    if not target.parent.is_dir():
        raise CliError(
            f"--log-file {args.log_file!r}: the folder {str(target.parent)!r} is missing."
        )
    client = _client()
    response = client.request(
        "GET", _app_path(args.name, "/dump"), params=_group(args), stream=True
    )
    kind = response.headers.get("Content-Type", "")
    if not kind.startswith("application/zip"):
        response.close()
        raise CliError(
            f"The portal at {client.url} answered the log download with {kind or 'no type'}, "
            "not a zip: update Berth."
        )
    partial = target.with_name(target.name + ".part")
    try:
        with response, partial.open("wb") as f:
            for chunk in response.iter_content(chunk_size=65536):
                f.write(chunk)
        partial.replace(target)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise CliError(f"Cannot write {args.log_file}: {e.strerror or e}.") from e
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    warn(args, f"Downloaded logs to {args.log_file}")


def log_deployment_list(args) -> list:
    client = _client()
    _get_site(client, args)
    return client.call("GET", _app_path(args.name, "/deployments/"))


_LINE_TIME = re.compile(r"^(\d\d:\d\d:\d\d) (.*)$")


def deployment_log_entries(deployment: dict, text: str) -> list[dict]:
    """A deployment's text log as az's `log deployment show` entries."""
    received = deployment.get("received_time") or ""
    day = received[:10]
    # Lines without a time of their own (build output) carry the last one seen.
    when = received[:19]
    entries = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE_TIME.match(line)
        if m and day:
            when, message = f"{day}T{m.group(1)}", m.group(2)
        else:
            message = line
        lowered = message.lower()
        kind = (
            2 if ("failed" in lowered or "error" in lowered) else 1 if "warning" in lowered else 0
        )
        entries.append(
            {
                "details_url": None,
                "id": f"{deployment.get('id')}-{n}",
                "log_time": when,
                "message": message,
                "type": kind,
            }
        )
    return entries


def log_deployment_show(args) -> list:
    client = _client()
    _get_site(client, args)
    if args.deployment_id:
        path = _app_path(args.name, f"/deployments/{quote(args.deployment_id, safe='')}")
        deployment = client.call("GET", path)
    else:
        deployments = client.call("GET", _app_path(args.name, "/deployments/"))
        if not deployments:
            raise CliError(f"{args.name!r} has no deployments yet: deploy with `berth webapp up`.")
        deployment = deployments[0]
        path = _app_path(args.name, f"/deployments/{deployment['id']}")
    text = client.request("GET", path + "/log").text
    return deployment_log_entries(deployment, text)


# --- deployment credentials and local Git -----------------------------------------------


def list_publishing_credentials(args) -> dict:
    params = {**_group(args), "showValues": "true" if args.show_values else "false"}
    answer = _client().call("GET", _app_path(args.name, "/publishingcredentials"), params=params)
    if not args.show_values:
        warn(
            args,
            "The publishing password has been redacted. Use `berth webapp deployment "
            "list-publishing-credentials --show-values` to view.",
        )
    return answer


def config_local_git(args) -> dict:
    return _client().call("POST", _app_path(args.name, "/localgit"), params=_group(args))


# --- webapp connection (Service Connector) ---------------------------------------------


def _connections_path(args, connection: str = "") -> str:
    suffix = "/connections" + (f"/{quote(connection, safe='')}" if connection else "")
    return _app_path(args.name, suffix)


def connection_create(args) -> Any:
    body = {"targetType": args.target}
    if args.client_type:
        body["clientType"] = args.client_type
    if args.connection:
        body["connectionName"] = args.connection
    client = _client()
    result = client.call("POST", _connections_path(args), params=_group(args), json=body)
    if "percent" in result:  # 202: the service's image is built first, in the background
        if getattr(args, "no_wait", False):
            return result
        result = _wait_for_connection(client, args, result)
    warn(
        args,
        "The app settings the connection set are hidden. Use `berth webapp connection show "
        "--show-values` to view them.",
    )
    return result


def _wait_for_connection(client: Client, args, state: dict) -> Any:
    """Follow a connection made in the background, its progress on stderr;
    the connection when made, an error saying why when not."""
    path = _app_path(args.name, f"/connection-progress/{quote(args.target, safe='')}")
    said = ""
    while state["status"] in ("queued", "running"):
        now = f"{state['percent']}% {state['message']}"
        if now != said:
            said = now
            sys.stderr.write(f"Connecting: {now}\n")
        time.sleep(POLL_EVERY)
        state = client.call("GET", path, params=_group(args))
    if state["status"] == "stalled":
        raise CliError(
            f"The connection to {args.target} stopped making progress ({state['message']}): "
            "is the worker running? Create it again to retry."
        )
    if state["status"] == "failed":
        raise CliError(f"The connection to {args.target} failed: {state['error']}")
    return client.call("GET", _connections_path(args, state["name"]), params=_group(args))


def connection_list(args) -> list:
    params = {**_group(args), "showValues": "true" if args.show_values else "false"}
    return _client().call("GET", _connections_path(args), params=params)


def connection_show(args) -> Any:
    params = {**_group(args), "showValues": "true" if args.show_values else "false"}
    return _client().call("GET", _connections_path(args, args.connection), params=params)


def connection_delete(args) -> Any:
    params = {**_group(args), "deleteDatabase": "true" if args.delete_database else "false"}
    return _client().call("DELETE", _connections_path(args, args.connection), params=params)


def connection_validate(args) -> Any:
    path = _connections_path(args, args.connection) + "/validate"
    return _client().call("POST", path, params=_group(args))


# --- webapp config backup ------------------------------------------------------------------


def backup_create(args) -> Any:
    body = {"backupName": args.backup_name} if args.backup_name else {}
    return _client().call("POST", _app_path(args.name, "/backups"), params=_group(args), json=body)


def backup_list(args) -> list:
    return _client().call("GET", _app_path(args.name, "/backups"), params=_group(args))


def backup_restore(args) -> Any:
    body = {"targetName": args.target_name} if args.target_name else {}
    path = _app_path(args.name, f"/backups/{quote(args.backup_name, safe='')}/restore")
    return _client().call("POST", path, params=_group(args), json=body)
