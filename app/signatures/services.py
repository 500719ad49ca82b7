"""The signing ceremony: the only way a GMP record is signed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.auth.models import User
from app.auth.password_memory import check_signing_password
from app.auth.policy import AccountPolicy
from app.auth.roles import NON_SIGNING_ROLES
from app.auth.services import count_failed_password
from app.common.canonical import canonical_json, content_hash, sha256_hex
from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import utcnow
from app.signatures.models import MEANINGS, PolicyAcceptance, Signature


@dataclass(frozen=True)
class SignatureRule:
    """Who may sign an entity with a meaning: roles, and users excluded with the reason."""

    roles: frozenset[str]
    excluded: dict[int, str] = field(default_factory=dict)


class Signable(Protocol):
    """What an entity offers to be signed."""

    id: Any
    audit_entity_type: str
    audit_lot_id: int | None

    def signed_content(self) -> dict[str, Any]: ...

    def signature_rule(self, meaning: str) -> SignatureRule: ...


@dataclass(frozen=True)
class Credentials:
    """What the signer typed in the signing dialog of this very request."""

    password: str
    username: str | None = None
    #: True for the first signature of a login session (11.200(a)(1)): username needed too.
    username_required: bool = True
    accept_policy: bool = False
    ip: str = ""


@dataclass(frozen=True)
class EsigPolicy:
    version: str
    text: str

    @classmethod
    def current(cls) -> EsigPolicy:
        return cls(current_app.config["ESIG_POLICY_VERSION"], current_app.config["ESIG_POLICY_TEXT"])


def entity_hash(entity: Signable) -> str:
    """SHA-256 binding the entity's identity and its current signed content."""
    return content_hash(
        {
            "entity_type": entity.audit_entity_type,
            "entity_id": str(entity.id),
            "content": entity.signed_content(),
        }
    )


def has_accepted_policy(session: Session, user: User, version: str) -> bool:
    return bool(
        session.scalar(
            select(PolicyAcceptance.id).where(
                PolicyAcceptance.user_id == user.id, PolicyAcceptance.version == version
            )
        )
    )


def sign(
    session: Session, signer: User, entity: Signable, meaning: str, credentials: Credentials,
    comment: str | None = None,
) -> Signature:  # fmt: skip
    """Re-authenticate, check the separation rules, hash the content, sign and audit it."""
    if meaning not in MEANINGS:
        raise RuleViolation(f"Unknown signature meaning {meaning!r}.", status=400)
    _check_signer(signer, entity, meaning)
    _check_credentials(signer, entity, meaning, credentials)
    _check_rule(signer, entity, meaning)
    policy = EsigPolicy.current()
    _ensure_policy_accepted(session, signer, policy, credentials)
    signature = Signature(
        signer_id=signer.id, signer_name=signer.full_name, signer_username=signer.username,
        meaning=meaning, signed_at=utcnow(), entity_type=entity.audit_entity_type,
        entity_id=str(entity.id), lot_id=entity.audit_lot_id, content_hash=entity_hash(entity),
        comment=(comment or "").strip() or None, policy_version=policy.version,
    )  # fmt: skip
    session.add(signature)
    session.flush()
    audit.record(
        session, f"signature.{meaning}", Actor.of(signer), entity=entity,
        changes={"signature": [None, signature.id]}, content_hash=signature.content_hash,
        meaning=meaning, comment=signature.comment, ip=credentials.ip,
    )  # fmt: skip
    return signature


def _refused(signer: User, entity: Signable, meaning: str, message: str, **kw: Any) -> RuleViolation:
    """A refusal whose audit event survives the rollback of the action."""
    ref = (entity.audit_entity_type, str(entity.id))
    lot_id, actor = entity.audit_lot_id, Actor.of(signer)

    def record(session: Session) -> None:
        audit.record(session, "signature.refused", actor, entity_ref=ref, lot_id=lot_id,
                     meaning=meaning, why=message)  # fmt: skip

    error_class = kw.pop("error_class", RuleViolation)
    exc = error_class(message, after_rollback=record, **kw)
    return exc


def _check_signer(signer: User, entity: Signable, meaning: str) -> None:
    if not signer.active or signer.is_locked(utcnow()):
        raise _refused(signer, entity, meaning, "This account cannot sign (inactive or locked).")
    if signer.role_set & NON_SIGNING_ROLES and not signer.role_set - NON_SIGNING_ROLES:
        raise _refused(signer, entity, meaning, "Administrators and auditors never sign GMP records.",
                       error_class=NotPermitted)  # fmt: skip


def _check_credentials(
    signer: User, entity: Signable, meaning: str, credentials: Credentials
) -> None:
    given = (credentials.username or "").strip().lower()
    if credentials.username_required and given != signer.username:
        raise _refused(signer, entity, meaning,
                       "Enter your own username and password: nobody signs for anyone else.",
                       status=401)  # fmt: skip
    policy = AccountPolicy.current()
    if not check_signing_password(signer, credentials.password, policy):
        exc = _refused(signer, entity, meaning, "The password is wrong; nothing was signed.",
                       status=401)  # fmt: skip
        user_id, ip = signer.id, credentials.ip
        exc.after_rollback.append(
            lambda s: count_failed_password(s, s.get(User, user_id), ip, "wrong password", policy)
        )
        raise exc


