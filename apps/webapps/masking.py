"""Secret values masked as *** in every log Berth shows or stores.

What counts as a secret (`worth_masking`): every app setting, connection
string and the publishing password, except values that would mask half the
log and hide nothing:
- shorter than 4 characters, or a flag (true, false, yes, no, on, off, none,
  null);
- a number (PORT=8000, WORKERS=4, TIMEOUT=30000) with fewer than 6 digits,
  unless its setting's name says it is a secret (PIN, PASSWORD, SECRET,
  TOKEN, KEY, ...) and not a measure (TTL, TIMEOUT, DAYS, PORT, ...):
  PIN_CODE=8473 is masked, WORKERS=4 and TOKEN_TTL=3600 are not. A masked
  number is matched as a whole number only: 84736251 is not masked inside
  1847362519.

The forms a value may take in a log (`forms`): as it is; URL-encoded (quote,
quote_plus, with or without '/' kept, %-escapes in either case); JSON- and
repr-escaped; each line of a value of several lines (a PEM key); base64,
standard and URL-safe, of the value alone and inside a longer base64 text at
each of the 3 byte alignments (how Basic auth carries `user:password`, how a
token sits in a JWT), the way GitHub Actions masks a secret's base64: the
characters that depend only on the value are masked, the one at each edge
that mixes in its neighbours' bits is not (unless the value ends the text).

A secret split across two adjacent lines (a line ends with the start of a
secret, the next begins with the rest) is masked in both: `LineMasker`
carries what the previous line ends with to the next, and holds back a line
that ends with at least HOLD characters of a secret's start until the next
line says whether it goes on (a live stream releases it after HOLD_SECONDS).

All forms of a set of secrets are one compiled pattern (a trie, so common
starts are tried once), cached per set: a line costs one regular-expression
scan and a few dictionary look-ups, never a pass per secret.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Generic, TypeVar
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4  # characters: anything shorter is masked nowhere
MIN_DIGITS = 6  # a number this long is masked whatever its setting's name
HOLD = 4  # a line ending with this many characters of a secret waits for the next
HOLD_SECONDS = 1.0  # ... for at most this long in a live stream

_FLAGS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null"})
_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")
# One part of a setting's name (split at '_', '-', ':', '.') that says
# secret, and one that says the number is a measure, not a secret
# (TOKEN_TTL=3600, KEY_ROTATION_DAYS=90).
_SECRET_PART = re.compile(
    r"PIN|PASS|PWD|KEY|OTP|SALT|CVV|SIGNATURE|CREDENTIALS?"
    r"|.*(?:PASSWORD|PASSWD|PASSCODE|SECRET|TOKEN|APIKEY)",
    re.IGNORECASE,
)
_MEASURE_PART = re.compile(
    r"TTL|AGE|TIMEOUT|EXPIRY|EXPIRES|LIFETIME|SECONDS?|MINUTES?|HOURS?|DAYS?|MS"
    r"|LENGTH|LEN|SIZE|COUNT|MAX|MIN|LIMIT|RETRIES|PORT|VERSION|WORKERS|THREADS",
    re.IGNORECASE,
)
_HEX_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_URL_SAFE = str.maketrans("+/", "-_")


def looks_secret(name: str) -> bool:
    """Whether a setting's name says its value is a secret even if it is a
    short number: PIN_CODE, DB_PASSWORD, API_KEY; not TOKEN_TTL."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return any(_SECRET_PART.fullmatch(p) for p in parts) and not any(
        _MEASURE_PART.fullmatch(p) for p in parts
    )


def worth_masking(name: str, value: str) -> bool:
    """Whether the value of setting `name` is masked in logs (see the module's
    docstring for the rule and why)."""
    plain = value.strip()
    if len(plain) < MIN_LENGTH or plain.lower() in _FLAGS:
        return False
    if _NUMBER.fullmatch(plain):
        digits = sum(c.isdigit() for c in plain)
        return digits >= MIN_DIGITS or looks_secret(name)
    return True


def masking_forms(settings: Iterable[tuple[str, str]]) -> list[str]:
    """The forms worth masking of each (name, value), longest first."""
    found: set[str] = set()
    for name, value in settings:
        if value and worth_masking(name, value):
            found.update(f for f in forms(value) if len(f) >= MIN_LENGTH)
    return sorted(found, key=lambda f: (-len(f), f))


