"""Sandbox persona data: the people agencies test against must be well-formed and cover the
cases the brief promises (each assurance level, a foreigner, an elderly person)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from sandbox.personas import PERSONAS, Persona, get_persona

IAL_SCALE = {Decimal(v) for v in ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3")}
AAL_SCALE = {Decimal(v) for v in ("1", "2.1", "2.2", "3")}
REQUIRED_CLAIMS = (
    "given_name", "family_name", "name", "given_name#th", "family_name#th", "name#th",
    "title#th", "birthdate", "gender", "phone_number", "phone_number_verified", "address",
    "locale",
)
ADDRESS_MEMBERS = ("formatted", "street_address", "locality", "region", "postal_code", "country")
THAI = re.compile(r"[\u0E00-\u0E7F]")


def thai_id_valid(number: str) -> bool:
    """Independent restatement of the check-digit rule (reference/assurance.md)."""
    if not re.fullmatch(r"[0-9]{13}", number):
        return False
    s = sum(int(d) * (14 - i) for i, d in enumerate(number[:12], start=1))
    return int(number[12]) == (11 - s % 11) % 10


def test_check_digit_rule_itself() -> None:
    assert thai_id_valid("1345951597671")
    assert thai_id_valid("6000000000000")
    assert not thai_id_valid("3712644096692")
    assert not thai_id_valid("1101700230705")
    assert not thai_id_valid("134595159767")


def test_at_least_five_personas_with_unique_ids() -> None:
    ids = [p.id for p in PERSONAS]
    assert len(ids) >= 5
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9-]{1,40}", i) for i in ids)


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.id)
def test_levels_are_on_the_thai_scale(persona: Persona) -> None:
    assert Decimal(persona.ial) in IAL_SCALE
    assert Decimal(persona.aal) in AAL_SCALE
    # Written exactly as the scale writes them ("3", not "3.0"), so string compares work too.
    assert persona.ial in {"1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3"}
    assert persona.aal in {"1", "2.1", "2.2", "3"}


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.id)
def test_required_claims_present_and_well_formed(persona: Persona) -> None:
    c = persona.claims
    missing = [name for name in REQUIRED_CLAIMS if name not in c]
    assert not missing, f"{persona.id} lacks {missing}"
    assert persona.kind in {"citizen", "foreigner"}
    assert date.fromisoformat(c["birthdate"]) < date.today()
    assert c["gender"] in {"male", "female", "other"}
    assert re.fullmatch(r"\+66[1-9][0-9]{7,8}", c["phone_number"])
    assert isinstance(c["phone_number_verified"], bool)
    if "email" in c:
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", c["email"])
        assert isinstance(c["email_verified"], bool)
    assert THAI.search(c["name#th"]) and THAI.search(c["given_name#th"])
    assert THAI.search(c["title#th"])
    assert not THAI.search(c["name"])
    assert c["given_name"] in c["name"] and c["family_name"] in c["name"]
    assert re.fullmatch(r"[a-z]{2}-[A-Z]{2}", c["locale"])
    address = c["address"]
    assert set(ADDRESS_MEMBERS) <= set(address)
    assert address["country"] == "TH"
    assert re.fullmatch(r"[0-9]{5}", address["postal_code"])
    assert THAI.search(address["formatted"])
    for member in ("street_address", "locality", "region", "postal_code"):
        assert address[member] in address["formatted"]
    assert persona.name_th and persona.name_en
    assert THAI.search(persona.description_th) and not THAI.search(persona.description_en)


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.id)
def test_citizens_have_valid_thai_ids_and_foreigners_none(persona: Persona) -> None:
    if persona.kind == "citizen":
        assert thai_id_valid(persona.claims["th_citizen_id"]), persona.id
    else:
        assert "th_citizen_id" not in persona.claims


def test_citizen_ids_are_unique() -> None:
    numbers = [p.claims["th_citizen_id"] for p in PERSONAS if p.kind == "citizen"]
    assert len(set(numbers)) == len(numbers)


def test_the_promised_cases_are_covered() -> None:
    citizens = [p for p in PERSONAS if p.kind == "citizen"]
    assert any(p.ial == "2.3" for p in citizens)
    assert any(p.ial == "1.1" for p in citizens)
    assert any(p.ial == "3" for p in citizens)
    assert any(p.kind == "foreigner" and p.ial == "2.1" for p in PERSONAS)
    elderly = [p for p in citizens if date.fromisoformat(p.claims["birthdate"]).year < 1955]
    assert elderly
    assert any(len(p.claims["address"]["formatted"]) > 100 for p in elderly)


def test_get_persona() -> None:
    first = PERSONAS[0]
    assert get_persona(first.id) is first
    assert get_persona("no-such-person") is None
    assert get_persona("") is None


def test_personas_are_immutable() -> None:
    with pytest.raises(AttributeError):
        PERSONAS[0].ial = "3"  # type: ignore[misc]
