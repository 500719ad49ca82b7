"""Training records: users execute and sign only procedures they are trained on (11.10(i))."""
