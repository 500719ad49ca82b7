"""The real register: it loads, cites every rule of DOMAIN.md, and gives the matrix its rows."""

from __future__ import annotations

import pytest

from app.validation.register import load_register

pytestmark = pytest.mark.req("URS-VAL-001")

#: "The rules, as behaviour a test can check" (../shared/design/DOMAIN.md), clause by clause.
DOMAIN_RULES = (
    *(f"21 CFR 11.10({letter})" for letter in "abcdefghijk"),
    "21 CFR 11.50", "21 CFR 11.70", "21 CFR 11.100", "21 CFR 11.200", "21 CFR 11.300",
    *(f"EU GMP Annex 11 §{n}" for n in (6, 7, 8, 9, 12, 14, 15)),
    "21 CFR 211.186", "21 CFR 211.188", "21 CFR 211.100", "21 CFR 211.192", "21 CFR 211.194",
    "USP General Notices 7.20", "ISBT 128",
)  # fmt: skip
PART_11 = [*(f"21 CFR 11.10({x})" for x in "abcdefghijk"), *(f"21 CFR 11.{n}" for n in (50, 70, 100, 200, 300))]
ANNEX_11 = [f"EU GMP Annex 11 §{n}" for n in range(4, 18)]


@pytest.fixture(scope="module")
def register():
    return load_register()


@pytest.mark.parametrize("clause", DOMAIN_RULES)
def test_every_domain_rule_is_answered_by_a_requirement(register, clause):
    assert register.requirements_for(clause), f"no requirement cites {clause}"


def test_the_matrix_has_one_row_per_part_11_and_annex_11_clause(register):
    assert [k for k, s in register.sources.items() if s.matrix] == PART_11 + ANNEX_11


def test_a_clause_without_a_system_requirement_says_what_the_site_does(register):
    for key in PART_11 + ANNEX_11:
        assert register.requirements_for(key) or register.sources[key].procedural, key


def test_the_site_duties_the_issue_names_are_in_the_register(register):
    texts = " ".join(s.procedural or "" for s in register.sources.values())
    texts += " ".join(r.procedural or "" for r in register.active)
    assert "Verify each person's identity" in texts  # 11.100(b)
    assert "certification letter to FDA" in texts  # 11.100(c)
