"""API tokens on WebSockets, for the CLI's `berth webapp ssh`.

The browser is identified by its session cookie (channels' AuthMiddleware);
the CLI sends `Authorization: Bearer <token>`, checked by the function the
HTTP requests' middleware uses (apps.api.auth.authenticate_token). Not in
the query string: URLs end up in access logs, and a token must not.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from apps.api.auth import authenticate_token, bearer_from_header


def bearer_token(scope: dict) -> str:
    for name, value in scope.get("headers", []):
        token = (
            bearer_from_header(value.decode("latin-1")) if name.lower() == b"authorization" else ""
        )
        if token:
            return token
    return ""


class TokenAuthMiddleware(BaseMiddleware):
    """Inside channels' AuthMiddlewareStack: a session user wins; otherwise a
    bearer token may name one."""

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if not getattr(user, "is_authenticated", False) and (token := bearer_token(scope)):
            found, _refusal = await database_sync_to_async(authenticate_token)(token)
            scope = {**scope, "user": found or AnonymousUser()}
        return await super().__call__(scope, receive, send)
