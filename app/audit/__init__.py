"""Audit trail: append-only, hash-chained events captured for every change of a GMP record."""
