"""Read a page's form the way a browser would submit it, so view tests can
drive the Configuration page's pending edits without JavaScript."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormParser(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button"):
                return
            if kind == "checkbox" and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []
        elif tag == "select" and a.get("name") and "disabled" not in a:
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            # The HTML parser drops one newline right after <textarea>.
            if text.startswith("\n"):
                text = text[1:]
            self.fields.append((self._textarea, text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = next((v for v, sel in self._options if sel), None)
            if chosen is None and self._options:
                chosen = self._options[0][0]
            self.fields.append((self._select, chosen or ""))
            self._select = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)


def form_fields(html: str | bytes, form_id: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the form with this id would submit."""
    if isinstance(html, bytes):
        html = html.decode()
    parser = _FormParser(form_id)
    parser.feed(html)
    return parser.fields


def as_post(fields: list[tuple[str, str]], **extra: str) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    for name, value in extra.items():
        data[name] = [value]
    return data
