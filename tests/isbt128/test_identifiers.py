"""ISBT 128 identifiers: the DIN check character against published worked examples, formats."""

import pytest

from app.common import isbt128

pytestmark = pytest.mark.req("URS-EXE-015")


@pytest.mark.parametrize(("din", "expected"), [
    # JPAC Red Book (Guidelines for the Blood Transfusion Services in the UK), Annex 2 "ISBT 128
    # check character calculation", Table A2.2: G123 498 654 321 -> checksum 17 -> 'H'.
    ("G123498654321", "H"),
    # python-stdnum, stdnum/iso7064/mod_37_2.py docstring: calc_check_digit('G123489654321') == 'Y'.
    ("G123489654321", "Y"),
])  # fmt: skip
def test_check_character_matches_published_examples(din, expected):
    assert isbt128.check_character(din) == expected


@pytest.mark.parametrize("bad", ["G12349865432", "G1234986543210", "g123498654321", "O123498654321", "G123498654 21"])
def test_check_character_is_only_computed_over_a_13_character_din(bad):
    with pytest.raises(ValueError, match="not a 13-character DIN"):
        isbt128.check_character(bad)


def test_a_din_is_fin_year_and_six_digit_sequence():
    # ICCBBA ST-017 Figure 2: =A99991712345600 is FIN A9999, year 17, sequence 123456 (flags 00).
    assert isbt128.make_din("A9999", 2017, 123456) == "A999917123456"
    assert isbt128.make_din("A9999", 2026, 7) == "A999926000007"
    assert isbt128.eye_readable("A999917123456") == "A9999 17 123456"


@pytest.mark.parametrize(("fin", "sequence"), [("A999", 1), ("A9999", 0), ("A9999", 1_000_000)])
def test_no_din_outside_the_structure(fin, sequence):
    with pytest.raises(ValueError):
        isbt128.make_din(fin, 2026, sequence)


@pytest.mark.parametrize("fin", ["A9999", "G1234", "W0000", "1AB12"])
def test_valid_facility_identification_numbers(fin):
    assert isbt128.fin_problem(fin) is None


@pytest.mark.parametrize("fin", ["A999", "A99999", "a9999", "O9999", "09999", "A99A9", "AO999", " A9999"])
def test_invalid_facility_identification_numbers(fin):
    assert "not an ISBT 128 Facility Identification Number" in isbt128.fin_problem(fin)


@pytest.mark.parametrize("code", ["S9999V00", "S00011A0", "S1234VAa", "S1234r00", "S0001099"])
def test_valid_cellular_therapy_product_codes(code):
    assert isbt128.product_code_problem(code) is None


@pytest.mark.parametrize("code", ["E0001V00", "s9999V00", "S999V00", "S9999V000", "S99A9V00", "S9999Va0",
                                  "S9999VAA", "S9999-00", "S9999 V00"])  # fmt: skip
def test_invalid_product_codes(code):
    assert "not an ISBT 128 cellular therapy product code" in isbt128.product_code_problem(code)
