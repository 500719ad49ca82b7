"""Documents (issue #8): certificates of analysis, executed batch records and audit trail
reports, rendered once to PDF/A-3b, stored append-only with their SHA-256 and verified publicly.

Read docs/documents.md for the design decisions (hook, QR code, verification, PDF/A checks).
"""
