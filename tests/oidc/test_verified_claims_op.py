"""verified_claims (OpenID Connect for Identity Assurance 1.0), assurance in ID tokens, and
the consent page, over real HTTP on both store pairs.

The eKYC behaviours of the certification tests (reference: oidc-conformance.md, "Identity
assurance (eKYC)") are run as an agency would: a `claims` parameter at the authorization
endpoint, a sandbox persona's login, then the ID token and userinfo. Every verified_claims
returned is validated against tests/kyc/verified_claims.schema.json with format checking on,
and its presence is asserted (a schema accepts a missing member). The national ID number
travels only as its own consented claim, and only encrypted (IDP_NATIONAL_ID_NEEDS_ENCRYPTION,
on by default): tests that expect it register the agency with an encryption key (`sealed`) and
decrypt what they receive; the consent page lists exactly what is released.
"""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from jsonschema.exceptions import ValidationError
from sqlalchemy import select

from idp.db import ConsentGrant, Person, ProofingRecord
from tests.support.encryption import encrypted_metadata, encryption_key, open_nested
from tests.support.ida import VALIDATOR, assert_valid
from tests.support.live import Browser, LiveProvider, location_params

SOMCHAI_CID = "1345951597671"
# Members of an ID token or userinfo response that are not claims about the person.
PROTOCOL = {"iss", "aud", "exp", "iat", "nonce", "at_hash", "sid", "auth_time", "acr", "amr",
            "verified_claims"}


# --- helpers ---------------------------------------------------------------------------------

def tf(op: LiveProvider) -> str:
    return f"{op.base}/tf/th-digital-id"


def cid(op: LiveProvider) -> str:
    return f"{op.base}/claims/th_citizen_id"


def acr(op: LiveProvider, ial: str, aal: str) -> str:
    return f"{op.base}/acr/ial-{ial}/aal-{aal}"


def ask(claims: dict[str, Any], verification: Any = None) -> dict[str, Any]:
    """One verified_claims request object (trust_framework only, unless told)."""
    return {"verification": {"trust_framework": None} if verification is None else verification,
            "claims": claims}


def sealed(op: LiveProvider) -> dict[str, Any]:
    """An agency whose ID tokens and userinfo are encrypted to its own key, so the national
    ID may be sent to it; `decode` and `userinfo` decrypt for it."""
    key = encryption_key()
    client = op.register(**encrypted_metadata(key))
    client["decryption_key"] = key
    return client


def decode(op: LiveProvider, token: str, client: dict[str, Any]) -> dict[str, Any]:
    if "decryption_key" in client:
        claims = open_nested(token, client["decryption_key"], op.base)
    else:
        jwks = KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=5).json())
        claims = dict(jwt.decode(token, jwks).claims)
    assert claims["iss"] == op.base and claims["aud"] == client["client_id"]
    return claims


def userinfo(op: LiveProvider, access_token: str,
             client: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = requests.get(f"{op.base}/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {access_token}"})
    assert resp.status_code == 200, resp.text
    if client is not None and "decryption_key" in client:
        assert resp.headers["Content-Type"] == "application/jwt"
        claims = open_nested(resp.text, client["decryption_key"], op.base)
        assert claims.pop("iss") == op.base and claims.pop("aud") == client["client_id"]
        claims.pop("iat")
        return claims
    return dict(resp.json())


