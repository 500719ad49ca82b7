"""Stored QC specification versions (same lifecycle as master batch records)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import UniqueConstraint

from app.audit.capture import Auditable
from app.extensions import db
from app.mbr.versioning import VersionedDefinition
from app.qc.spec_schema import SpecDef, parse_spec


@lru_cache(maxsize=64)
def _parsed(source_sha256: str, source_text: str, filename: str) -> SpecDef:
    # Keyed by the content hash of immutable text: a cache of a pure function, not of GMP state.
    return parse_spec(source_text, filename)


class SpecVersion(VersionedDefinition, Auditable, db.Model):
    """One version (and revision) of a release specification; lots are tested against it."""

    __tablename__ = "qc_spec_versions"
    __table_args__ = (UniqueConstraint("code", "version", "revision"),)

    @property
    def definition(self) -> SpecDef:
        return _parsed(self.source_sha256, self.source_text, self.source_file)
