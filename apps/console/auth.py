"""API tokens on WebSockets, for the CLI's `berth webapp ssh`.

The browser is identified by its session cookie (channels' AuthMiddleware);
the CLI sends `Authorization: Bearer <token>`, checked by the same code the
HTTP API uses (apps.api.auth). Not in the query string: URLs end up in
access logs, and a token must not.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest


def bearer_token(scope: dict) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def user_from_token(token: str):
    """The active user owning this API token, else None."""
    try:
        from apps.api.auth import user_from_request
    except ImportError:  # no API app: tokens are not a thing here
        return None
    request = HttpRequest()
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return user_from_request(request)


class TokenAuthMiddleware(BaseMiddleware):
    """Inside channels' AuthMiddlewareStack: a session user wins; otherwise a
    bearer token may name one."""

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if not getattr(user, "is_authenticated", False) and (token := bearer_token(scope)):
            found = await database_sync_to_async(user_from_token)(token)
            scope = {**scope, "user": found or AnonymousUser()}
        return await super().__call__(scope, receive, send)
