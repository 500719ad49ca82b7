"""Shared pieces of the template schema: located records, typed reading, plain export."""

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.common.rounding import NotANumber, parse_decimal
from app.common.yamlfile import MarkedDict, MarkedList, Problems, line_of

#: Codes of BOM items, equipment types, yield stages, samples, unit procedures, operations.
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]*\Z")
#: Step codes: '<unit procedure>.<operation>.<step>', e.g. 'UP1.OP2.S3'.
STEP_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]*\.[A-Z0-9][A-Z0-9_-]*\.[A-Z0-9][A-Z0-9_-]*\Z")
#: Input names: snake_case identifiers, so 'STEP.input' references split on the last dot.
NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
INTEGER_RE = re.compile(r"[+-]?[0-9]+\Z")


@dataclass(frozen=True, kw_only=True)
class Located:
    """A record that remembers its source line and the line of each of its keys."""

    line: int = field(default=0, compare=False, repr=False)
    # A plain dict (not a proxy) so records deep-copy and pickle; nothing writes to it.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, key: str) -> int:
        """Return the line of `key` in the source, or the record's own line."""
        return self.lines.get(key, self.line)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-serializable data (Decimals as strings, no lines)."""
        return {
            f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in ("line", "lines")
        }


def plain(value: Any) -> Any:
    """Convert a parsed value into JSON data; Decimals keep their written digits as strings."""
    if isinstance(value, Located):
        return value.to_dict()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


class _Line:
    """A bare line number that `Problems.add` can report at."""

    def __init__(self, line: int):
        self.line = line


def problem_at(problems: Problems, line: int, message: str) -> None:
    """Record a problem at a known line."""
    problems.add(_Line(line), message)


def describe(value: Any) -> str:
    """Name a YAML value's kind for a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean; quote it if text was meant)"
    if isinstance(value, MarkedDict):
        return "a mapping"
    if isinstance(value, MarkedList):
        return "a list"
    return repr(value)


class Reader:
    """Typed access to one YAML mapping; each problem is reported at its line, never raised."""

    def __init__(
        self,
        node: Any,
        problems: Problems,
        context: str,
        keys: Iterable[str],
        required: Iterable[str] = (),
        line: int = 0,
    ):
        self.problems = problems
        self.context = context
        if isinstance(node, MarkedDict):
            self.node = node
        else:
            self.node = MarkedDict()
            self.node.line, self.node.key_lines = line_of(node) or line, {}
            self.problem(f"must be a mapping of keys, not {describe(node)}")
        self._check_keys(tuple(keys), tuple(required))

    def _check_keys(self, keys: tuple[str, ...], required: tuple[str, ...]) -> None:
        for key in self.node:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(keys)}"
                self.problem(f"unknown key '{key}' ({hint})", key)
        for key in required:
            if key not in self.node:
                self.problem(f"missing required key '{key}'")

    @property
    def line(self) -> int:
        return self.node.line

    @property
    def lines(self) -> dict[str, int]:
        return dict(self.node.key_lines)

    def problem(self, message: str, key: str | None = None) -> None:
        """Record a problem at the mapping (or at one of its keys)."""
        self.problems.add(self.node, f"{self.context}: {message}", key)

    def has(self, key: str) -> bool:
        return key in self.node

    def text(self, key: str) -> str | None:
        """Read non-empty text; None when absent or wrong."""
        if key not in self.node:
            return None
        value = self.node[key]
        if not isinstance(value, str):
            self.problem(f"'{key}' must be text, not {describe(value)}", key)
            return None
        if not value.strip():
            self.problem(f"'{key}' must not be empty", key)
            return None
        return value.strip()

    def code(self, key: str, pattern: re.Pattern[str] = CODE_RE, example: str = "BSC") -> str | None:
        """Read a code that matches `pattern`."""
        value = self.text(key)
        if value is not None and not pattern.match(value):
            self.problem(f"'{key}' {value!r} is not a valid code (e.g. '{example}')", key)
            return None
        return value

    def flag(self, key: str, default: bool) -> bool:
        """Read true/false, with a default when absent."""
        value = self.node.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"'{key}' must be true or false, not {describe(value)}", key)
            return default
        return value

    def integer(self, key: str, minimum: int | None = None) -> int | None:
        """Read a whole number written without decimals, at least `minimum`."""
        if key not in self.node:
            return None
        value = self.node[key]
        if not isinstance(value, str) or not INTEGER_RE.match(value.strip()):
            self.problem(f"'{key}' must be a whole number, not {describe(value)}", key)
            return None
        number = int(value)
        if minimum is not None and number < minimum:
            self.problem(f"'{key}' must be at least {minimum}, not {number}", key)
            return None
        return number

    def decimal(self, key: str, positive: bool = False) -> Decimal | None:
        """Read a finite decimal number exactly as written."""
        if key not in self.node:
            return None
        value = self.node[key]
        try:
            if not isinstance(value, str):
                raise NotANumber(value)
            number = parse_decimal(value)
        except NotANumber:
            self.problem(f"'{key}' must be a number, not {describe(value)}", key)
            return None
        if positive and number <= 0:
            self.problem(f"'{key}' must be greater than zero, not {number}", key)
            return None
        return number

    def items(self, key: str, non_empty: bool = False) -> list[tuple[Any, int]]:
        """Read a list as (item, line) pairs; [] when absent or wrong."""
        if key not in self.node:
            return []
        value = self.node[key]
        if not isinstance(value, MarkedList):
            self.problem(f"'{key}' must be a list, not {describe(value)}", key)
            return []
        if non_empty and not value:
            self.problem(f"'{key}' must not be empty", key)
        return list(zip(value, value.item_lines, strict=True))

    def sub(self, key: str, context: str, keys: Iterable[str], required: Iterable[str] = ()) -> "Reader | None":
        """Return a reader for a nested mapping, or None when the key is absent."""
        if key not in self.node:
            return None
        line = self.node.key_lines[key]
        return Reader(self.node[key], self.problems, context, keys, required, line)
