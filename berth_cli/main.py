"""`berth`: the az webapp commands, against a Berth portal.

    berth login --url http://127.0.0.1:8000 -u alice
    berth webapp create -g demo -n hello --runtime "PYTHON|3.11"
    berth webapp config show -g demo -n hello --query linuxFxVersion

Every command takes -o json|jsonc|tsv|table|none and --query (JMESPath),
as az does; errors go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from berth_cli import __version__, commands
from berth_cli.errors import CliError
from berth_cli.output import FORMATS, compile_query, render


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # az's shape: usage, then the error, exit code 2.
        self.print_usage(sys.stderr)
        sys.stderr.write(f"ERROR: {message}\n")
        sys.exit(2)


def _common() -> argparse.ArgumentParser:
    """The arguments every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("Global Arguments")
    group.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default=os.environ.get("BERTH_OUTPUT", "json"),
        help="Output format (default json; BERTH_OUTPUT sets another).",
    )
    group.add_argument("--query", help="JMESPath query string, as az's --query.")
    group.add_argument("--debug", action="store_true", help="Show tracebacks on errors.")
    group.add_argument("--only-show-errors", action="store_true", help="Hide warnings.")
    return common


def _app_args(p: argparse.ArgumentParser, *, group_required: bool = False) -> None:
    p.add_argument("-g", "--resource-group", required=group_required, help="Resource group.")
    p.add_argument("-n", "--name", required=True, help="Name of the web app.")


