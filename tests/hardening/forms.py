"""Read the forms of a page as a browser would: action, method and each field's default value."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class Field:
    name: str
    kind: str  # input type (text, password, hidden, checkbox, radio, date, file ...), select, textarea
    value: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, Field] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)  # named submit buttons and their values


class _Parser(HTMLParser):
    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urlsplit(a.get("action") or self.page_path).path
            self._form = Form(action, (a.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image"):
                form.buttons.setdefault(name, []).append(a.get("value", ""))
            elif kind in ("checkbox", "radio"):
                existing = form.fields.setdefault(name, Field(name, kind))
                existing.options.append(a.get("value", "y"))
                if "checked" in a:
                    existing.value = a.get("value", "y")
            else:
                form.fields[name] = Field(name, kind, a.get("value", ""))
        elif tag == "button" and (a.get("type") or "submit") == "submit":
            form.buttons.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select":
            self._select = form.fields.setdefault(name, Field(name, "select"))
        elif tag == "option" and self._select is not None:
            self._select.options.append(a.get("value", ""))
            if "selected" in a:
                self._select.value = a.get("value", "")
        elif tag == "textarea":
            self._textarea = form.fields.setdefault(name, Field(name, "textarea"))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_forms(html: str, page_path: str) -> list[Form]:
    parser = _Parser(page_path)
    parser.feed(html)
    return parser.forms
