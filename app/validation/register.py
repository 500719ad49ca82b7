"""The requirement register (docs/requirements.yaml): load it and refuse a malformed one.

Kept free of Flask and SQLAlchemy imports: the pytest plugin loads it in every run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REGISTER_PATH = Path(__file__).resolve().parents[2] / "docs" / "requirements.yaml"
ID_PATTERN = re.compile(r"URS-[A-Z]{2,4}-\d{3}")
RISKS = ("high", "medium", "low")
AREAS = {
    "ACC": "Access control and identity", "SEC": "Application security", "AUD": "Audit trail",
    "SIG": "Electronic signatures", "MBR": "Master batch records", "EXE": "Batch execution",
    "MAT": "Materials and equipment", "TRN": "Training", "DEV": "Deviations", "QC": "Quality control",
    "REL": "Review and release", "DOC": "Documents", "DAT": "Data integrity, retention and backup",
    "VAL": "Validation pack", "PRF": "Performance at the scale of a site",
}  # fmt: skip
_REQUIREMENT_KEYS = {"id", "statement", "sources", "risk", "procedural", "withdrawn"}
_SOURCE_KEYS = {"title", "matrix", "procedural"}


class RegisterError(ValueError):
    """The register file is malformed; the message lists every problem."""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    matrix: bool
    procedural: str | None


@dataclass(frozen=True)
class Requirement:
    id: str
    statement: str
    sources: tuple[str, ...]
    risk: str
    procedural: str | None = None
    withdrawn: str | None = None

    @property
    def area(self) -> str:
        return self.id.split("-")[1]


@dataclass(frozen=True)
class Register:
    path: Path
    sha256: str
    sources: dict[str, Source]
    requirements: dict[str, Requirement]

    @property
    def active(self) -> list[Requirement]:
        return [r for r in self.requirements.values() if r.withdrawn is None]

    def clause_of(self, source: str) -> Source | None:
        """The catalogued clause a cited source belongs to ("21 CFR 11.300(d)" -> 21 CFR 11.300)."""
        best = None
        for key, entry in self.sources.items():
            if source == key or (source.startswith(key) and source[len(key)] in "(."):
                if best is None or len(key) > len(best.key):
                    best = entry
        return best

    def requirements_for(self, clause: str) -> list[Requirement]:
        return [r for r in self.active if any(self.clause_of(s).key == clause for s in r.sources)]  # type: ignore[union-attr]


def _sources(raw: object, problems: list[str]) -> dict[str, Source]:
    if not isinstance(raw, dict) or not raw:
        problems.append("'sources' must be a mapping of clause -> {title, matrix, procedural}")
        return {}
    found = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str):
            problems.append(f"source {key!r}: needs a 'title'")
            continue
        if unknown := set(entry) - _SOURCE_KEYS:
            problems.append(f"source {key!r}: unknown keys {sorted(unknown)}")
        found[str(key)] = Source(str(key), entry["title"], bool(entry.get("matrix", False)), entry.get("procedural"))
    return found


def _requirement(raw: object, index: int, problems: list[str]) -> Requirement | None:
    where = f"requirement #{index + 1}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    rid = raw.get("id")
    if not isinstance(rid, str) or not ID_PATTERN.fullmatch(rid):
        problems.append(f"{where}: id {rid!r} must look like URS-AUD-003 (URS-<area>-<three digits>)")
        return None
    mine: list[str] = []
    if unknown := set(raw) - _REQUIREMENT_KEYS:
        mine.append(f"unknown keys {sorted(unknown)}")
    if rid.split("-")[1] not in AREAS:
        mine.append(f"unknown area {rid.split('-')[1]!r} (known: {', '.join(AREAS)})")
    statement = raw.get("statement")
    if not isinstance(statement, str) or not statement.strip():
        mine.append("needs a one-sentence 'statement'")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        mine.append("'sources' must be a non-empty list of clauses")
        sources = []
    if raw.get("risk") not in RISKS:
        mine.append(f"risk {raw.get('risk')!r} must be one of {', '.join(RISKS)}")
    problems += [f"{rid}: {p}" for p in mine]
    if mine:
        return None
    return Requirement(rid, " ".join(statement.split()), tuple(sources), raw["risk"],  # type: ignore[union-attr]
                       raw.get("procedural"), raw.get("withdrawn"))  # fmt: skip


def parse_register(text: str, path: Path = REGISTER_PATH) -> Register:
    """Parse and check the register text; RegisterError lists every problem at once."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegisterError(f"{path}: YAML syntax: {exc}") from exc
    if not isinstance(data, dict):
        raise RegisterError(f"{path}: the register is a mapping with 'sources' and 'requirements'")
    problems: list[str] = []
    sources = _sources(data.get("sources"), problems)
    requirements: dict[str, Requirement] = {}
    raw_requirements = data.get("requirements")
    if not isinstance(raw_requirements, list) or not raw_requirements:
        problems.append("'requirements' must be a non-empty list")
        raw_requirements = []
    for index, raw in enumerate(raw_requirements):
        requirement = _requirement(raw, index, problems)
        if requirement is None:
            continue
        if requirement.id in requirements:
            problems.append(f"{requirement.id}: duplicate ID")
        requirements[requirement.id] = requirement
    register = Register(path, hashlib.sha256(text.encode("utf-8")).hexdigest(), sources, requirements)
    for requirement in requirements.values():
        problems += [f"{requirement.id}: unknown source {s!r} (add it to 'sources')"
                     for s in requirement.sources if register.clause_of(s) is None]  # fmt: skip
    if problems:
        raise RegisterError(f"{path}: " + "; ".join(problems))
    return register


def load_register(path: Path | str = REGISTER_PATH) -> Register:
    path = Path(path)
    return parse_register(path.read_text(encoding="utf-8"), path)
