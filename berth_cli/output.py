"""--query and -o, as az (knack) does them, so az scripts read the same."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jmespath
import jmespath.exceptions

from berth_cli.errors import CliError

FORMATS = ("json", "jsonc", "tsv", "table", "none")


def compile_query(expression: str | None):
    if not expression:
        return None
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.ParseError as e:
        raise CliError(f"argument --query: invalid jmespath_type value: {expression!r}", 2) from e


def apply_query(result: Any, expression: str | None) -> Any:
    compiled = compile_query(expression)
    if compiled is None:
        return result
    try:
        return compiled.search(result, jmespath.Options(dict_cls=dict))
    except jmespath.exceptions.JMESPathError as e:
        raise CliError(f"--query {expression!r} failed: {e}") from e


def format_json(result: Any) -> str:
    # knack: two-space indent, keys sorted, non-ASCII kept.
    return json.dumps(result, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


_TOKEN = re.compile(
    r'(?P<key>"(?:[^"\\]|\\.)*"(?=\s*:))|(?P<str>"(?:[^"\\]|\\.)*")'
    r"|(?P<lit>\b(?:true|false|null)\b)|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
)
_COLORS = {"key": "\x1b[94m", "str": "\x1b[32m", "lit": "\x1b[95m", "num": "\x1b[33m"}


def format_jsonc(result: Any) -> str:
    def paint(m: re.Match) -> str:
        return f"{_COLORS[m.lastgroup]}{m.group(0)}\x1b[0m"

    return _TOKEN.sub(paint, format_json(result))


def _tsv_value(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict):
        return ""
    return value if isinstance(value, str) else str(value)


def format_tsv(result: Any) -> str:
    """knack's TSV: one row per item; a dict's values in key order; nested
    lists as their length, nested objects empty; null as None."""
    rows = result if isinstance(result, list) else [result]
    out = []
    for row in rows:
        if isinstance(row, dict):
            out.append("\t".join(_tsv_value(v) for _, v in sorted(row.items())))
        elif isinstance(row, list):
            out.append("\t".join(_tsv_value(v) for v in row))
        elif isinstance(row, bool):
            out.append(str(row).lower())
        else:
            out.append(_tsv_value(row))
    return "".join(line + "\n" for line in out)


def _header(key: str) -> str:
    # knack capitalises the first letter of each column name.
    return key[:1].upper() + key[1:]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    return str(value)


def format_table(result: Any) -> str:
    """knack's table: scalar columns only, in the order keys first appear,
    headers capitalised, dashes under them, two spaces between columns."""
    if result is None or result == [] or result == {}:
        return ""
    rows = result if isinstance(result, list) else [result]
    if not all(isinstance(r, dict) for r in rows):
        rows = [{"Result": r} for r in rows]
    columns: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key not in columns and not isinstance(value, (dict, list)):
                columns.append(key)
    if not columns:
        return ""
    headers = [_header(c) for c in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    return "\n".join(out) + "\n"


def render(
    result: Any,
    *,
    output: str = "json",
    query: str | None = None,
    table_transform: Callable[[Any], Any] | None = None,
) -> str:
    if output == "none":
        return ""
    if table_transform is not None and output == "table" and not query:
        result = table_transform(result)
    result = apply_query(result, query)
    if result is None:
        return ""
    if output == "json":
        return format_json(result)
    if output == "jsonc":
        return format_jsonc(result)
    if output == "tsv":
        return format_tsv(result)
    if output == "table":
        return format_table(result)
    raise CliError(f"Unknown output format {output!r}: use one of {', '.join(FORMATS)}.", 2)
