"""Canonical JSON: the one serialization that hashes (audit chain, signatures, documents) use."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.common.timeutil import format_utc


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTC ISO times, Decimals as strings; floats are refused."""
    _refuse_floats(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def _refuse_floats(value: Any) -> None:
    # A float in hashed content would make the hash depend on binary rounding.
    if isinstance(value, float):
        raise TypeError("floats are not allowed in GMP records; use Decimal")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


def sha256_hex(text: str | bytes) -> str:
    """SHA-256 hex digest of text (UTF-8) or bytes."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of a value."""
    return sha256_hex(canonical_json(value))
