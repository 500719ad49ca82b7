"""Document services. Views and the disposition hook call these names only."""

from app.documents.services.generate import (
    DISPOSITION_KINDS,
    export_audit_trail,
    regenerate,
    render_lot_documents,
)
from app.documents.services.portal import LotQuery, products, search_lots
from app.documents.services.store import (
    find_by_sha256,
    get_document,
    lot_documents,
    record_download,
    successors,
)
from app.documents.services.verify import Verification, describe, sha256_of, verify

__all__ = [
    "DISPOSITION_KINDS", "LotQuery", "Verification", "describe", "export_audit_trail", "find_by_sha256",
    "get_document", "lot_documents", "products", "record_download", "regenerate",
    "render_lot_documents", "search_lots", "sha256_of", "successors", "verify",
]  # fmt: skip
