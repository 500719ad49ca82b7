"""USP 7.20 rounding, checked against an independent integer reference and USP's examples."""

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.common.rounding import NotANumber, parse_decimal, usp_round

pytestmark = pytest.mark.req("URS-QC-003", "URS-DAT-005")


def reference_round(value: Decimal, decimals: int) -> Decimal:
    """Round on the integer digits: scale, floor-divide, look at the next digit, add one."""
    sign, digits, exponent = value.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    shift = exponent + decimals  # coefficient * 10**shift is the value in units of 10**-decimals
    if shift >= 0:
        units = coefficient * 10**shift
    else:
        units, rest = divmod(coefficient, 10**-shift)
        next_digit = rest // 10 ** (-shift - 1)
        if next_digit >= 5:
            units += 1  # away from zero: the sign is applied afterwards
    sign = sign if units else 0  # a result of zero is 0, never -0
    return Decimal((sign, tuple(int(d) for d in str(units)), -decimals))


# Exact decimals built from text: an integer coefficient and an exponent, no float involved.
decimal_values = st.builds(
    lambda n, e: Decimal(f"{n}E{e}"),
    st.integers(min_value=-(10**24), max_value=10**24),
    st.integers(min_value=-12, max_value=4),
)


@settings(max_examples=400, database=None)
@given(value=decimal_values, decimals=st.integers(min_value=0, max_value=6))
def test_usp_round_matches_integer_reference(value, decimals):
    # str() comparison also checks the exponent (decimals kept) and that zero has no sign.
    assert str(usp_round(value, decimals)) == str(reference_round(value, decimals))


@settings(max_examples=200, database=None)
@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**9),
                      max_value=10**9, places=8),
    decimals=st.integers(min_value=0, max_value=6),
)
def test_usp_round_matches_reference_on_hypothesis_decimals(value, decimals):
    assert str(usp_round(value, decimals)) == str(reference_round(value, decimals))


@settings(max_examples=200, database=None)
@given(units=st.integers(min_value=-(10**9), max_value=10**9),
       decimals=st.integers(min_value=0, max_value=6))
def test_exact_halves_round_away_from_zero(units, decimals):
    half = Decimal(f"{units}5E-{decimals + 1}")  # e.g. units=9795, decimals=1 -> 979.55
    expected = Decimal(units).scaleb(-decimals) + (
        Decimal(1).scaleb(-decimals) if half >= 0 else -Decimal(1).scaleb(-decimals))
    assert usp_round(half, decimals) == expected


@settings(max_examples=200, database=None)
@given(value=decimal_values)
def test_parse_decimal_reads_its_own_text_exactly(value):
    # Same digits and exponent: "0.10" stays 0.10, so written decimals are never lost.
    assert parse_decimal(str(value)).as_tuple() == value.as_tuple()


@pytest.mark.parametrize(
    ("text", "decimals", "rounded", "limit", "conforms"),
    [
        ("97.95", 1, "98.0", ">= 98.0", True),
        ("97.92", 1, "97.9", ">= 98.0", False),
        ("0.025", 2, "0.03", "<= 0.02", False),
        ("0.015", 2, "0.02", "<= 0.02", True),
    ],
)
def test_usp_general_notices_examples(text, decimals, rounded, limit, conforms):
    result = usp_round(parse_decimal(text), decimals)
    assert str(result) == rounded
    op, bound = limit.split()
    assert (result >= Decimal(bound) if op == ">=" else result <= Decimal(bound)) is conforms


def test_float_and_half_even_would_have_been_wrong():
    # The float 2.675 is 2.67499999...: round() gives 2.67; the written text gives 2.68.
    assert round(2.675, 2) == 2.67
    assert usp_round(Decimal("2.675"), 2) == Decimal("2.68")
    # Banker's rounding (Decimal's default, and round() on a Decimal) gives 0.12; USP 0.13.
    assert Decimal("0.125").quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("0.12")
    assert round(Decimal("0.125"), 2) == Decimal("0.12")
    assert usp_round(Decimal("0.125"), 2) == Decimal("0.13")


@pytest.mark.parametrize(
    ("text", "decimals", "expected"),
    [("-0.05", 1, "-0.1"), ("-2.675", 2, "-2.68"), ("-0.04", 1, "0.0"), ("-0.004", 2, "0.00")],
)
def test_negative_values_round_half_away_from_zero_and_zero_is_unsigned(text, decimals, expected):
    assert str(usp_round(Decimal(text), decimals)) == expected


def test_usp_round_pads_to_the_reported_decimals():
    assert str(usp_round(Decimal("98"), 1)) == "98.0"


def test_usp_round_handles_the_largest_accepted_values():
    # parse_decimal accepts up to 30 integer digits; the default 28-digit context overflowed.
    big = parse_decimal("9" * 31)
    assert usp_round(big, 6) == big


def test_usp_round_refuses_float_and_non_finite():
    with pytest.raises(TypeError):
        usp_round(2.675, 2)
    with pytest.raises(NotANumber):
        usp_round(Decimal("NaN"), 2)


@pytest.mark.parametrize(
    "text",
    ["", "abc", "NaN", "nan", "-Infinity", "inf", "1e999", "1e-999", "<0.1", "1,5", "97,5",
     "1_000", "١٢", "1.2.3", "--1", "0x10"],
)
def test_parse_decimal_refuses_what_is_not_a_plain_finite_number(text):
    with pytest.raises(NotANumber):
        parse_decimal(text)


def test_parse_decimal_refuses_a_decimal_comma_instead_of_misreading_it():
    # Stripping commas turned "97,5" (a decimal comma) into 975.
    with pytest.raises(NotANumber, match="decimal point"):
        parse_decimal("97,5")


def test_parse_decimal_keeps_written_digits_and_refuses_float():
    assert parse_decimal(" 0.10 ").as_tuple().exponent == -2
    assert parse_decimal("1e-3") == Decimal("0.001")
    with pytest.raises(TypeError):
        parse_decimal(2.675)