def _named_value_commands(
    command,
    config,
    group: str,
    help_text: str,
    noun: str,
    funcs: tuple,
    *,
    key: str,
    settings_help: str = " ...",
    set_args=None,
) -> None:
    """`list`, `set` and `delete` for app settings or connection strings: az
    gives both the same options."""
    sub = config.add_parser(group, help=help_text).add_subparsers(
        dest="sub3", metavar="COMMAND", parser_class=Parser
    )
    list_func, set_func, delete_func = funcs
    p = command(sub, "list", list_func, f"List {noun}.")
    _app_args(p)
    p.add_argument("--show-values", action="store_true", help="Show the values (secrets).")
    p = command(sub, "set", set_func, f"Add or update {noun}.")
    _app_args(p)
    if set_args is not None:
        set_args(p)
    p.add_argument("--settings", nargs="+", default=[], help=f"{key}=VALUE{settings_help}")
    p.add_argument("--slot-settings", nargs="+", default=[], help=f"{key}=VALUE ... (sticky)")
    p = command(sub, "delete", delete_func, f"Delete {noun}.")
    _app_args(p)
    p.add_argument("--setting-names", nargs="+", required=True)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = Parser(
        prog="berth",
        description="Manage Berth web apps the way `az webapp` manages App Service.",
    )
    parser.add_argument("--version", action="version", version=f"berth {__version__}")
    top = parser.add_subparsers(dest="group", metavar="COMMAND", parser_class=Parser)

    def command(sub, name: str, func, help_text: str, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text, **kwargs)
        p.set_defaults(func=func)
        return p

    p = command(top, "login", commands.login, "Log in to a Berth portal; keeps an API token.")
    p.add_argument("--url", required=True, help="The portal, e.g. http://127.0.0.1:8000")
    p.add_argument("-u", "--username", required=True)
    p.add_argument(
        "--password-stdin", action="store_true", help="Read the password from standard input."
    )
    command(top, "logout", commands.logout, "Revoke the stored token and forget it.")

    # No-ops so scripts written for App Service run unchanged.
    group = top.add_parser("group", help="Resource groups (labels in Berth).").add_subparsers(
        dest="sub", metavar="COMMAND", parser_class=Parser
    )
    p = command(group, "create", commands.group_create, "Resource groups need no creating here.")
    p.add_argument("-n", "--name", "-g", "--resource-group", dest="name", required=True)
    p.add_argument("-l", "--location")
    command(group, "list", commands.group_list, "The resource groups your apps are in.")
    plan = top.add_parser("appservice", help="App Service plans (one machine in Berth).")
    plan_sub = plan.add_subparsers(dest="sub", metavar="COMMAND", parser_class=Parser)
    plan_cmd = plan_sub.add_parser("plan").add_subparsers(
        dest="sub2", metavar="COMMAND", parser_class=Parser
    )
    p = command(plan_cmd, "create", commands.plan_create, "Plans need no creating here.")
    p.add_argument("-n", "--name", required=True)
    p.add_argument("-g", "--resource-group")
    p.add_argument("--sku")
    p.add_argument("--is-linux", action="store_true")
    p.add_argument("-l", "--location")

    webapp = top.add_parser("webapp", help="Manage web apps.").add_subparsers(
        dest="sub", metavar="COMMAND", parser_class=Parser
    )
    p = command(webapp, "create", commands.webapp_create, "Create a web app.")
    _app_args(p)
    p.add_argument("-r", "--runtime", help='e.g. "PYTHON|3.11" (see `berth webapp list-runtimes`).')
    p.add_argument("--startup-file", help="The startup command or file.")
    p.add_argument("-p", "--plan", help="Accepted for az compatibility; Berth has one plan.")
    p.add_argument("--deployment-local-git", action="store_true", help=argparse.SUPPRESS)

    p = command(webapp, "list", commands.webapp_list, "List web apps.")
    p.add_argument("-g", "--resource-group")
    for name, func, text in (
        ("show", commands.webapp_show, "Show a web app."),
        ("delete", commands.webapp_delete, "Delete a web app and everything it runs."),
        ("start", commands.webapp_start, "Start a web app."),
        ("stop", commands.webapp_stop, "Stop a web app."),
        ("restart", commands.webapp_restart, "Restart a web app (applies saved settings)."),
        ("browse", commands.webapp_browse, "Print the web app's address."),
    ):
        _app_args(command(webapp, name, func, text))

    p = command(webapp, "update", commands.webapp_update, "Update a web app's own properties.")
    _app_args(p)
    p.add_argument(
        "--https-only",
        choices=("true", "false"),
        help="true: plain HTTP is redirected to HTTPS (301) by the front proxy.",
    )

    from berth_cli import ssh

    _app_args(command(webapp, "ssh", ssh.webapp_ssh, "Open an SSH session to the app's container."))

    p = command(
        webapp, "up", commands.webapp_up, "Zip this folder, create the app if missing, deploy."
    )
    p.add_argument("-n", "--name", help="Default: this folder's name.")
    p.add_argument("-g", "--resource-group")
    p.add_argument("-r", "--runtime", help='e.g. "PYTHON|3.11".')
    p.add_argument("--dryrun", action="store_true", help="Show what would be done; change nothing.")
    p.add_argument("--src-path", default=".", help="The folder to deploy (default: this one).")
    p.add_argument("--logs", action="store_true", help="Stream the app's log after deploying.")
    p.add_argument("-b", "--launch-browser", action="store_true", help="Open the app afterwards.")
    for ignored in ("--sku", "-p", "--plan", "-l", "--location", "--os-type"):
        p.add_argument(ignored, help=argparse.SUPPRESS)

    p = command(webapp, "deploy", commands.webapp_deploy, "Deploy a zip package.")
    _app_args(p)
    p.add_argument("--src-path", required=True, help="The zip file.")
    p.add_argument("--type", default="zip", help="Only zip is supported.")
    p.add_argument(
        "--async",
        dest="is_async",
        choices=("true", "false"),
        default="false",
        help="true: return once the zip is accepted.",
    )
    p.add_argument("--timeout", type=int, default=1800, help="Seconds to wait for the deployment.")
    p.add_argument("--restart", help=argparse.SUPPRESS)
    p.add_argument("--clean", help=argparse.SUPPRESS)

    p = command(webapp, "list-runtimes", commands.list_runtimes, "List the runtime stacks.")
    p.add_argument("--os", "--os-type", dest="os_type", choices=("linux", "windows"))
    p.add_argument("--linux", action="store_true", help="Older az: plain stack strings.")

    config = webapp.add_parser("config", help="Configure a web app.").add_subparsers(
        dest="sub2", metavar="COMMAND", parser_class=Parser
    )
    _app_args(command(config, "show", commands.config_show, "Show the configuration."))
    p = command(config, "set", commands.config_set, "Change the configuration (then restart).")
    _app_args(p)
    p.add_argument("--linux-fx-version", help='e.g. "PYTHON|3.11".')
    p.add_argument("--startup-file", help='The startup command or file; "" for auto-detect.')
    p.add_argument(
        "--generic-configurations",
        nargs="+",
        help='JSON, e.g. \'{"healthCheckPath": "/healthz"}\'.',
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="Don't wait for the rebuild a stack change starts.",
    )

    _named_value_commands(
        command,
        config,
        "appsettings",
        "App settings.",
        "app settings",
        (commands.appsettings_list, commands.appsettings_set, commands.appsettings_delete),
        key="KEY",
        settings_help=" ..., or @file.json",
    )
    _named_value_commands(
        command,
        config,
        "connection-string",
        "Connection strings.",
        "connection strings",
        (commands.connstr_list, commands.connstr_set, commands.connstr_delete),
        key="NAME",
        set_args=lambda p: p.add_argument(
            "-t",
            "--connection-string-type",
            required=True,
            help="MySql, SQLServer, SQLAzure, PostgreSQL or Custom.",
        ),
    )

    _connection_commands(command, webapp)
    _backup_commands(command, config)

    log = webapp.add_parser("log", help="Logs.").add_subparsers(
        dest="sub2", metavar="COMMAND", parser_class=Parser
    )
    _app_args(command(log, "tail", commands.log_tail, "Stream the app's log."))
    p = command(log, "config", commands.log_config, "Logging is always on in Berth.")
    _app_args(p)
    p.add_argument("--docker-container-logging", help=argparse.SUPPRESS)
    p.add_argument("--level", help=argparse.SUPPRESS)
    deployment = log.add_parser("deployment", help="Deployment logs.").add_subparsers(
        dest="sub3", metavar="COMMAND", parser_class=Parser
    )
    p = command(deployment, "show", commands.log_deployment_show, "Show a deployment's log.")
    _app_args(p)
    p.add_argument("--deployment-id", help="Default: the latest deployment.")
    p = command(deployment, "list", commands.log_deployment_list, "List deployments.")
    _app_args(p)
    p = command(
        log, "download", commands.log_download, "Download the app's logs as a zip (masked)."
    )
    _app_args(p)
    p.add_argument(
        "--log-file", default="webapp_logs.zip", help="The zip to write (default webapp_logs.zip)."
    )

    deploy = webapp.add_parser("deployment", help="Deployment settings.").add_subparsers(
        dest="sub2", metavar="COMMAND", parser_class=Parser
    )
    p = command(
        deploy,
        "list-publishing-credentials",
        commands.list_publishing_credentials,
        "The app's publishing credentials (for git and zip deploy).",
    )
    _app_args(p)
    p.add_argument(
        "--show-values",
        action="store_true",
        help="Show the password (needs Contributor or Owner; recorded in the Activity log).",
    )
    source = deploy.add_parser("source", help="Deployment from source control.").add_subparsers(
        dest="sub3", metavar="COMMAND", parser_class=Parser
    )
    _app_args(
        command(
            source,
            "config-local-git",
            commands.config_local_git,
            "Get the URL of the app's Git repository, to push to for deployment.",
        )
    )
    return parser


