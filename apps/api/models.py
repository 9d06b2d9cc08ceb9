from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# Tokens look like "berth_<40 url-safe chars>": the prefix makes a leaked one
# easy to recognise (and to grep for in a repository).
TOKEN_PREFIX = "berth_"


def hash_token(token: str) -> str:
    # The token is 240 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def password_fingerprint(user) -> str:
    """Changes whenever the user's password does (by any path: the admin,
    `changepassword`, set_password), so a token remembers the password it was
    made under. The stored hash is already salted: hashing it again is enough."""
    return hashlib.sha256(user.password.encode()).hexdigest()


def token_lifetime() -> timedelta:
    return timedelta(days=settings.BERTH_TOKEN_DAYS)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def create_for(self, user, name: str = "") -> tuple[ApiToken, str]:
        """Make a token; returns the row and the token itself, shown this once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(30)
        row = self.create(
            user=user,
            name=name[:100],
            token_hash=hash_token(token),
            expires=timezone.now() + token_lifetime(),
            password_fingerprint=password_fingerprint(user),
        )
        return row, token


class ApiToken(models.Model):
    """A per-user API token. Only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    # BERTH_TOKEN_DAYS after `created`; then `berth login` makes a new one.
    expires = models.DateTimeField()
    # The user's password when the token was made: a password change revokes it.
    password_fingerprint = models.CharField(max_length=64)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created",)
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.user} / {self.name or self.pk}"

    def refusal(self) -> str:
        """Why this token no longer signs its user in, or "" if it does."""
        if self.password_fingerprint != password_fingerprint(self.user):
            return (
                f"This API token was revoked: the password of {self.user.get_username()} "
                "changed since it was made. Run `berth login` again."
            )
        if timezone.now() >= self.expires:
            return (
                f"This API token expired on {self.expires:%Y-%m-%d %H:%M} UTC (tokens last "
                f"{settings.BERTH_TOKEN_DAYS} days). Run `berth login` again."
            )
        return ""
