"""Stored master batch record versions: the exact YAML QA approved, never edited."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import UniqueConstraint

from app.audit.capture import Auditable
from app.extensions import db
from app.mbr.schema import TemplateDef, parse_template
from app.mbr.versioning import DefinitionStatus, VersionedDefinition

TemplateStatus = DefinitionStatus


@lru_cache(maxsize=64)
def _parsed(source_sha256: str, source_text: str, filename: str) -> TemplateDef:
    # Keyed by the content hash of immutable text: a cache of a pure function, not of GMP state.
    return parse_template(source_text, filename)


class TemplateVersion(VersionedDefinition, Auditable, db.Model):
    """One version (and revision) of a master batch record; lots bind to it for life."""

    __tablename__ = "mbr_versions"
    __table_args__ = (UniqueConstraint("code", "version", "revision"),)

    @property
    def definition(self) -> TemplateDef:
        """The parsed template (validated when it was loaded)."""
        return _parsed(self.source_sha256, self.source_text, self.source_file)
