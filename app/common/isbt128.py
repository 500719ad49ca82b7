"""ISBT 128 identifiers (ICCBBA ST-001): the Donation Identification Number (DIN), its check
character, the Facility Identification Number (FIN) and cellular therapy product codes.

Pure rules, no database: the master batch record schema checks product codes with them and a
lot gets its DIN from them. ISBT 128 is licensed: cellbatch holds the data, the site's licensed
and validated label system prints the labels.
"""

from __future__ import annotations

import re

#: ISO/IEC 7064 character set: a character's check value is its position (0-36).
ISO7064_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
#: FIN as Data Structure 001 allows it: A-N, P-Z or 1-9, then two of A-N, P-Z or 0-9, then two
#: digits (never the letter O). The FINs ICCBBA assigns today are a letter and four digits.
_FIN = r"[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{2}"
FIN_RE = re.compile(_FIN + r"\Z")
#: DIN: FIN, the last two digits of the year of assignment, a six-digit sequence number.
DIN_RE = re.compile(_FIN + r"[0-9]{2}[0-9]{6}\Z")
#: Cellular therapy product code (Data Structure 003, 8 characters): 'S' and four digits (the
#: product description code), the type of donation (ISBT 128 table of collection types, which
#: uses digits, capitals and a few lower-case letters), then the division code: first level a
#: capital letter or 0, second level a lower-case letter or 0 ('00': not divided).
PRODUCT_CODE_RE = re.compile(r"S[0-9]{4}[0-9A-Za-z][A-Z0-9][a-z0-9]\Z")
SEQUENCE_MAX = 999_999


def fin_problem(fin: str) -> str | None:
    """Why `fin` is not a FIN, or None when it is one."""
    if FIN_RE.match(fin):
        return None
    return f"{fin!r} is not an ISBT 128 Facility Identification Number (5 characters, e.g. 'A9999')"


def product_code_problem(code: str) -> str | None:
    """Why `code` is not an 8-character cellular therapy product code, or None when it is one."""
    if PRODUCT_CODE_RE.match(code):
        return None
    return (f"{code!r} is not an ISBT 128 cellular therapy product code: 'S' and 4 digits (product "
            "description code), a type-of-donation character and a 2-character division code, "
            "8 characters in all (e.g. 'S9999V00')")  # fmt: skip


def make_din(fin: str, year: int, sequence: int) -> str:
    """The 13-character DIN of sequence number `sequence` of `fin` in `year`."""
    if fin_problem(fin) or not 1 <= sequence <= SEQUENCE_MAX:
        raise ValueError(f"no DIN for FIN {fin!r}, sequence {sequence}")
    return f"{fin}{year % 100:02d}{sequence:06d}"


def check_character(din: str) -> str:
    """The ISO/IEC 7064 Mod 37-2 check character of a DIN, printed boxed after it for keyboard entry.

    Each character's value is weighted by 2 to the power of its position from the right (1 for
    the last); the check value is (38 - weighted sum mod 37) mod 37. Doubling the running sum
    before each next character gives the same weights without large powers.
    """
    if not DIN_RE.match(din):
        raise ValueError(f"{din!r} is not a 13-character DIN")
    total = 0
    for char in din:
        total = (total + ISO7064_CHARACTERS.index(char)) * 2 % 37
    return ISO7064_CHARACTERS[(38 - total) % 37]


def eye_readable(din: str) -> str:
    """The DIN as printed under its bar code: FIN, year and sequence apart ('A9999 26 000123')."""
    return f"{din[:5]} {din[5:7]} {din[7:]}"


def din_fields(din: str | None) -> dict[str, str | None]:
    """The DIN as data and documents carry it: itself, its check character and its eye-readable
    form (all None for a lot without a DIN)."""
    return {
        "isbt128_din": din,
        "isbt128_din_check_character": check_character(din) if din else None,
        "isbt128_din_eye_readable": eye_readable(din) if din else None,
    }
