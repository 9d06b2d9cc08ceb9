"""The engine's RFC 3339 times with nanoseconds, as integers and back: what
the log stream and the log archive both count in."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ns(stamp: str) -> int:
    """The engine's RFC 3339 time (nanoseconds, Z) as integer nanoseconds; 0 if unreadable."""
    if not stamp:
        return 0
    stamp = stamp.strip().rstrip("Z")
    whole, _, frac = stamp.partition(".")
    try:
        seconds = int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return 0
    digits = "".join(c for c in frac if c.isdigit())[:9].ljust(9, "0")
    return seconds * 1_000_000_000 + int(digits)


def ns_to_since(ns: int) -> str:
    """Nanoseconds as the engine's `since` ("seconds.nanoseconds")."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
