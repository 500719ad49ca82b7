"""Users, roles, login, lockout, idle timeout and access control (21 CFR 11.10(d)(g), 11.300)."""
