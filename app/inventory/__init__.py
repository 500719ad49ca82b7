"""Material lots and equipment items that batch steps consume and use (21 CFR 211.188(b)(3)(4))."""
