"""Read the keys and typed values of a specification mapping, reporting what is wrong.

A reader records each problem at its key's line and returns None instead of raising, so
parsing goes on and every problem of a file is reported at once.
"""

from __future__ import annotations

import re
from decimal import Decimal

from app.common.rounding import NotANumber, parse_decimal
from app.common.yamlfile import MarkedDict, Problems

_CODE = re.compile(r"[A-Z0-9]+(?:[-_.][A-Z0-9]+)*")
_INTEGER = re.compile(r"\d+", re.ASCII)


def check_keys(
    problems: Problems,
    mapping: MarkedDict,
    what: str,
    allowed: tuple[str, ...],
    required: tuple[str, ...],
) -> None:
    """Refuse unknown keys (a typo must not silently drop a limit) and report missing ones."""
    for key in mapping:
        if key not in allowed:
            problems.add(mapping, f"{what}: unknown key {key!r} (allowed: {', '.join(allowed)})", key)
    for key in required:
        if key not in mapping:
            problems.add(mapping, f"{what}: missing required key {key!r}")


def read_text(problems: Problems, mapping: MarkedDict, key: str, what: str) -> str | None:
    """Return a non-empty text value, or report it; a missing key was reported already."""
    if key not in mapping:
        return None
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        problems.add(mapping, f"{what}: {key!r} must be non-empty text", key)
        return None
    return value.strip()


def read_code(problems: Problems, mapping: MarkedDict, key: str, what: str) -> str | None:
    """Return an upper-case code such as "XS411-DA-NPC", or report it."""
    value = read_text(problems, mapping, key, what)
    if value is not None and not _CODE.fullmatch(value):
        problems.add(
            mapping, f"{what}: {key} {value!r} must be upper-case letters, digits and single - _ . separators", key
        )
        return None
    return value


def read_bool(problems: Problems, mapping: MarkedDict, key: str, what: str) -> bool | None:
    """Return a YAML true/false, or report it."""
    value = mapping.get(key)
    if not isinstance(value, bool):
        problems.add(mapping, f"{what}: {key!r} must be true or false", key)
        return None
    return value


def read_integer(problems: Problems, mapping: MarkedDict, key: str, what: str) -> int | None:
    """Return a non-negative integer written without a decimal point, or report it."""
    value = mapping.get(key)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    problems.add(mapping, f"{what}: {key!r} must be a non-negative integer, not {value!r}", key)
    return None


def read_decimal(problems: Problems, mapping: MarkedDict, key: str, what: str) -> Decimal | None:
    """Return an exact Decimal from the number as written, or report it."""
    value = mapping.get(key)
    if isinstance(value, str):
        try:
            return parse_decimal(value)
        except NotANumber:
            pass
    problems.add(mapping, f"{what}: {key!r} must be a number, not {value!r}", key)
    return None
