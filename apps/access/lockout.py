"""What a throttled sign-in gets back (django-axes' AXES_LOCKOUT_CALLABLE):
after BERTH_LOGIN_FAILURE_LIMIT failed sign-ins for one user name from one
address, the API's POST /api/token answers 429 in the API's error shape and
the login form answers 429 with the form and the same words; both say when
to try again (and send Retry-After).

Axes itself decides who is locked (its backend, first in
AUTHENTICATION_BACKENDS, refuses a locked user name and address before the
password is checked) and counts failures from Django's user_login_failed
signal; a successful sign-in (user_logged_in) resets the count.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.core.apierrors import error_response


def retry_at(request: HttpRequest, credentials: dict | None = None) -> datetime:
    """When this user name and address may sign in again: the cool-off
    after the failure that locked them (it does not move while they are
    locked out: AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off)."""
    AxesProxyHandler.update_request(request)
    cool_off = get_cool_off(request) or timedelta(0)
    handler = AxesProxyHandler.get_implementation()
    last = None
    if hasattr(handler, "filter_user_attempts"):  # the database handler
        for attempts in handler.filter_user_attempts(request, credentials):
            latest = attempts.aggregate(latest=Max("attempt_time"))["latest"]
            if latest is not None and (last is None or latest > last):
                last = latest
    return (last or timezone.now()) + cool_off


def lockout_message(username: str, when: datetime) -> tuple[str, int]:
    """The words a locked-out user reads, and the seconds to wait."""
    seconds = max(math.ceil((when - timezone.now()).total_seconds()), 1)
    minutes = math.ceil(seconds / 60)
    who = f"for {username!r} " if username else ""
    text = (
        f"Too many failed sign-ins {who}from this address: try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''} (after {when:%H:%M} UTC). "
        "An administrator can lift it sooner with `python manage.py axes_reset_username "
        f"{username or '<user>'}`."
    )
    return text, seconds


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    username = get_client_username(request, credentials) or ""
    text, seconds = lockout_message(username, retry_at(request, credentials))
    if request.path.startswith("/api/"):
        response = error_response(429, "TooManySignInAttempts", text)
    else:
        form = AuthenticationForm(request, initial={"username": username})
        ctx = {
            "form": form,
            "lockout": text,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        }
        response = render(request, "registration/login.html", ctx, status=429)
    response["Retry-After"] = str(seconds)
    return response
