"""Where each fix is made: the pages' own url names, so a renamed page
fails loudly in the tests instead of leaving a dead link."""

from __future__ import annotations

from django.urls import reverse


def _page(name: str, app: str) -> str:
    return reverse(name, kwargs={"name": app})


def overview(app: str) -> str:
    return _page("webapps:overview", app)


def configuration(app: str) -> str:
    return _page("webapps:configuration", app)


def general_settings(app: str) -> str:
    return _page("webapps:configuration_general", app)


def app_settings(app: str) -> str:
    return configuration(app) + "#app-settings"


def connection_strings(app: str) -> str:
    return configuration(app) + "#connection-strings"


def deployment_center(app: str) -> str:
    return _page("deployments:center", app)


def log_stream(app: str) -> str:
    return _page("webapps:logstream", app)


def diagnose(app: str) -> str:
    return _page("diagnostics:index", app)


def connector(app: str) -> str:
    return _page("databases:connector", app)


def storage_limit(app: str) -> str:
    return general_settings(app) + "#storage-limit"


def ssh(app: str) -> str:
    return _page("console:ssh", app)
