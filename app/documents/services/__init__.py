"""Document services. Views and the disposition hook call these names only."""

from app.documents.services.generate import (
    DISPOSITION_KINDS,
    after_disposition,
    export_audit_trail,
    lots_with_pending,
    pending_kinds,
    regenerate,
    render_pending,
    request_pending,
)
from app.documents.services.portal import LotQuery, products, search_lots
from app.documents.services.store import (
    content_chunks,
    find_by_sha256,
    get_document,
    lot_documents,
    record_download,
    successors,
)
from app.documents.services.verify import Verification, describe, sha256_of, verify

__all__ = [
    "DISPOSITION_KINDS", "LotQuery", "Verification", "after_disposition", "content_chunks", "describe",
    "export_audit_trail", "find_by_sha256", "get_document", "lot_documents", "lots_with_pending", "pending_kinds",
    "products", "record_download", "regenerate", "render_pending", "request_pending", "search_lots", "sha256_of",
    "successors", "verify",
]  # fmt: skip
