"""Batch (lot) execution against an Effective master batch record (21 CFR 211.100, 211.188)."""
