"""Versioned definitions loaded from YAML (master batch records, QC specifications).

Both share one lifecycle: Draft -> Approved (QA e-signature) -> Effective (from a date) ->
Superseded (when the next version becomes Effective) -> Retired. The source text is stored
exactly as loaded and never changes; a changed file becomes a new revision.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.roles import QA
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.signatures.services import SignatureRule

Parsed = TypeVar("Parsed")
#: Parsed definitions by table and content hash. The stored text never changes (a changed file is
#: a new revision), so this caches a pure function of it, not GMP state; keyed by the hash alone,
#: a lot's pages need not read the text (70+ KB per master batch record) on every request.
_PARSED: OrderedDict[tuple[str, str], Any] = OrderedDict()
PARSED_CACHE_SIZE = 64


class DefinitionStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class VersionedDefinition:
    """Columns and signing rules shared by every versioned YAML definition table."""

    __audit_workflow_fields__ = frozenset({"status", "approved_at", "effective_from", "superseded_at", "retired_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    #: The version declared in the file.
    version: Mapped[int]
    #: 1 for the first load of a version; a changed file of the same version is the next one.
    revision: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(80))
    status: Mapped[DefinitionStatus] = mapped_column(str_enum(DefinitionStatus), default=DefinitionStatus.DRAFT)
    source_file: Mapped[str] = mapped_column(String(200))
    #: The exact YAML text loaded; what QA approves is its SHA-256. Read only when used (the
    #: parsed definition is cached by that hash).
    source_text: Mapped[str] = mapped_column(Text, deferred=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The author (who loaded it); None for the server console. Authors cannot approve.
    loaded_by_id: Mapped[int | None]
    loaded_by_name: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    effective_from: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]

    def _parsed(self, parse: Callable[[str, str], Parsed]) -> Parsed:
        """The source parsed by `parse` (validated when it was loaded); the text is read only
        when this process has not parsed it yet."""
        key = (self.__tablename__, self.source_sha256)  # type: ignore[attr-defined]
        found = _PARSED.get(key)
        if found is None:
            found = _PARSED[key] = parse(self.source_text, self.source_file)
            if len(_PARSED) > PARSED_CACHE_SIZE:
                _PARSED.popitem(last=False)
        return found

    @property
    def label(self) -> str:
        return f"{self.code} v{self.version}.{self.revision}"

    def signed_content(self) -> dict[str, Any]:
        return {"code": self.code, "version": self.version, "revision": self.revision,
                "source_sha256": self.source_sha256}  # fmt: skip

    def signature_rule(self, meaning: str) -> SignatureRule:
        excluded = {}
        if self.loaded_by_id is not None:
            excluded[self.loaded_by_id] = "The author of a version cannot approve it."
        roles = frozenset({QA}) if meaning == "approved" else frozenset()
        return SignatureRule(roles, excluded)