def _backup_commands(command, config) -> None:
    """`berth webapp config backup create|list|restore`, az's verbs."""
    backup = config.add_parser(
        "backup", help="Backups: configuration, /home and connected databases."
    ).add_subparsers(dest="sub3", metavar="COMMAND", parser_class=Parser)
    p = command(backup, "create", commands.backup_create, "Back the app up now.")
    p.add_argument("-g", "--resource-group", help="Resource group.")
    p.add_argument("--webapp-name", "-n", "--name", dest="name", required=True)
    p.add_argument("--backup-name", help="Default: the time.")
    p.add_argument("--container-url", help=argparse.SUPPRESS)  # az's storage: kept locally here
    p = command(backup, "list", commands.backup_list, "List the app's backups.")
    p.add_argument("-g", "--resource-group", help="Resource group.")
    p.add_argument("--webapp-name", "-n", "--name", dest="name", required=True)
    p = command(backup, "restore", commands.backup_restore, "Restore a backup.")
    p.add_argument("-g", "--resource-group", help="Resource group.")
    p.add_argument("--webapp-name", "-n", "--name", dest="name", required=True)
    p.add_argument("--backup-name", required=True)
    p.add_argument("--target-name", help="Restore into this existing app (default: the same).")
    p.add_argument("--overwrite", action="store_true", help="az's flag; restoring overwrites.")


