"""Electronic signatures: one ceremony for every sign-off (21 CFR 11.50, 11.70, 11.100, 11.200)."""
