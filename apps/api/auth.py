"""Who is calling: `Authorization: Bearer <token>` -> a user, found once per
request (TokenAuthenticationMiddleware) and once per WebSocket
(apps.console.auth), by `authenticate_token`.

Every surface then reads `request.user`: the API, the zipdeploy and git
endpoints (apps.deployments), the log stream and diagnostics, so the CLI's
token works everywhere a session or a publishing password does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apps.api.models import ApiToken, hash_token

# Don't write last_used on every request: once a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)

Answer = tuple[AbstractBaseUser | None, str]


def bearer_from_header(value: str) -> str:
    """The token in an Authorization header's value, or ""."""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def bearer_token(request: HttpRequest) -> str:
    """The token in the Authorization header, or ""."""
    return bearer_from_header(request.headers.get("Authorization", ""))


def authenticate_token(token: str) -> Answer:
    """(the token's active user, "") or (None, what to do about it): an
    expired token, or one made before a password change, says to sign in
    again; an unknown one says nothing."""
    if not token:
        return None, ""
    row = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(token), user__is_active=True)
        .first()
    )
    if row is None:
        return None, ""
    if refusal := row.refusal():
        return None, refusal
    now = timezone.now()
    if row.last_used is None or now - row.last_used > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used=now)
    return row.user, ""


def authenticate_bearer(request: HttpRequest) -> Answer:
    """The request's bearer token checked once: the middleware asks first,
    and the API layer asking again gets the same answer (and its refusal,
    for a 401 that says why) without another look-up."""
    try:
        return request._berth_bearer  # type: ignore[attr-defined]
    except AttributeError:
        pass
    answer = authenticate_token(bearer_token(request))
    request._berth_bearer = answer  # type: ignore[attr-defined]
    return answer


def user_from_request(request: HttpRequest) -> AbstractBaseUser | None:
    """The active user whose API token the request carries, else None."""
    return authenticate_bearer(request)[0]


def _apply(request: HttpRequest, answer: Answer) -> None:
    user, refusal = answer
    # What the surfaces read: a token's user replaces the session's; a
    # refused token leaves request.user alone and says why.
    request.token_authenticated = user is not None  # type: ignore[attr-defined]
    request.token_refusal = refusal  # type: ignore[attr-defined]
    if user is not None:
        request.user = user

        async def auser() -> AbstractBaseUser:
            return user

        request.auser = auser  # type: ignore[attr-defined]


class TokenAuthenticationMiddleware:
    """Below Django's AuthenticationMiddleware: `Authorization: Bearer <token>`
    sets `request.user` to the token's user, for every view. Sets
    `request.token_authenticated` (the user came from a token, not a
    cookie: the CSRF-exempt endpoints write only for those) and
    `request.token_refusal` (why a token was refused, "" if it wasn't)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        _apply(request, authenticate_bearer(request) if bearer_token(request) else (None, ""))
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        answer = (None, "")
        if bearer_token(request):  # no thread hop for the requests without one
            answer = await sync_to_async(authenticate_bearer)(request)
        _apply(request, answer)
        return await self.get_response(request)
