"""Review by exception, QA's review of the lot record and audit trail, and disposition."""