def _check_rule(signer: User, entity: Signable, meaning: str) -> None:
    rule = entity.signature_rule(meaning)
    if not signer.role_set & rule.roles:
        needed = ", ".join(sorted(rule.roles)) or "nobody"
        raise _refused(signer, entity, meaning,
                       f"Signing as '{meaning}' here needs the role: {needed}.",
                       error_class=NotPermitted)  # fmt: skip
    if signer.id in rule.excluded:
        raise _refused(signer, entity, meaning, rule.excluded[signer.id])


def _ensure_policy_accepted(
    session: Session, signer: User, policy: EsigPolicy, credentials: Credentials
) -> None:
    if has_accepted_policy(session, signer, policy.version):
        return
    if not credentials.accept_policy:
        raise RuleViolation(
            "Your first signature needs your acceptance of the e-signature policy "
            f"(version {policy.version}).", status=400,
        )  # fmt: skip
    with audit.action(session, "esig.policy_accepted", Actor.of(signer)):
        session.add(PolicyAcceptance(user_id=signer.id, version=policy.version,
                                     text_hash=sha256_hex(policy.text)))  # fmt: skip


@dataclass(frozen=True)
class SignatureView:
    """A signature with its derived validity, for screens and PDFs (11.50, 11.70)."""

    signature: Signature
    valid: bool
    invalidated_by: AuditEvent | None = None


def has_valid(signatures: list[SignatureView], meaning: str) -> bool:
    """Whether one of these signatures has this meaning and still signs the content as it is."""
    return any(v.valid and v.signature.meaning == meaning for v in signatures)


def signatures_of(
    session: Session, entity: Signable, content_refs: list[tuple[str, str]] | None = None
) -> list[SignatureView]:
    """Every signature of an entity, oldest first, each valid only if the content is unchanged."""
    return signatures_of_many(session, [(entity, content_refs)])[0]


def signatures_of_many(
    session: Session, items: list[tuple[Signable, list[tuple[str, str]] | None]]
) -> list[list[SignatureView]]:
    """`signatures_of` for several entities, their signatures read in one query (not one per entity).

    Pages showing every step of a lot called signatures_of once per step: 54 round trips for an
    XS411 lot (benchmarks/, issue #10). The validity rule is the same, entity by entity.
    """
    keys = [(entity.audit_entity_type, str(entity.id)) for entity, _ in items]
    ids_by_type: dict[str, set[str]] = {}
    for entity_type, entity_id in keys:
        ids_by_type.setdefault(entity_type, set()).add(entity_id)
    found: dict[tuple[str, str], list[Signature]] = {key: [] for key in keys}
    if keys:
        for signature in session.scalars(
            select(Signature)
            .where(or_(*(and_(Signature.entity_type == entity_type, Signature.entity_id.in_(sorted(ids)))
                         for entity_type, ids in ids_by_type.items())))
            .order_by(Signature.id)
        ):  # fmt: skip
            found[(signature.entity_type, signature.entity_id)].append(signature)
    return [_views(session, entity, found[key], refs) for (entity, refs), key in zip(items, keys, strict=True)]


def _views(
    session: Session, entity: Signable, signatures: list[Signature], content_refs: list[tuple[str, str]] | None
) -> list[SignatureView]:
    if not signatures:
        return []
    current = entity_hash(entity)
    refs = content_refs or [(entity.audit_entity_type, str(entity.id))]
    return [
        SignatureView(s, True) if s.content_hash == current
        else SignatureView(s, False, _first_change_after(session, refs, s))
        for s in signatures
    ]  # fmt: skip


def _first_change_after(
    session: Session, refs: list[tuple[str, str]], signature: Signature
) -> AuditEvent | None:
    """The earliest recorded change to the signed content after the signature.

    "After" is the chain order, not the clock: events of one transaction (or one clock tick)
    share a timestamp, so comparing times named an earlier change (>=) or none at all (>).
    """
    signed_event_id = session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == f"signature.{signature.meaning}",
            AuditEvent.entity_type == signature.entity_type,
            AuditEvent.entity_id == signature.entity_id,
            AuditEvent.changes == canonical_json({"signature": [None, signature.id]}),
        )
    )
    after = (AuditEvent.id > signed_event_id if signed_event_id is not None
             else AuditEvent.occurred_at > signature.signed_at)  # fmt: skip
    return session.scalar(
        select(AuditEvent)
        .where(
            tuple_(AuditEvent.entity_type, AuditEvent.entity_id).in_(refs),
            after,
            AuditEvent.action.not_like("signature.%"),
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )
