"""JSON from a user, parsed once for every endpoint and form that takes it.

`json.loads` alone lets three kinds of bad input through as something other
than a ValueError (a 500 at the caller): nesting deep enough to exhaust
Python's recursion (RecursionError), and escaped lone surrogates ("\\ud800")
that parse into a str no database or encoder will take later. Here all bad
input is one exception with a message that says what to fix.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Far deeper than any real settings list or API body, far shallower than
# Python's recursion limit.
MAX_DEPTH = 64


class BadJson(ValueError):
    """The text is not JSON Berth can take; the message says why."""


def loads(data: str | bytes) -> Any:
    """Parse `data`; raise BadJson (a ValueError) for anything malformed."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadJson(
                f"The body is not valid UTF-8 (byte {e.start}): send JSON encoded as UTF-8"
            ) from e
    if _depth(data) > MAX_DEPTH:
        raise BadJson(f"The JSON is nested more than {MAX_DEPTH} levels deep: flatten it")
    try:
        value = json.loads(data)
    except RecursionError as e:  # depth counted above; kept as a second guard
        raise BadJson(f"The JSON is nested too deep: keep it under {MAX_DEPTH} levels") from e
    except json.JSONDecodeError as e:
        raise BadJson(f"The JSON is not valid: {e}") from e
    _check_text(value)
    return value


# A string (possibly unterminated) or one bracket: strings are skipped whole.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, in one pass without
    recursion (an upper bound: the text may not parse at all)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _check_text(value: Any) -> None:
    """Refuse strings (keys too) that are not valid Unicode: lone surrogates."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as e:
                bad = item[e.start]
                raise BadJson(
                    f"The JSON holds a lone surrogate (\\u{ord(bad):04x}), which is not a "
                    "character: send text as valid UTF-8"
                ) from e