def forms(value: str) -> set[str]:
    """`value` as it may appear in a log: plain, URL-encoded, JSON- or
    repr-escaped, base64."""
    found = {value, repr(value)[1:-1]}
    for escaped in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        found.update((escaped, escaped.replace("/", "\\/")))
    for encoded in (
        quote(value, safe=""),
        quote(value),
        quote(value, safe="!'()*~"),  # JavaScript's encodeURIComponent
        quote_plus(value),
        quote_plus(value, safe="/"),
    ):
        # Lower-case escapes (%2f) are matched too: see _pieces().
        found.add(encoded)
    # A value of several lines (a PEM key) is printed a line at a time:
    # each line is masked wherever it stands.
    found.update(line for line in value.splitlines() if len(line.strip()) >= MIN_LENGTH)
    try:
        raw = value.encode()
    except UnicodeError:  # a lone surrogate: it cannot be printed as UTF-8 either
        return found
    for core in base64_cores(raw):
        found.update((core, core.translate(_URL_SAFE)))
    return found


def base64_cores(raw: bytes) -> list[str]:
    """The base64 characters that encode `raw` and nothing else, for each of
    the 3 places it may start at inside a longer base64 text; and, where it
    ends that text (the password of Basic auth does), with its last
    character and padding."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode()
        first = -(-8 * offset // 6)  # the first character holding no bit of the padding
        last = 8 * (offset + len(raw)) // 6  # past the last one holding only raw's bits
        cores += [encoded[first:last], encoded[first:], encoded[first:].rstrip("=")]
    return cores


# --- the compiled pattern -----------------------------------------------------------

Span = tuple[int, int]
# What a line ends with: the secret starts (form, k) it ends with, and the line.
Ending = tuple[Sequence[tuple[str, int]], str]


class Masker:
    """The masking of one set of secret forms, built once (`masker()` caches
    it per set): one pattern for the forms within a line, and an index of
    their starts for a form split across two lines."""

    def __init__(self, secrets: Sequence[str]) -> None:
        ordered = sorted({s for s in secrets if s}, key=lambda f: (-len(f), f))
        self.pattern = re.compile(_trie(ordered)) if ordered else None
        self.numbers = frozenset(s for s in ordered if _DIGITS.fullmatch(s))
        self.several_lines = [s for s in ordered if "\n" in s]
        # The start of a form, f[:k], that a line may end with, by its
        # last n = min(k, HOLD) characters: n dictionary look-ups a line.
        self.starts: list[dict[str, list[tuple[str, int]]]] = [{} for _ in range(HOLD)]
        for form in {v for f in ordered for v in (f, _HEX_ESCAPE.sub(_lower, f))}:
            for k in range(1, len(form)):
                n = min(k, HOLD)
                self.starts[n - 1].setdefault(form[k - n : k], []).append((form, k))

    def scan(self, before: Ending, text: str) -> tuple[list[Span], list[Span], Ending]:
        """Where secrets are in `text`, read after a line that ended with
        `before` (what `ending()` said of it): the spans to mask at the end
        of that line (a secret that began there), those in `text`, and what
        `text` ends with, for the next line."""
        if self.pattern is None:
            return [], [], ((), "")
        in_text: list[Span] = []
        for m in self.pattern.finditer(text):
            start, end = m.span()
            if m.group() in self.numbers and not _whole_number(text, start, end):
                continue
            in_text.append((start, end))
        in_before: list[Span] = []
        starts, previous = before
        for f, k in starts:
            rest = f[k:]
            if not text.startswith(rest):
                continue
            if f in self.numbers and not (
                _whole_number(previous, len(previous) - k, len(previous))
                and _whole_number(text, 0, len(rest))
            ):
                continue
            in_before.append((len(previous) - k, len(previous)))
            in_text.append((0, len(rest)))
        return in_before, in_text, self.ending(text)

    def ending(self, text: str) -> Ending:
        """The (form, k) whose start f[:k] `text` ends with, and `text`."""
        text = text.rstrip("\r")
        found: list[tuple[str, int]] = []
        for n, index in enumerate(self.starts, 1):
            if n > len(text):
                break
            if starts := index.get(text[-n:]):
                # Up to HOLD characters the key is the whole start.
                found += starts if n < HOLD else [(f, k) for f, k in starts if text.endswith(f[:k])]
        return found, text

    def lines(self, texts: Iterable[str]) -> list[str]:
        """A batch of consecutive lines, masked (a secret split across two
        of them too)."""
        stream: LineMasker[None] = LineMasker(self)
        out: list[str] = []
        for text in texts:
            out.extend(masked for _, masked in stream.push(None, text))
        out.extend(masked for _, masked in stream.end())
        return out

    def text(self, text: str) -> str:
        """A whole text, masked line by line (a secret split across two
        lines too)."""
        if self.pattern is None:
            return text
        if "\n" not in text:
            return _masked(text, self.scan(((), ""), text)[1])
        for value in self.several_lines:  # whole, before its lines one by one
            text = text.replace(value, MASK)
        return "\n".join(self.lines(text.split("\n")))


def _trie(words: Sequence[str]) -> str:
    """One pattern matching any of `words`, the longest where several start
    at the same place, written as a trie: words with a common start share
    it, so the regular-expression engine tries each start once, and skips
    at once the characters no word starts with."""
    root: dict = {}
    for word in words:
        node = root
        for piece in _pieces(word):
            node = node.setdefault(piece, {})
        node[""] = {}  # a word ends here

    def branches(node: dict) -> str:
        alternatives = []
        for piece in sorted(k for k in node if k):
            run, child = piece, node[piece]
            # A run of characters with one way on: written as one literal.
            while len(child) == 1 and "" not in child:
                (piece, child), *_ = child.items()
                run += piece
            alternatives.append(run + branches(child))
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        # Greedy: the longer word first, this one if none goes on.
        return f"(?:{body})?" if "" in node else body

    return branches(root)


def _pieces(word: str) -> list[str]:
    """`word` as pieces of a pattern, one a character; the hex digits of a
    %-escape match either case (%2F, %2f)."""
    pieces = []
    escapes = {m.start() + i for m in _HEX_ESCAPE.finditer(word) for i in (1, 2)}
    for i, ch in enumerate(word):
        if i in escapes and ch.isalpha():
            pieces.append(f"[{ch.upper()}{ch.lower()}]")
        else:
            pieces.append(re.escape(ch))
    return pieces


def _lower(m: re.Match[str]) -> str:
    return m.group().lower()


def _whole_number(text: str, start: int, end: int) -> bool:
    """A number secret is masked as a whole number only, not inside another
    (text[start:end] is not preceded nor followed by a digit)."""
    return not (start > 0 and text[start - 1].isdigit()) and not (
        end < len(text) and text[end].isdigit()
    )


def _masked(text: str, spans: list[Span]) -> str:
    out: list[str] = []
    at = 0
    for start, end in sorted(spans):
        if end <= at or start == end:
            continue  # inside one masked already
        if start >= at:
            out += [text[at:start], MASK]
        at = end
    out.append(text[at:])
    return "".join(out)


@lru_cache(maxsize=64)
def _cached(secrets: tuple[str, ...]) -> Masker:
    return Masker(secrets)


def masker(secrets: Sequence[str]) -> Masker:
    """The Masker of `secrets` (their forms, as `masking_forms` gives them),
    compiled once per set."""
    return _cached(tuple(secrets))


def mask(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by ***; a multi-line text is masked
    line by line, a secret split across two lines too. Mask whole lines (or
    whole texts), never raw chunks of a stream, or use a LineMasker."""
    return masker(secrets).text(text)


