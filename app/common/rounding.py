"""USP General Notices 7.20 rounding: the only place a measured value is rounded.

Round the final reported value to the decimals of the limit, half up (look only at the next
digit: < 5 drop, >= 5 add one), then compare with the exact limit. Negative values round half
away from zero, which is what ROUND_HALF_UP does for Decimal; a result that rounds to zero is
reported as 0, never -0. Never float: 2.675 as a float is 2.67499999..., and Python's round()
is half-even.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

# Plain ASCII digits with a decimal point. Commas are refused, not stripped: "97,5" (a decimal
# comma) must not silently become 975, and "1,500" is 1.5 in half of the world.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class NotANumber(ValueError):
    """The text is not a finite decimal number."""


def parse_decimal(text: str) -> Decimal:
    """Parse a reported value exactly as written; refuse NaN, Infinity and exponents abuse."""
    if not isinstance(text, str):
        # A float has already lost the written digits (2.675 -> 2.67499...).
        raise TypeError("parse_decimal takes the text as written, never a float")
    cleaned = text.strip()
    if "," in cleaned:
        raise NotANumber(f"{text!r}: use a decimal point and no thousands separators")
    if not _NUMBER.fullmatch(cleaned):
        word = cleaned.lstrip("+-").casefold()
        if word in ("nan", "snan", "inf", "infinity"):
            raise NotANumber(f"{text!r} is not a finite number")
        raise NotANumber(f"{text!r} is not a number")
    value = Decimal(cleaned)
    if abs(value.adjusted()) > 30:
        raise NotANumber(f"{text!r} is out of range")
    return value


def usp_round(value: Decimal, decimals: int) -> Decimal:
    """Round half up (away from zero for negatives) to `decimals` places (may be negative)."""
    if not isinstance(value, Decimal):
        raise TypeError("usp_round takes a Decimal; parse text with parse_decimal()")
    if not value.is_finite():
        raise NotANumber("cannot round a non-finite value")
    with localcontext() as ctx:
        # Enough digits for the result: the default 28 made quantize() raise on large values.
        ctx.prec = max(28, value.adjusted() + decimals + 2)
        try:
            result = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise NotANumber(f"cannot round {value} to {decimals} decimals") from None
    return result.copy_abs() if result.is_zero() else result
