"""YAML definitions (master batch records, QC specifications) loaded with line numbers.

Every mapping and list remembers the line of each key/item, so a schema check can refuse a
file with "file:line: problem" messages, as QA needs to fix a definition quickly.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml


class DefinitionError(Exception):
    """A definition file is invalid; `problems` are 'file:line: message' strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class MarkedDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class MarkedList(list):
    """A list that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers and refuses duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> MarkedDict:
    result = MarkedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    # Numbers stay text: limits such as 0.10 must keep their written decimals for Decimal.
    return loader.construct_scalar(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
    _Loader.add_constructor(_tag, _construct_str)


def load_marked(text: str, filename: str) -> Any:
    """Parse YAML text; numbers come back as their source text, containers carry lines."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([f"{filename}:{line}: YAML syntax: {problem}"]) from None
    except (ValueError, OverflowError) as exc:  # an impossible timestamp (2026-02-30) fails to construct
        raise DefinitionError([f"{filename}:0: YAML value: {exc}"]) from None


def sha256_text(text: str) -> str:
    """SHA-256 of a definition's exact source text (what QA approved)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Problems:
    """Collects schema problems with file and line; raise all at once at the end."""

    def __init__(self, filename: str):
        self.filename = filename
        self.items: list[str] = []

    def add(self, where: Any, message: str, key: Any = None) -> None:
        """Record a problem at a container (or at one of its keys / items)."""
        self.items.append(f"{self.filename}:{line_of(where, key)}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise DefinitionError(self.items)


def line_of(where: Any, key: Any = None) -> int:
    """Best line for a container, or for one of its keys (dict) or indexes (list)."""
    if isinstance(where, MarkedDict) and key is not None and key in where.key_lines:
        return where.key_lines[key]
    if isinstance(where, MarkedList) and isinstance(key, int) and key < len(where.item_lines):
        return where.item_lines[key]
    return getattr(where, "line", 0)