def run(op: LiveProvider, browser: Browser, client: dict[str, Any], claims: dict[str, Any],
        persona: str = "somchai", **params: str
        ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A whole code flow with this `claims` parameter; the ID token's claims, the userinfo
    response and the token response."""
    tokens = op.code_flow(browser, client, persona, claims=json.dumps(claims), **params)
    return (decode(op, tokens["id_token"], client), userinfo(op, tokens["access_token"], client),
            tokens)


class _Lines(HTMLParser):
    """The consent lists of a page: (kind, claim names) of every `li` with `data-kind`."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "li" and a.get("data-kind"):
            self.lines.append((a["data-kind"] or "", (a.get("data-claims") or "").split()))


def page_lines(html: str) -> dict[str, set[str]]:
    parser = _Lines()
    parser.feed(html)
    out: dict[str, set[str]] = {"scope": set(), "claim": set(), "verified": set()}
    for kind, names in parser.lines:
        out[kind] |= set(names)
    return out


def consent_page(op: LiveProvider, browser: Browser, client: dict[str, Any],
                 claims: dict[str, Any], persona: str = "somchai", **params: str
                 ) -> tuple[requests.Response, str]:
    """Log in and stop on the consent page; returns it and the PKCE verifier."""
    url, verifier = op.auth_url(client, claims=json.dumps(claims), **params)
    page = browser.go(url)
    if "/login" in page.text:
        page = browser.submit("/login", persona=persona)
    assert page.status_code == 200 and "/consent" in page.text, page.text[:500]
    return page, verifier


def finish(op: LiveProvider, browser: Browser, client: dict[str, Any], verifier: str,
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    got = location_params(browser.submit("/consent", decision="allow"))
    resp = op.token(client, grant_type="authorization_code", code=got["code"],
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    return decode(op, tokens["id_token"], client), userinfo(op, tokens["access_token"], client)


def person_id(op: LiveProvider, persona: str) -> str:
    with op.app.extensions["idp"].db.session() as s:
        person = s.scalars(select(Person).where(Person.sandbox_persona == persona)).one()
        return str(person.id)


# --- the schema is really checked --------------------------------------------------------------

def test_schema_checks_formats() -> None:
    with pytest.raises(ValidationError):
        VALIDATOR.validate({"verification": {"trust_framework": "x", "time": "yesterday"},
                            "claims": {"given_name": "A"}})
    with pytest.raises(ValidationError):
        VALIDATOR.validate({})


# --- requested in the ID token, in userinfo, in both -------------------------------------------

def test_verified_claims_only_in_id_token(op: LiveProvider, browser: Browser) -> None:
    """ekyc-server-verified-claims-only-in-id-token"""
    client = op.register()
    id_token, info, _ = run(op, browser, client, {"id_token": {"verified_claims": ask(
        {"given_name": None, "family_name": None})}})
    vc = assert_valid(id_token.get("verified_claims"))
    assert vc == {"verification": {"trust_framework": tf(op)},
                  "claims": {"given_name": "Somchai", "family_name": "Jaidee"}}
    assert "verified_claims" not in info


def test_verified_claims_only_in_userinfo(op: LiveProvider, browser: Browser) -> None:
    """ekyc-server-verified-claims-only-in-userinfo"""
    client = op.register()
    id_token, info, _ = run(op, browser, client, {"userinfo": {"verified_claims": ask(
        {"birthdate": None}, {"trust_framework": None, "assurance_level": None,
                              "time": None, "evidence": None})}})
    vc = assert_valid(info.get("verified_claims"))
    assert vc["claims"] == {"birthdate": "1985-04-12"}
    assert vc["verification"]["assurance_level"] == "2.3"
    assert vc["verification"]["evidence"][0]["type"] == "electronic_record"
    assert vc["verification"]["evidence"][0]["record"]["source"]["name"] == "Sandbox Bank A"
    assert "verified_claims" not in id_token


def test_verified_claims_in_both_each_as_asked(op: LiveProvider, browser: Browser) -> None:
    """ekyc-server-happypath: each target answers its own request."""
    client = op.register()
    id_token, info, tokens = run(op, browser, client, {
        "id_token": {"verified_claims": ask({"given_name": None})},
        "userinfo": {"verified_claims": ask({"family_name": None, "address": None},
                                            {"trust_framework": None, "time": None})}})
    in_token = assert_valid(id_token.get("verified_claims"))
    in_info = assert_valid(info.get("verified_claims"))
    assert in_token["claims"] == {"given_name": "Somchai"}
    assert set(in_info["claims"]) == {"family_name", "address"}
    assert in_info["claims"]["address"]["postal_code"] == "10110"
    assert set(in_info["verification"]) == {"trust_framework", "time"}
    # a refreshed ID token answers the same request again
    refreshed = op.token(client, grant_type="refresh_token",
                         refresh_token=tokens["refresh_token"]).json()
    again = decode(op, refreshed["id_token"], client)
    assert assert_valid(again.get("verified_claims"))["claims"] == {"given_name": "Somchai"}


@pytest.mark.parametrize("spec", [None, {}, {"essential": False}, {"essential": True},
                                  {"essential": True, "purpose": "To address your letter"}])
def test_null_empty_object_and_essential_are_alike(op: LiveProvider, browser: Browser,
                                                   spec: Any) -> None:
    """ekyc-server-happypath-empty-objects, ekyc-server-happypath-essential-false"""
    client = op.register()
    verification = {"trust_framework": spec}
    id_token, _, _ = run(op, browser, client, {"id_token": {"verified_claims": ask(
        {"given_name": spec, "family_name": spec}, verification)}})
    vc = assert_valid(id_token.get("verified_claims"))
    assert vc == {"verification": {"trust_framework": tf(op)},
                  "claims": {"given_name": "Somchai", "family_name": "Jaidee"}}


@pytest.mark.parametrize("unknown", ["xyz_unknown_claim", "claim%1/a&,.b=#?\"'<>"])
@pytest.mark.parametrize("essential", [False, True])
def test_unknown_claims_are_omitted(op: LiveProvider, browser: Browser, unknown: str,
                                    essential: bool) -> None:
    """ekyc-server-claim-unknown-to-the-op, -essential-claim-unknown-..., -with-special-chars"""
    client = op.register()
    spec = {"essential": True} if essential else None
    id_token, info, _ = run(op, browser, client, {
        "id_token": {"verified_claims": ask({"given_name": None, unknown: spec})},
        "userinfo": {"verified_claims": ask({unknown: spec})}})
    assert assert_valid(id_token.get("verified_claims"))["claims"] == {"given_name": "Somchai"}
    assert "verified_claims" not in info  # nothing it asked for can be delivered: no element


def test_claim_with_random_value_is_omitted(op: LiveProvider, browser: Browser) -> None:
    """ekyc-server-claim-with-random-value-must-be-omitted"""
    client = op.register()
    id_token, info, _ = run(op, browser, client, {
        "id_token": {"verified_claims": ask({
            "given_name": {"value": "0b8a0b6c-5d9e-4c1e-9d3f-2e1c7d8a9f00"},
            "family_name": None})},
        "userinfo": {"verified_claims": ask({
            "birthdate": {"value": "0b8a0b6c-5d9e-4c1e-9d3f-2e1c7d8a9f00"}})}})
    assert assert_valid(id_token.get("verified_claims"))["claims"] == {"family_name": "Jaidee"}
    assert "verified_claims" not in info
    # a value that matches is released
    id_token, _, _ = run(op, browser, op.register(), {"id_token": {"verified_claims": ask(
        {"given_name": {"value": "Somchai"}})}})
    assert assert_valid(id_token.get("verified_claims"))["claims"] == {"given_name": "Somchai"}


@pytest.mark.parametrize("verification", [
    {"trust_framework": {"value": "eidas"}},
    {"trust_framework": {"values": ["de_aml", "uk_tfida"]}},
    {"trust_framework": None, "assurance_level": {"value": "3"}},
    {"trust_framework": None, "evidence": [{"type": {"value": "document"}}]},
])
def test_unmet_verification_constraint_drops_the_element(
        op: LiveProvider, browser: Browser, verification: dict[str, Any]) -> None:
    client = op.register()
    id_token, info, tokens = run(op, browser, client, {
        "id_token": {"verified_claims": ask({"given_name": None}, verification)},
        "userinfo": {"verified_claims": ask({"given_name": None})}})
    assert "verified_claims" not in id_token  # never an error: the element is left out
    assert tokens["access_token"]
    assert_valid(info.get("verified_claims"))  # the other target is answered on its own


def test_met_verification_constraints_keep_the_element(op: LiveProvider,
                                                        browser: Browser) -> None:
    client = op.register()
    id_token, _, _ = run(op, browser, client, {"id_token": {"verified_claims": ask(
        {"given_name": None}, {"trust_framework": {"value": tf(op)},
                               "assurance_level": {"values": ["3", "2.3"]},
                               "evidence": [{"type": {"value": "electronic_record"},
                                             "record": {"type": None}}]})}})
    vc = assert_valid(id_token.get("verified_claims"))
    assert vc["verification"] == {
        "trust_framework": tf(op), "assurance_level": "2.3",
        "evidence": [{"type": "electronic_record", "record": {"type": "bank_kyc"}}]}


def test_assurance_level_constraint_follows_the_person(op: LiveProvider,
                                                       browser: Browser) -> None:
    """The same request is met for wichai (IAL 3, ID card chip) and not for somchai."""
    request = {"userinfo": {"verified_claims": ask(
        {"family_name": None}, {"trust_framework": None, "assurance_level": {"value": "3"},
                                "evidence": [{"type": {"value": "document"},
                                              "document_details": {"type": None}}]})}}
    _, info, _ = run(op, browser, op.register(), request, persona="wichai")
    vc = assert_valid(info.get("verified_claims"))
    assert vc["claims"] == {"family_name": "Rakthai"}
    assert vc["verification"]["evidence"] == [{"type": "document",
                                               "document_details": {"type": "idcard"}}]
    _, info, _ = run(op, Browser(op.base), op.register(), request, persona="somchai")
    assert "verified_claims" not in info


def test_max_age_on_verification_time(op: LiveProvider, browser: Browser) -> None:
    """A proofing two days old meets max_age of a week and not of a day (the whole element
    goes when it is not met)."""
    run(op, browser, op.register(), {})  # somchai exists and is proofed now
    with op.app.extensions["idp"].db.session() as s:
        for row in s.scalars(select(ProofingRecord).where(
                ProofingRecord.person_id == person_id(op, "somchai"))):
            row.time = row.time - timedelta(days=2)
    week, day = 7 * 24 * 3600, 24 * 3600
    _, info, _ = run(op, browser, op.register(), {"userinfo": {"verified_claims": [
        ask({"given_name": None}, {"trust_framework": None, "time": {"max_age": week}}),
        ask({"family_name": None}, {"trust_framework": None, "time": {"max_age": day}}),
    ]}})
    vc = assert_valid(info.get("verified_claims"))
    assert isinstance(vc, list) and len(vc) == 1
    assert vc[0]["claims"] == {"given_name": "Somchai"}
    assert set(vc[0]["verification"]) == {"trust_framework", "time"}


def test_array_request_answers_each_element(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    id_token, _, _ = run(op, browser, client, {"id_token": {"verified_claims": [
        ask({"given_name": None}, {"trust_framework": {"value": "gold"}}),
        ask({"birthdate": None}, {"trust_framework": {"values": ["silver", tf(op)]}}),
    ]}})
    vc = assert_valid(id_token.get("verified_claims"))
    assert [e["claims"] for e in vc] == [{"birthdate": "1985-04-12"}]


@pytest.mark.parametrize("odd", [
    {"verification": {}, "claims": {}},
    {},
    {"claims": {"given_name": None}},
    {"verification": {"trust_framework": None}, "claims": {"given_name": {"purpose": "ab"}}},
])
def test_empty_or_odd_request_objects_are_tolerated(op: LiveProvider, browser: Browser,
                                                    odd: Any) -> None:
    """ekyc: an empty request object is handled: the login completes, nothing verified is
    returned for it, and the other target is still answered."""
    client = op.register()
    id_token, info, _ = run(op, browser, client, {
        "id_token": {"verified_claims": odd},
        "userinfo": {"verified_claims": ask({"given_name": None})}})
    assert "verified_claims" not in id_token
    assert assert_valid(info.get("verified_claims"))["claims"] == {"given_name": "Somchai"}


def test_verified_claims_of_the_wrong_type_is_an_invalid_request(op: LiveProvider,
                                                                 browser: Browser) -> None:
    """Like any member of a claims target, verified_claims is null, an object or (OIDC4IDA)
    an array; anything else is refused before login, as OIDC Core 5.5 malformations are."""
    client = op.register()
    url, _ = op.auth_url(client, claims=json.dumps(
        {"userinfo": {"verified_claims": "given_name"}}))
    got = location_params(browser.go(url))
    assert got["error"] == "invalid_request" and got["iss"] == op.base


def test_userinfo_defaults(op: LiveProvider, browser: Browser) -> None:
    """ekyc-server-testbasedonuserinfo-defaults: a request built from the person's userinfo
    (every supported verified claim, null) returns the same values, verified."""
    client = sealed(op)
    supported = requests.get(f"{op.base}/.well-known/openid-configuration",
                             timeout=5).json()["claims_in_verified_claims_supported"]
    _, info, _ = run(op, browser, client, {"userinfo": {"verified_claims": ask(
        dict.fromkeys(supported))}}, scope="openid profile address")
    vc = assert_valid(info.get("verified_claims"))
    plain = {k: v for k, v in info.items() if k in supported}
    assert set(plain) == {"given_name", "family_name", "name", "birthdate", "gender",
                          "address", "title"}
    # the citizen ID is asked for too: it had its own line on the consent page, allowed here
    assert vc["claims"] == plain | {cid(op): SOMCHAI_CID}


def test_language_tagged_claims_stay_tagged(op: LiveProvider, browser: Browser) -> None:
    """claims_locales=th puts Thai names in plain claims; verified_claims is not localized."""
    client = op.register()
    id_token, info, _ = run(op, browser, client, {
        "id_token": {"given_name": None},
        "userinfo": {"verified_claims": ask({"given_name": None, "given_name#th": None,
                                             "family_name#th": None, "name#en": None})}},
        claims_locales="th")
    assert id_token["given_name"] == "สมชาย"
    vc = assert_valid(info.get("verified_claims"))
    assert vc["claims"] == {"given_name": "Somchai", "given_name#th": "สมชาย",
                            "family_name#th": "ใจดี"}  # no name#en was verified


def test_unproofed_person_gets_no_verified_claims(op: LiveProvider, browser: Browser) -> None:
    """malee (IAL 1.1) has no proofing event: no verified_claims, no error, and the consent
    page says the agency will not get them."""
    client = op.register()
    request = {"id_token": {"verified_claims": ask({"given_name": None, cid(op): None})},
               "userinfo": {"verified_claims": ask({"family_name": None})}}
    page, verifier = consent_page(op, browser, client, request, persona="malee",
                                  ui_locales="en")
    assert page_lines(page.text)["verified"] == set()
    assert "will not be shared" in page.text
    id_token, info = finish(op, browser, client, verifier)
    assert "verified_claims" not in id_token and "verified_claims" not in info
    assert "1234567890121" not in json.dumps([id_token, info])


# --- the citizen ID ------------------------------------------------------------------------------

def test_citizen_id_is_its_own_consent_line_and_then_released(op: LiveProvider,
                                                              browser: Browser) -> None:
    client = sealed(op)
    request = {"userinfo": {"verified_claims": ask({"given_name": None, cid(op): None})}}
    page, verifier = consent_page(op, browser, client, request, ui_locales="en")
    lines = page_lines(page.text)
    assert lines["verified"] == {"given_name", cid(op)}
    assert "Your national ID number (13 digits)" in page.text
    assert SOMCHAI_CID not in page.text  # the page names the claim, never the number
    _, info = finish(op, browser, client, verifier)
    vc = assert_valid(info.get("verified_claims"))
    assert vc["claims"] == {"given_name": "Somchai", cid(op): SOMCHAI_CID}
    with op.app.extensions["idp"].db.session() as s:
        granted = s.scalars(select(ConsentGrant).where(
            ConsentGrant.client_id == client["client_id"])).one()
        assert f"verified:{cid(op)}" in granted.claims
        assert SOMCHAI_CID not in json.dumps(granted.claims)


def test_citizen_id_line_only_when_asked_inside_verified_claims(op: LiveProvider,
                                                                browser: Browser) -> None:
    """Asked for as a plain claim (under any name, even the one its consent is recorded
    under), or not asked for, the number is neither listed nor sent."""
    client = op.register()
    request = {"userinfo": {cid(op): None, "th_citizen_id": None, f"verified:{cid(op)}": None,
                            "verified_claims": ask({"given_name": None})}}
    page, verifier = consent_page(op, browser, client, request, ui_locales="en")
    lines = page_lines(page.text)
    assert cid(op) not in lines["claim"] | lines["verified"] | lines["scope"]
    assert "national ID" not in page.text
    id_token, info = finish(op, browser, client, verifier)
    assert SOMCHAI_CID not in json.dumps([id_token, info])
    assert assert_valid(info.get("verified_claims"))["claims"] == {"given_name": "Somchai"}


def test_consent_for_fewer_claims_asks_again(op: LiveProvider, browser: Browser) -> None:
    """A consent without the citizen ID does not cover a request for it: the page comes back,
    and with prompt=none the agency gets consent_required instead of the number."""
    client = sealed(op)
    first = {"userinfo": {"verified_claims": ask({"given_name": None})}}
    _, info, _ = run(op, browser, client, first)
    assert SOMCHAI_CID not in json.dumps(info)
    # the same request again: consented already, no page
    url, _ = op.auth_url(client, claims=json.dumps(first))
    assert "code" in location_params(browser.go(url))
    more = {"userinfo": {"verified_claims": ask({"given_name": None, cid(op): None})}}
    url, _ = op.auth_url(client, claims=json.dumps(more), prompt="none")
    assert location_params(browser.go(url))["error"] == "consent_required"
    url, _ = op.auth_url(client, claims=json.dumps(more))
    page = browser.go(url)
    assert page.status_code == 200 and "/consent" in page.text
    assert cid(op) in page_lines(page.text)["verified"]
    got = location_params(browser.submit("/consent", decision="deny"))
    assert got["error"] == "access_denied"
    # another verified claim not consented to also asks again
    url, _ = op.auth_url(client, claims=json.dumps(
        {"id_token": {"verified_claims": ask({"family_name": None})}}))
    assert "/consent" in browser.go(url).text


def test_citizen_id_is_not_released_once_its_consent_is_gone(op: LiveProvider,
                                                             browser: Browser) -> None:
    """The release checks the consent at token and userinfo time, not only at the page."""
    client = sealed(op)
    request = {"id_token": {"verified_claims": ask({"given_name": None, cid(op): None})},
               "userinfo": {"verified_claims": ask({"given_name": None, cid(op): None})}}
    id_token, info, tokens = run(op, browser, client, request)
    assert assert_valid(info["verified_claims"])["claims"][cid(op)] == SOMCHAI_CID
    assert assert_valid(id_token["verified_claims"])["claims"][cid(op)] == SOMCHAI_CID
    with op.app.extensions["idp"].db.session() as s:
        for row in s.scalars(select(ConsentGrant).where(
                ConsentGrant.client_id == client["client_id"])):
            row.claims = [n for n in row.claims if n != f"verified:{cid(op)}"]
    info = userinfo(op, tokens["access_token"], client)
    assert assert_valid(info.get("verified_claims"))["claims"] == {"given_name": "Somchai"}
    refreshed = op.token(client, grant_type="refresh_token",
                         refresh_token=tokens["refresh_token"]).json()
    again = decode(op, refreshed["id_token"], client)
    assert assert_valid(again.get("verified_claims"))["claims"] == {"given_name": "Somchai"}


def test_person_without_citizen_id_gets_no_such_claim(op: LiveProvider,
                                                      browser: Browser) -> None:
    """john (passport, IAL 2.1) has no Thai citizen ID: no line for it, no claim, and the
    page says some verified details will not be shared."""
    client = sealed(op)
    request = {"userinfo": {"verified_claims": ask(
        {"given_name": None, "middle_name": None, cid(op): None},
        {"trust_framework": None, "evidence": [{"type": {"value": "document"},
                                                "document_details": {"type": None}}]})}}
    page, verifier = consent_page(op, browser, client, request, persona="john",
                                  ui_locales="en")
    assert page_lines(page.text)["verified"] == {"given_name", "middle_name"}
    assert "national ID" not in page.text
    assert "your passport" in page.text
    assert "will not be shared" in page.text
    _, info = finish(op, browser, client, verifier)
    vc = assert_valid(info.get("verified_claims"))
    assert vc["claims"] == {"given_name": "John", "middle_name": "Michael"}
    assert vc["verification"]["evidence"] == [{"type": "document",
                                               "document_details": {"type": "passport"}}]


# --- the consent page lists exactly what is released ----------------------------------------------

def test_consent_page_lists_exactly_what_is_released(op: LiveProvider,
                                                     browser: Browser) -> None:
    client = sealed(op)
    request = {
        "id_token": {"email": None, "name#th": None, "xyz_unknown": None,
                     "verified_claims": ask({"given_name": None, "birthdate": None,
                                             cid(op): None, "nickname": None})},
        "userinfo": {"phone_number": None, "nationalities": None,
                     "verified_claims": ask({"family_name": None, "address": None,
                                             "title#th": None})},
    }
    page, verifier = consent_page(op, browser, client, request, scope="openid profile")
    shown = page_lines(page.text)
    assert "verified_claims" not in page.text.split("<form")[0].split("<main")[1]
    id_token, info = finish(op, browser, client, verifier)

    released_plain = (set(id_token) | set(info)) - PROTOCOL
    assert shown["scope"] | shown["claim"] == released_plain
    assert {"email", "phone_number", "name#th"} <= released_plain
    assert "xyz_unknown" not in released_plain and "nationalities" not in released_plain
    released_verified = (set(assert_valid(id_token.get("verified_claims"))["claims"])
                         | set(assert_valid(info.get("verified_claims"))["claims"]))
    assert shown["verified"] == released_verified == {
        "given_name", "birthdate", cid(op), "family_name", "address", "title#th"}

    # The person's own page shows the same for this agency.
    mine = page_lines(browser.go("/consents").text)
    assert mine["scope"] | mine["claim"] == released_plain
    assert mine["verified"] == released_verified


def test_consents_page_drops_the_agency_after_withdrawal(op: LiveProvider,
                                                        browser: Browser) -> None:
    client = sealed(op)
    run(op, browser, client, {"userinfo": {"verified_claims": ask({cid(op): None})}})
    assert cid(op) in page_lines(browser.go("/consents").text)["verified"]
    done = browser.submit(f"/consents/{client['client_id']}/withdraw")
    assert done.status_code == 200
    assert page_lines(done.text)["verified"] == set()


# --- discovery ---------------------------------------------------------------------------------

def test_discovery_carries_identity_assurance_metadata(op: LiveProvider) -> None:
    doc = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5).json()
    assert doc["claims_parameter_supported"] is True
    assert doc["trust_frameworks_supported"] == [tf(op)]
    assert doc["evidence_supported"] == ["document", "electronic_record"]
    assert doc["documents_supported"] == ["idcard", "passport"]
    assert doc["electronic_records_supported"] == ["bank_kyc"]
    assert set(doc["documents_check_methods_supported"]) >= {"vcrypt", "data", "bvr"}
    assert cid(op) in doc["claims_in_verified_claims_supported"]
    assert {"given_name", "family_name", "birthdate", "address"} <= set(
        doc["claims_in_verified_claims_supported"])
    assert {"verified_claims", cid(op)} <= set(doc["claims_supported"])
    assert "verified_claims_supported" not in doc  # not a 1.0 member


# --- acr, amr, auth_time -------------------------------------------------------------------------

@pytest.mark.parametrize(("persona", "ial", "aal"), [
    ("somchai", "2.3", "2.2"), ("wichai", "3", "3"), ("john", "2.1", "2.1"),
    ("boonmee", "2.3", "2.1"), ("malee", "1.1", "1"),
])
def test_acr_is_the_pair_the_session_reached(op: LiveProvider, browser: Browser,
                                             persona: str, ial: str, aal: str) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, persona)
    claims = decode(op, tokens["id_token"], client)
    assert claims["acr"] == acr(op, ial, aal)
    assert claims["amr"] == ["sandbox"]
    assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= claims["iat"]


def test_max_age_relogin_gives_the_new_sessions_acr(op: LiveProvider,
                                                    browser: Browser) -> None:
    client = op.register()
    first = decode(op, op.code_flow(browser, client, "boonmee")["id_token"], client)
    assert first["acr"] == acr(op, "2.3", "2.1")
    url, verifier = op.auth_url(client, max_age="0")
    page = browser.go(url)
    assert "/login" in page.text  # max_age=0: log in now
    page = browser.submit("/login", persona="somchai")
    if "/consent" in page.text:
        page = browser.submit("/consent", decision="allow")
    got = location_params(page)
    tokens = op.token(client, grant_type="authorization_code", code=got["code"],
                      redirect_uri=client["redirect_uri"], code_verifier=verifier).json()
    second = decode(op, tokens["id_token"], client)
    assert second["acr"] == acr(op, "2.3", "2.2")
    assert second["auth_time"] >= first["auth_time"]
    assert second["amr"] == ["sandbox"]


def test_voluntary_acr_values_return_the_best_reached(op: LiveProvider,
                                                      browser: Browser) -> None:
    """acr_values are voluntary: a level the person cannot reach is no error; the ID token
    says what was reached. A weaker value than the session's returns the session's pair."""
    client = op.register()
    tokens = op.code_flow(browser, client, "somchai", acr_values=acr(op, "3", "3"))
    assert decode(op, tokens["id_token"], client)["acr"] == acr(op, "2.3", "2.2")
    url, verifier = op.auth_url(client, acr_values=acr(op, "2.1", "1"))
    got = location_params(browser.go(url))  # the session is enough: no login page
    tokens = op.token(client, grant_type="authorization_code", code=got["code"],
                      redirect_uri=client["redirect_uri"], code_verifier=verifier).json()
    assert decode(op, tokens["id_token"], client)["acr"] == acr(op, "2.3", "2.2")


def test_essential_acr_is_met_and_the_exact_pair_returned(op: LiveProvider,
                                                          browser: Browser) -> None:
    client = op.register()
    wanted = {"id_token": {"acr": {"essential": True, "values": [acr(op, "2.3", "2.2")]}}}
    id_token, _, _ = run(op, browser, client, wanted, persona="wichai")
    assert id_token["acr"] == acr(op, "3", "3")
    assert id_token["amr"] == ["sandbox"]
