"""The health probe: which answers count as healthy for an app, and one
request to its container. apps.lifecycle.release waits on it before a
cutover; apps.lifecycle.watch runs it periodically."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import requests
from django.conf import settings

from apps.webapps.models import WebApp


def accepted_statuses(app: WebApp) -> tuple[Callable[[int], bool], str]:
    """Which HTTP answers count as healthy, and how to say it: 200-399 by
    default; BERTH_HEALTH_ACCEPT_ANY=true, or the app setting
    WEBSITE_WARMUP_STATUSES ("any", or codes and ranges: "200-499,503"),
    say otherwise."""
    raw = (
        app.app_settings.filter(name="WEBSITE_WARMUP_STATUSES")
        .values_list("value", flat=True)
        .first()
        or ""
    ).strip()
    if raw.lower() in ("any", "*") or (not raw and settings.BERTH_HEALTH_ACCEPT_ANY):
        return (lambda code: True), "any HTTP answer"
    ranges: list[tuple[int, int]] = []
    for part in raw.replace(";", ",").split(","):
        low, _, high = part.strip().partition("-")
        with contextlib.suppress(ValueError):
            ranges.append((int(low), int(high or low)))
    if not ranges:
        ranges = [(200, 399)]
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)
    return (lambda code: any(a <= code <= b for a, b in ranges)), text


def health_url(app: WebApp, port: int) -> tuple[str, str]:
    path = app.health_check_path or "/"
    path = path if path.startswith("/") else "/" + path
    return path, f"http://127.0.0.1:{port}{path}"


def probe(app: WebApp, port: int, timeout: float = 5) -> tuple[bool, int | None, str]:
    """One health request: (healthy, status code or None, what happened).
    Host is WEBSITE_HOSTNAME, so Django's ALLOWED_HOSTS built from it passes."""
    ok_status, accepted = accepted_statuses(app)
    path, url = health_url(app, port)
    session = requests.Session()
    session.trust_env = False  # never through an HTTP proxy: this is 127.0.0.1
    try:
        answer = session.get(
            url, headers={"Host": app.default_host_name}, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as e:
        return False, None, f"GET {path}: no answer ({type(e).__name__})"
    finally:
        session.close()
    if ok_status(answer.status_code):
        return True, answer.status_code, f"GET {path} answered {answer.status_code}"
    return (
        False,
        answer.status_code,
        f"GET {path} answered {answer.status_code} (healthy is {accepted}; "
        "WEBSITE_WARMUP_STATUSES changes that)",
    )
