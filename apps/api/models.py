from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

# Tokens look like "berth_<40 url-safe chars>": the prefix makes a leaked one
# easy to recognise (and to grep for in a repository).
TOKEN_PREFIX = "berth_"


def hash_token(token: str) -> str:
    # The token is 240 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def create_for(self, user, name: str = "") -> tuple[ApiToken, str]:
        """Make a token; returns the row and the token itself, shown this once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(30)
        row = self.create(user=user, name=name[:100], token_hash=hash_token(token))
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

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created",)
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.user} / {self.name or self.pk}"