def _connection_commands(command, webapp) -> None:
    """`berth webapp connection ...`: Service Connector's verbs."""
    connection = webapp.add_parser(
        "connection", help="Connect the app to Berth's PostgreSQL or Redis (Service Connector)."
    ).add_subparsers(dest="sub2", metavar="COMMAND", parser_class=Parser)
    create = connection.add_parser("create", help="Create a connection.").add_subparsers(
        dest="sub3", metavar="TARGET", parser_class=Parser
    )
    for target, what in (
        ("postgres-flexible", "a database and a role of the app's own on Berth's PostgreSQL"),
        ("redis", "the app's own Redis"),
    ):
        p = command(create, target, commands.connection_create, f"Connect the app to {what}.")
        _app_args(p)
        p.set_defaults(target=target)
        p.add_argument(
            "--client-type",
            choices=["django", "python"],
            help="Which app settings to set (default python).",
        )
        p.add_argument("--connection", help="The connection's name.")
        p.add_argument(
            "--no-wait",
            action="store_true",
            help="When the service's image must be built first, do not wait for it.",
        )
    p = command(connection, "list", commands.connection_list, "List the app's connections.")
    _app_args(p)
    p.add_argument("--show-values", action="store_true", help="Show the settings' values.")
    p = command(connection, "show", commands.connection_show, "Show a connection.")
    _app_args(p)
    p.add_argument("--connection", required=True, help="The connection's name.")
    p.add_argument("--show-values", action="store_true", help="Show the settings' values.")
    p = command(
        connection,
        "validate",
        commands.connection_validate,
        "Connect from the app's network with its settings and say whether it works.",
    )
    _app_args(p)
    p.add_argument("--connection", required=True, help="The connection's name.")
    p = command(
        connection,
        "delete",
        commands.connection_delete,
        "Delete a connection and the app settings it set; the database stays unless "
        "--delete-database.",
    )
    _app_args(p)
    p.add_argument("--connection", required=True, help="The connection's name.")
    p.add_argument(
        "--delete-database", action="store_true", help="Also drop the database (Redis: its data)."
    )
    p.add_argument("-y", "--yes", action="store_true", help="Do not prompt (az's flag).")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        # `berth`, `berth webapp`, `berth webapp config`: show what is there.
        parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
        return 2
    try:
        compile_query(args.query)  # a bad --query fails before anything changes
        result = args.func(args)
        text = render(
            result.value if isinstance(result, commands.Result) else result,
            output=args.output,
            query=args.query,
            table_transform=result.table if isinstance(result, commands.Result) else None,
        )
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
    except CliError as e:
        sys.stderr.write(f"ERROR: {e.message}\n")
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `berth ... | head`: the reader left; nothing to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if args.debug:
            raise
        sys.stderr.write(
            f"ERROR: an unexpected error: {type(e).__name__}: {e}. Run again with --debug "
            "for the traceback, and report it.\n"
        )
        return 1
    return 0
