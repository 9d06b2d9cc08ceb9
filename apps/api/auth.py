"""Who is calling: `Authorization: Bearer <token>` -> a user.

Shared with the zipdeploy and git endpoints (apps.deployments), so the CLI's
token works everywhere a publishing password does.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone

from apps.api.models import ApiToken, hash_token

# Don't write last_used on every request: once a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def bearer_token(request: HttpRequest) -> str:
    """The token in the Authorization header, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def user_from_request(request: HttpRequest) -> AbstractBaseUser | None:
    """The active user whose API token the request carries, else None."""
    return authenticate_bearer(request)[0]


def authenticate_bearer(request: HttpRequest) -> tuple[AbstractBaseUser | None, str]:
    """(the token's active user, "") or (None, what to do about it): an
    expired token, or one made before a password change, says to sign in again."""
    token = bearer_token(request)
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
