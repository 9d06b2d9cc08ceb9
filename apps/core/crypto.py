"""Encryption at rest for secrets (app setting values, connection strings,
deployment passwords), with the `cryptography` package's Fernet.

MultiFernet: the first key in BERTH_ENCRYPTION_KEYS encrypts, every key
decrypts, so a key can be rotated by putting the new one first.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.BERTH_ENCRYPTION_KEYS])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as e:
        raise ValueError(
            "A stored secret could not be decrypted: BERTH_ENCRYPTION_KEYS "
            "does not hold the key it was encrypted with."
        ) from e
