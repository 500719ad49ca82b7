"""Stored master batch record versions: the exact YAML QA approved, never edited."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint

from app.audit.capture import Auditable
from app.extensions import db
from app.mbr.schema import TemplateDef, parse_template
from app.mbr.versioning import DefinitionStatus, VersionedDefinition

TemplateStatus = DefinitionStatus


class TemplateVersion(VersionedDefinition, Auditable, db.Model):
    """One version (and revision) of a master batch record; lots bind to it for life."""

    __tablename__ = "mbr_versions"
    __table_args__ = (UniqueConstraint("code", "version", "revision"),)

    @property
    def definition(self) -> TemplateDef:
        """The parsed template (validated when it was loaded)."""
        return self._parsed(parse_template)
