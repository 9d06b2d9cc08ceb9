from __future__ import annotations

from typing import Any

from django.db import models

from apps.core import crypto


class EncryptedTextField(models.TextField):
    """A text field stored as a Fernet token; Python code sees plain text."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return value
        return crypto.encrypt(value)
