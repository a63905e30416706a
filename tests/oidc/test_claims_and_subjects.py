"""Claims selection (OIDC Core 5.4, 5.5, 5.2) and pairwise subjects (OIDC Core 8)."""

from __future__ import annotations

import pytest

from idp.db import Client
from idp.oidc.claims import ClaimsRequestError, localize, parse_claims_param, select_claims
from idp.oidc.subject import subject_for, subject_key

PERSON = {"name": "Somchai Jaidee", "name#th": "สมชาย ใจดี", "given_name": "Somchai",
          "given_name#th": "สมชาย", "email": "s@example.th", "email_verified": True,
          "phone_number": "+66812345678", "birthdate": "1980-01-02"}


def client(cid: str, uri: str, subject_type: str = "pairwise",
           sector: str | None = None) -> Client:
    return Client(client_id=cid, redirect_uris=[uri], subject_type=subject_type,
                  sector_identifier_uri=sector)


def test_pairwise_subjects_differ_by_sector_and_are_stable() -> None:
    key = subject_key("s" * 40)
    a = subject_for(client("a", "https://a.go.th/cb"), "person-1", key)
    b = subject_for(client("b", "https://b.go.th/cb"), "person-1", key)
    assert a != b
    assert a == subject_for(client("a2", "https://a.go.th/other"), "person-1", key)
    assert "person-1" not in a


def test_sector_identifier_groups_clients() -> None:
    key = subject_key("s" * 40)
    x = client("x", "https://x.go.th/cb", sector="https://sector.go.th/uris.json")
    y = client("y", "https://y.go.th/cb", sector="https://sector.go.th/uris.json")
    assert subject_for(x, "p", key) == subject_for(y, "p", key)


def test_public_subject_is_the_person_id() -> None:
    assert subject_for(client("p", "https://p.go.th", "public"), "person-1", b"k") == "person-1"


def test_subject_depends_on_the_key() -> None:
    c = client("a", "https://a.go.th/cb")
    assert subject_for(c, "p", subject_key("one" * 20)) != subject_for(c, "p",
                                                                       subject_key("two" * 20))


def test_scope_claims_only_with_scope() -> None:
    got = select_claims(PERSON, ["openid", "email"], None, include_scope_claims=True)
    assert got == {"email": "s@example.th", "email_verified": True}


def test_claims_parameter_adds_requested_claims() -> None:
    got = select_claims(PERSON, ["openid"], {"name": {"essential": True}},
                        include_scope_claims=True)
    assert got == {"name": "Somchai Jaidee"}


def test_value_constraints_drop_unmet_claims() -> None:
    requested = {"email": {"value": "other@example.th"}, "birthdate": {"values": ["1980-01-02"]}}
    got = select_claims(PERSON, ["openid"], requested, include_scope_claims=False)
    assert got == {"birthdate": "1980-01-02"}


def test_unknown_and_protocol_claims_are_not_read_from_the_person() -> None:
    got = select_claims(PERSON | {"acr": "x"}, [], {"acr": None, "unknown#claim": None},
                        include_scope_claims=False)
    assert got == {}


def test_claims_locales_th_puts_thai_names_first() -> None:
    th = localize(PERSON, "th-TH en")
    assert th["name"] == "สมชาย ใจดี" and th["name#en"] == "Somchai Jaidee"
    en = localize(PERSON, None)
    assert en["name"] == "Somchai Jaidee" and en["name#th"] == "สมชาย ใจดี"


@pytest.mark.parametrize("raw", ["not json", "[]", '{"userinfo": []}',
                                 '{"id_token": {"name": 5}}', "{" + " " * 9000 + "}"])
def test_malformed_claims_parameter_is_refused(raw: str) -> None:
    with pytest.raises(ClaimsRequestError):
        parse_claims_param(raw)


def test_claims_parameter_ignores_unknown_members() -> None:
    assert parse_claims_param('{"userinfo": {"name": null}, "other": 1}') == {
        "userinfo": {"name": None}}
