"""Thai national ID number rules (reference: assurance.md, "Thai national ID number")."""

from __future__ import annotations

import random

import pytest

from kyc.thai_id import check_digit, is_valid_thai_id, mask, normalize_thai_id

VALID = ["1345951597671", "1234567890121", "6000000000000"]
INVALID = ["3712644096692", "1101700230705"]


@pytest.mark.parametrize("value", VALID)
def test_reference_valid_examples(value: str) -> None:
    assert is_valid_thai_id(value)


@pytest.mark.parametrize("value", INVALID)
def test_reference_invalid_examples(value: str) -> None:
    assert not is_valid_thai_id(value)


@pytest.mark.parametrize("value", [
    "", "134595159767", "13459515976710", "1345951597671\n", " 1345951597671",
    "1-3459-51597-67-1", "134595159767a", "๑๓๔๕๙๕๑๕๙๗๖๗๑", "１３４５９５１５９７６７１",
])
def test_only_thirteen_ascii_digits(value: str) -> None:
    assert not is_valid_thai_id(value)


def test_not_a_string_is_not_valid() -> None:
    assert not is_valid_thai_id(1345951597671)  # type: ignore[arg-type]
    assert not is_valid_thai_id(None)  # type: ignore[arg-type]


def test_first_digit_never_rejects() -> None:
    rng = random.Random(7)
    for first in "0123456789":
        prefix = first + "".join(rng.choice("0123456789") for _ in range(11))
        assert is_valid_thai_id(prefix + str(check_digit(prefix)))


def test_exactly_one_check_digit_per_prefix() -> None:
    rng = random.Random(20260524)
    for _ in range(500):
        prefix = "".join(rng.choice("0123456789") for _ in range(12))
        valid = [d for d in "0123456789" if is_valid_thai_id(prefix + d)]
        assert valid == [str(check_digit(prefix))]


def test_check_digit_by_the_formula() -> None:
    # S = sum d_i * (14 - i); c = (11 - S mod 11) mod 10, for 1345951597671
    digits = [int(c) for c in "134595159767"]
    s = sum(d * (14 - i) for i, d in enumerate(digits, start=1))
    assert check_digit("134595159767") == (11 - s % 11) % 10 == 1


def test_check_digit_refuses_bad_prefix() -> None:
    with pytest.raises(ValueError):
        check_digit("12345")


@pytest.mark.parametrize("typed", [
    "1-3459-51597-67-1", "1 3459 51597 67 1", " 1345951597671 ", "1–3459–51597–67–1",
    "1\u00a03459\u00a051597\u00a067\u00a01", "๑-๓๔๕๙-๕๑๕๙๗-๖๗-๑", "1345951597671",
])
def test_normalize_accepts_what_people_type(typed: str) -> None:
    assert normalize_thai_id(typed) == "1345951597671"


@pytest.mark.parametrize("typed", [
    "1-3459-51597-67-2", "1-3459-51597-67", "abc", "", "1/3459/51597/67/1", "1" * 200,
])
def test_normalize_refuses_invalid(typed: str) -> None:
    assert normalize_thai_id(typed) is None


def test_mask_shows_only_first_and_last_digits() -> None:
    assert mask("1345951597671") == "1-XXXX-XXXXX-67-1"
    assert mask("1-3459-51597-67-1") == "1-XXXX-XXXXX-67-1"
    masked = mask("1345951597671")
    assert "3459" not in masked and "51597" not in masked


@pytest.mark.parametrize("value", ["12345", "not a number", "", "13459515976712"])
def test_mask_never_echoes_malformed_input(value: str) -> None:
    assert mask(value) == "X-XXXX-XXXXX-XX-X"
