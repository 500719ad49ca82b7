"""The roles of the system and the rules that combine them."""

OPERATOR = "operator"
SUPERVISOR = "supervisor"
QC_ANALYST = "qc_analyst"
QA = "qa"
AUDITOR = "auditor"
ADMIN = "admin"

ALL_ROLES = (OPERATOR, SUPERVISOR, QC_ANALYST, QA, AUDITOR, ADMIN)
ROLE_LABELS = {
    OPERATOR: "Operator",
    SUPERVISOR: "Production supervisor",
    QC_ANALYST: "QC analyst",
    QA: "Quality assurance",
    AUDITOR: "Auditor (read-only)",
    ADMIN: "System administrator",
}
#: Roles that never sign a GMP record: the admin manages accounts, the auditor only reads.
NON_SIGNING_ROLES = frozenset({ADMIN, AUDITOR})


def role_problems(roles: set[str]) -> list[str]:
    """Why a set of roles is not allowed (empty when it is)."""
    problems = [f"unknown role {r!r}" for r in sorted(roles - set(ALL_ROLES))]
    if not roles:
        problems.append("a user needs at least one role")
    if ADMIN in roles and len(roles) > 1:
        problems.append("the admin role cannot be combined with any other role")
    return problems
