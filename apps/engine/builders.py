"""How a runtime image gets made: placeholder, filled in next."""

from __future__ import annotations


def how_to_build(version: str) -> str:
    return ""


def why_unavailable(version: str) -> str:
    return "not implemented yet"
