"""The Thai national identification number: 13 digits, the last one a check digit.

Rules (`../shared/reference/assurance.md`): the number matches `^[0-9]{13}$`, and with
S = sum of d_i * (14 - i) for i = 1..12, the check digit is (11 - S mod 11) mod 10.
The first digit (the person category) is never used to reject a number.

The number is sensitive personal data under the PDPA: never put it in a log line or an error
message; show it with `mask`, store it through `kyc.identifiers.IdentifierProtector`.
"""

from __future__ import annotations

import re

_THAI_ID = re.compile(r"[0-9]{13}")
# What people type between groups: spaces of any kind and dashes of any kind.
_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014\u2212\u00a0\u202f]+")
# Thai digits ๐..๙ (U+0E50..U+0E59), as typed on a Thai keyboard layout.
_THAI_DIGITS = str.maketrans({chr(0x0E50 + i): str(i) for i in range(10)})
MAX_INPUT = 64
MASKED_UNKNOWN = "X-XXXX-XXXXX-XX-X"


def check_digit(first_twelve: str) -> int:
    """The check digit for the first twelve digits (ASCII only)."""
    if not re.fullmatch(r"[0-9]{12}", first_twelve):
        raise ValueError("a Thai ID prefix is exactly twelve ASCII digits")
    s = sum(int(d) * (13 - i) for i, d in enumerate(first_twelve))  # i from 0: weight 14-(i+1)
    return (11 - s % 11) % 10


def is_valid_thai_id(value: str) -> bool:
    """Exactly thirteen ASCII digits whose last one is the check digit of the first twelve."""
    if not isinstance(value, str) or not _THAI_ID.fullmatch(value):
        return False
    return int(value[12]) == check_digit(value[:12])


def _digits_only(text: str) -> str | None:
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    return _SEPARATORS.sub("", text.strip().translate(_THAI_DIGITS))


def normalize_thai_id(text: str) -> str | None:
    """The thirteen digits of a number typed with spaces or dashes ("1-3459-51597-67-1",
    "1 3459 51597 67 1", Thai digits); None unless the result is a valid Thai ID."""
    digits = _digits_only(text)
    if digits is None or not is_valid_thai_id(digits):
        return None
    return digits


def mask(value: str) -> str:
    """For display: "1-XXXX-XXXXX-67-1". Anything that is not thirteen digits masks fully, so
    a mistyped number never shows up either."""
    digits = _digits_only(value)
    if digits is None or not _THAI_ID.fullmatch(digits):
        return MASKED_UNKNOWN
    return f"{digits[0]}-XXXX-XXXXX-{digits[10:12]}-{digits[12]}"
