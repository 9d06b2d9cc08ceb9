"""Where each fix is made. Pages other engineers own are linked by url name
when it exists and by their path otherwise, so a link never breaks the page."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse


def _url(names: tuple[str, ...], app: str, fallback: str) -> str:
    for name in names:
        try:
            return reverse(name, kwargs={"name": app})
        except NoReverseMatch:
            continue
    return fallback


def overview(app: str) -> str:
    return _url(("webapps:overview",), app, f"/apps/{app}/")


def configuration(app: str) -> str:
    return _url(
        ("webapps:configuration", "webapps:config", "configuration:page"),
        app,
        f"/apps/{app}/configuration/",
    )


def general_settings(app: str) -> str:
    return _url(
        ("webapps:configuration_general", "webapps:general_settings"),
        app,
        configuration(app) + "general/",
    )


def app_settings(app: str) -> str:
    return _url(
        ("webapps:app_settings", "webapps:configuration_app_settings"),
        app,
        configuration(app) + "#app-settings",
    )


def connection_strings(app: str) -> str:
    return _url(
        ("webapps:connection_strings", "webapps:configuration_connection_strings"),
        app,
        configuration(app) + "#connection-strings",
    )


def deployment_center(app: str) -> str:
    return _url(
        ("deployments:center", "deployments:deployment_center", "deployments:list"),
        app,
        overview(app),
    )


def log_stream(app: str) -> str:
    return _url(("webapps:logstream", "logs:stream", "deployments:logstream"), app, overview(app))


def diagnose(app: str) -> str:
    return reverse("diagnostics:index", kwargs={"name": app})


def connector(app: str) -> str:
    return _url(("databases:connector",), app, f"/apps/{app}/connector/")