# --- lines of a stream ------------------------------------------------------------------

T = TypeVar("T")


class LineMasker(Generic[T]):
    """Masks the lines of one stream in order, each with the item it belongs
    to (a LogLine, an event), carrying the previous line's tail to the next:

        stream = LineMasker(masker(secrets))
        for item in source:
            for item, text in stream.push(item, item.text):
                emit(item, text)
        for item, text in stream.end():
            emit(item, text)

    push() returns nothing while it holds a line back (it ends with the start
    of a secret), then that line and the next one; release() (a live stream,
    after HOLD_SECONDS of quiet) and end() give back a held line as it is."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self.before: Ending = ((), "")  # how the previous line ended
        self.held: tuple[T, str, list[Span]] | None = None

    def push(self, item: T, text: str) -> list[tuple[T, str]]:
        in_before, in_text, ending = self.masker.scan(self.before, text)
        ready: list[tuple[T, str]] = []
        if self.held is not None:
            held_item, held_text, spans = self.held
            ready.append((held_item, _masked(held_text, spans + in_before)))
            self.held = None
        self.before = ending
        if any(k >= HOLD for _, k in ending[0]):
            self.held = (item, text, in_text)
        else:
            ready.append((item, _masked(text, in_text)))
        return ready

    def peek(self, text: str) -> list[str]:
        """The held line and `text`, an incomplete line after it, masked as
        they stand, without taking them: the held line's end that may be a
        secret's start is masked too, in case it is one."""
        in_before, in_text, _ = self.masker.scan(self.before, text)
        if self.held is None:
            return [_masked(text, in_text)]
        _, held_text, spans = self.held
        starts, held_line = self.before
        k = max(k for _, k in starts)
        maybe = [(len(held_line) - k, len(held_line))]
        return [_masked(held_text, spans + in_before + maybe), _masked(text, in_text)]

    def release(self) -> list[tuple[T, str]]:
        """The held line, if any (its next line did not come in time); the
        next line is still read after it."""
        if self.held is None:
            return []
        item, text, spans = self.held
        self.held = None
        return [(item, _masked(text, spans))]

    def end(self) -> list[tuple[T, str]]:
        ready = self.release()
        self.before = ((), "")
        return ready
