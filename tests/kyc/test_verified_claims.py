"""verified_claims (OpenID Connect for Identity Assurance 1.0): building, request processing
per the spec's rules, and the eKYC behaviours of the certification tests (reference:
oidc-conformance.md, "Identity assurance (eKYC)"). Every element returned is validated
against tests/kyc/verified_claims.schema.json with format checking on."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from kyc.proofing import ProofingEvent, default_expiry, id_card_chip_evidence, ndid_bank_evidence
from kyc.verified_claims import (
    available_verified_claims,
    build_verified_claims,
    citizen_id_claim,
    discovery_metadata,
    select_verified_claims,
    verified_claims_request_error,
)

ISSUER = "https://idp.example"
TF = f"{ISSUER}/tf/th-digital-id"
CID = f"{ISSUER}/claims/th_citizen_id"
NOW = datetime(2026, 5, 24, 9, 30, tzinfo=UTC)
PROOFED_AT = datetime(2026, 5, 1, 3, 15, 42, tzinfo=UTC)

SCHEMA = json.loads((Path(__file__).parent / "verified_claims.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(element: Any) -> None:
    assert element is not None, "verified_claims expected"
    VALIDATOR.validate(element)


def ndid_event(**claims: Any) -> ProofingEvent:
    return ProofingEvent(
        person_id="p1", source="ndid", ial=Decimal("2.3"), aal=Decimal("2.2"),
        evidence=[ndid_bank_evidence("Example Bank", "bank-node-1", "req-123", PROOFED_AT)],
        claims=claims or {"given_name": "Somchai", "family_name": "Jaidee",
                          "given_name#th": "สมชาย", "family_name#th": "ใจดี",
                          "birthdate": "1990-01-31", "th_citizen_id": "1345951597671",
                          "email": "somchai@example.org"},
        verification_process="req-123", time=PROOFED_AT, expires_at=default_expiry(PROOFED_AT))


def chip_event() -> ProofingEvent:
    return ProofingEvent(
        person_id="p1", source="oidc:thaid", ial=Decimal("2.3"), aal=None,
        evidence=[id_card_chip_evidence(PROOFED_AT - timedelta(days=30))],
        claims={"given_name": "Somchai", "family_name": "Jaidee", "gender": "male"},
        verification_process="thaid-txn-9", time=PROOFED_AT - timedelta(days=30))


@pytest.fixture
def available() -> list[dict[str, Any]]:
    return available_verified_claims([ndid_event()], ISSUER, NOW)


def ask(claims: Any, verification: Any = None, *, missing_verification: bool = False
        ) -> dict[str, Any]:
    element: dict[str, Any] = {"claims": claims}
    if not missing_verification:
        element["verification"] = verification if verification is not None else {
            "trust_framework": None}
    return {"verified_claims": element}


def select(request: Any, available: list[dict[str, Any]], consented: set[str] | None = None
           ) -> Any:
    return select_verified_claims(request, available, consented=consented or set(), now=NOW)


# --- the schema itself is strict enough to catch broken elements -----------------------------

def test_format_checking_is_on() -> None:
    """Without a date-time checker installed, format checks silently pass: make sure not."""
    bad = {"verification": {"trust_framework": TF, "time": "2026-11-24T07:45Z"},
           "claims": {"given_name": "A"}}
    with pytest.raises(ValidationError):
        VALIDATOR.validate(bad)
    bad["verification"]["time"] = "yesterday"
    with pytest.raises(ValidationError):
        VALIDATOR.validate(bad)


@pytest.mark.parametrize("broken", [
    {},
    {"claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF}},
    {"verification": {"trust_framework": TF}, "claims": {}},
    {"verification": {"time": "2026-05-01T03:15:42Z"}, "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [{"type": "selfie"}]},
     "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [{"check_details": []}]},
     "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [
        {"type": "document", "document_details": {"issuer": {"country_code": "THA"}}}]},
     "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [
        {"type": "electronic_record", "record": {"source": {"name": "Bank"}}}]},
     "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [
        {"type": "electronic_record", "check_details": [{"organization": "Bank"}]}]},
     "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [
        {"type": "document", "check_details": []}]}, "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [{"type": "electronic_signature"}]},
     "claims": {"given_name": "A"}},
    {"verification": {"trust_framework": TF, "evidence": [
        {"type": "document", "document_details": {"type": "idcard",
                                                  "date_of_expiry": "31/12/2030"}}]},
     "claims": {"given_name": "A"}},
    [],
])
def test_schema_rejects_broken_elements(broken: Any) -> None:
    with pytest.raises(ValidationError):
        VALIDATOR.validate(broken)


# --- building ------------------------------------------------------------------------------

def test_build_from_ndid_event() -> None:
    element = build_verified_claims(ndid_event(), ISSUER)
    assert_valid(element)
    assert element["verification"] == {
        "trust_framework": TF, "assurance_level": "2.3", "time": "2026-05-01T03:15:42Z",
        "verification_process": "req-123",
        "evidence": [ndid_bank_evidence("Example Bank", "bank-node-1", "req-123", PROOFED_AT)],
    }
    assert element["claims"][CID] == "1345951597671"
    assert "th_citizen_id" not in element["claims"]


def test_build_from_chip_event() -> None:
    element = build_verified_claims(chip_event(), ISSUER)
    assert_valid(element)
    assert element["verification"]["evidence"][0]["type"] == "document"


def test_available_skips_expired_and_orders_best_first() -> None:
    expired = ProofingEvent("p1", "ndid", Decimal("3"), None, [], {"given_name": "X"}, "old",
                            NOW - timedelta(days=400), NOW - timedelta(days=35))
    lower = ProofingEvent("p1", "sandbox", Decimal("2.1"), None, [], {"given_name": "Y"}, "low",
                          NOW - timedelta(days=1))
    elements = available_verified_claims([lower, expired, ndid_event()], ISSUER, NOW)
    assert [e["verification"]["verification_process"] for e in elements] == ["req-123", "low"]


# --- only when asked through the claims parameter ------------------------------------------

@pytest.mark.parametrize("request_", [None, {}, {"given_name": None},
                                      {"verified_claims": None}])
def test_nothing_unless_asked(request_: Any, available: list[dict[str, Any]]) -> None:
    assert select(request_, available) is None


def test_nothing_when_nothing_is_held() -> None:
    assert select(ask({"given_name": None}), []) is None


def test_returned_as_asked_with_only_trust_framework(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None, "family_name": None}), available)
    assert_valid(result)
    assert result == {"verification": {"trust_framework": TF},
                      "claims": {"given_name": "Somchai", "family_name": "Jaidee"}}


def test_id_token_and_userinfo_are_answered_separately(available: list[dict[str, Any]]) -> None:
    """The ekyc tests that ask only in the ID token or only in userinfo: each target is a
    separate member of the claims parameter, answered only from its own request."""
    claims_param = {"id_token": ask({"given_name": None}), "userinfo": {"email": None}}
    in_id_token = select(claims_param["id_token"], available)
    in_userinfo = select(claims_param["userinfo"], available)
    assert_valid(in_id_token)
    assert in_id_token["claims"] == {"given_name": "Somchai"}
    assert in_userinfo is None
    both = {"id_token": ask({"given_name": None}), "userinfo": ask({"family_name": None})}
    assert select(both["id_token"], available)["claims"] == {"given_name": "Somchai"}
    assert select(both["userinfo"], available)["claims"] == {"family_name": "Jaidee"}


def test_verification_sub_elements_only_as_asked(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None}, {"trust_framework": None, "time": None,
                                               "assurance_level": None}), available)
    assert_valid(result)
    assert result["verification"] == {"trust_framework": TF, "assurance_level": "2.3",
                                      "time": "2026-05-01T03:15:42Z"}
    result = select(ask({"given_name": None}, {"verification_process": None}), available)
    assert result["verification"] == {"trust_framework": TF, "verification_process": "req-123"}


def test_verification_without_trust_framework_still_gets_it(
        available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None}, {}), available)
    assert_valid(result)
    assert result["verification"] == {"trust_framework": TF}


def test_language_tagged_claims(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name#th": None, "family_name#th": None,
                         "name#th": None}), available)
    assert_valid(result)
    assert result["claims"] == {"given_name#th": "สมชาย", "family_name#th": "ใจดี"}


# --- empty objects, essential false ----------------------------------------------------------

def test_empty_objects_instead_of_null(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": {}}, {"trust_framework": {}, "time": {}}), available)
    assert_valid(result)
    assert result == {"verification": {"trust_framework": TF, "time": "2026-05-01T03:15:42Z"},
                      "claims": {"given_name": "Somchai"}}


def test_essential_false_is_like_null(available: list[dict[str, Any]]) -> None:
    plain = select(ask({"given_name": None}), available)
    result = select(ask({"given_name": {"essential": False}},
                        {"trust_framework": {"essential": False}}), available)
    assert_valid(result)
    assert result == plain


def test_essential_true_and_purpose(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": {"essential": True, "purpose": "To address you"}}),
                    available)
    assert_valid(result)
    assert result["claims"] == {"given_name": "Somchai"}


@pytest.mark.parametrize("request_", [
    {"verified_claims": {}},
    {"verified_claims": []},
    ask({}),
    ask(None),
    ask({"given_name": None}, missing_verification=True),
    {"verified_claims": {"verification": None, "claims": {"given_name": None}}},
    {"verified_claims": {"verification": {"trust_framework": None}, "claims": {}}},
    {"verified_claims": "given_name"},
    {"verified_claims": [{"verification": {}, "claims": {"given_name": None}}, {}]},
])
def test_empty_or_malformed_request_gives_nothing(
        request_: Any, available: list[dict[str, Any]]) -> None:
    assert select(request_, available) is None
    assert verified_claims_request_error(request_) is not None


def test_request_error_is_none_for_good_or_absent_requests() -> None:
    assert verified_claims_request_error(None) is None
    assert verified_claims_request_error({"given_name": None}) is None
    assert verified_claims_request_error(ask({"given_name": None})) is None


@pytest.mark.parametrize("purpose", ["ab", "x" * 301, 42])
def test_purpose_out_of_bounds_is_invalid(purpose: Any, available: list[dict[str, Any]]
                                          ) -> None:
    request = ask({"given_name": {"purpose": purpose}})
    assert verified_claims_request_error(request) is not None
    assert select(request, available) is None


# --- unknown claims ------------------------------------------------------------------------

@pytest.mark.parametrize("unknown", [
    {"xyz_unknown_claim": None},
    {"xyz_unknown_claim": {"essential": True}},
    {"claim%1/a&,.b": None},
    {"claim%1/a&,.b": {"essential": True}},
    {"email": None},  # held, but not a claim this provider verifies
    {"https://other.example/claims/th_citizen_id": None},
])
def test_unknown_claims_omitted(unknown: dict[str, Any], available: list[dict[str, Any]]
                                ) -> None:
    result = select(ask({"given_name": None, **unknown}), available)
    assert_valid(result)
    assert result["claims"] == {"given_name": "Somchai"}


def test_only_unknown_claims_gives_nothing(available: list[dict[str, Any]]) -> None:
    assert select(ask({"claim%1/a&,.b": {"essential": True}}), available) is None


# --- value constraints -----------------------------------------------------------------------

def test_random_value_constraint_omits_the_claim(available: list[dict[str, Any]]) -> None:
    """The only claim asked for cannot match, so there is no verified_claims at all
    (`claims` cannot be empty in a request; an element with nothing asked for is omitted)."""
    request = ask({"given_name": {"value": "6c9f8a5e-60d5-4b4e-b1c2-0e2f1b1d7a0e"}})
    assert select(request, available) is None


def test_value_constraint_drops_only_that_claim(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": {"value": "Someone else"}, "family_name": None}),
                    available)
    assert_valid(result)
    assert result["claims"] == {"family_name": "Jaidee"}


def test_value_and_values_met(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": {"value": "Somchai"},
                         "family_name": {"values": ["Rakthai", "Jaidee"]}}), available)
    assert_valid(result)
    assert result["claims"] == {"given_name": "Somchai", "family_name": "Jaidee"}


@pytest.mark.parametrize("verification", [
    {"trust_framework": {"value": "eidas"}},
    {"trust_framework": {"values": ["de_aml", "nist_800_63A"]}},
    {"trust_framework": None, "assurance_level": {"value": "3"}},
    {"trust_framework": None, "assurance_level": {"values": ["3", "2.2"]}},
    {"trust_framework": None, "assurance_level": {"value": 2.3}},
    {"trust_framework": None, "time": {"max_age": 3600}},
    {"trust_framework": None, "verification_process": {"value": "another"}},
    {"trust_framework": None, "assurance_process": {"policy": {"value": "x"}}},
    {"trust_framework": None, "evidence": [{"type": {"value": "document"}}]},
    {"trust_framework": None, "evidence": [{"type": {"value": "electronic_record"},
                                            "record": {"type": {"value": "utility_account"}}}]},
    {"trust_framework": None, "evidence": [{"type": {"value": "electronic_record"},
                                            "check_details": [{"check_method": {
                                                "value": "vpip"}}]}]},
])
def test_unmet_verification_constraint_drops_the_element(
        verification: dict[str, Any], available: list[dict[str, Any]]) -> None:
    assert select(ask({"given_name": None, "family_name": None}, verification),
                  available) is None


@pytest.mark.parametrize("verification", [
    {"trust_framework": {"value": TF}},
    {"trust_framework": {"values": ["eidas", TF]}},
    {"trust_framework": None, "assurance_level": {"values": ["2.2", "2.3", "3"]}},
    {"trust_framework": None, "time": {"max_age": 60 * 60 * 24 * 30}},
])
def test_met_verification_constraint_keeps_the_element(
        verification: dict[str, Any], available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None}, verification), available)
    assert_valid(result)
    assert set(result["verification"]) == set(verification)


# --- evidence ------------------------------------------------------------------------------

def test_evidence_shaped_by_the_request(available: list[dict[str, Any]]) -> None:
    request = ask({"given_name": None}, {
        "trust_framework": None,
        "evidence": [{"type": {"value": "electronic_record"},
                      "record": {"source": {"name": None}},
                      "check_details": [{"check_method": None, "check_id": None}]}]})
    result = select(request, available)
    assert_valid(result)
    assert result["verification"]["evidence"] == [{
        "type": "electronic_record",
        "record": {"type": "bank_kyc", "source": {"name": "Example Bank"}},
        "check_details": [{"check_method": "data", "check_id": "req-123"}],
    }]


def test_evidence_type_only(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None}, {"trust_framework": None, "evidence": [
        {"type": {"value": "document"}}, {"type": {"value": "electronic_record"}}]}), available)
    assert_valid(result)
    assert result["verification"]["evidence"] == [{"type": "electronic_record"}]


def test_evidence_null_gives_all_of_it(available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None}, {"trust_framework": None, "evidence": None}),
                    available)
    assert_valid(result)
    assert result["verification"]["evidence"] == available[0]["verification"]["evidence"]


def test_document_evidence_with_check_method_filter() -> None:
    held = available_verified_claims([chip_event()], ISSUER, NOW)
    request = ask({"given_name": None}, {"trust_framework": None, "evidence": [{
        "type": {"value": "document"},
        "check_details": [{"check_method": {"values": ["bvr", "vcrypt"]}}],
        "document_details": {"type": {"values": ["idcard", "passport"]}},
    }]})
    result = select(request, held)
    assert_valid(result)
    assert result["verification"]["evidence"] == [{
        "type": "document",
        "check_details": [{"check_method": "vcrypt"}, {"check_method": "bvr"}],
        "document_details": {"type": "idcard"},
    }]


@pytest.mark.parametrize("bad_filter", [
    [{"check_details": None}],                       # no type
    [{"type": {"values": ["document"]}}],            # values must not be used for type
    [{"type": None}],
    [],
    {"type": {"value": "document"}},                 # not an array
])
def test_evidence_filters_must_name_their_type(bad_filter: Any,
                                               available: list[dict[str, Any]]) -> None:
    request = ask({"given_name": None}, {"trust_framework": None, "evidence": bad_filter})
    assert verified_claims_request_error(request) is not None
    assert select(request, available) is None


# --- the Thai citizen ID ----------------------------------------------------------------------

def test_citizen_id_only_with_consent(available: list[dict[str, Any]]) -> None:
    request = ask({"given_name": None, CID: None})
    without = select(request, available, consented={"given_name"})
    assert_valid(without)
    assert CID not in without["claims"]
    with_consent = select(request, available, consented={CID})
    assert_valid(with_consent)
    assert with_consent["claims"][CID] == "1345951597671"
    assert select(ask({CID: {"essential": True}}), available) is None
    # the bare name is not ours to release under, even with consent
    assert select(ask({"th_citizen_id": None}), available, consented={CID,
                                                                      "th_citizen_id"}) is None


def test_citizen_id_claim_name() -> None:
    assert citizen_id_claim(ISSUER) == CID


# --- several requests, several held elements ------------------------------------------------

def test_array_request_answers_each_fulfillable_element(available: list[dict[str, Any]]
                                                          ) -> None:
    request = {"verified_claims": [
        {"verification": {"trust_framework": {"value": "gold"}},
         "claims": {"given_name": None}},
        {"verification": {"trust_framework": {"values": ["silver", TF]}},
         "claims": {"given_name": None, "birthdate": None}},
        {"verification": {"trust_framework": None}, "claims": {"family_name": None}},
    ]}
    result = select(request, available)
    assert_valid(result)
    assert isinstance(result, list)
    assert [r["claims"] for r in result] == [
        {"given_name": "Somchai", "birthdate": "1990-01-31"}, {"family_name": "Jaidee"}]


def test_array_request_with_nothing_fulfillable(available: list[dict[str, Any]]) -> None:
    request = {"verified_claims": [{"verification": {"trust_framework": {"value": "gold"}},
                                    "claims": {"given_name": None}}]}
    assert select(request, available) is None


def test_best_held_element_is_chosen() -> None:
    held = available_verified_claims([chip_event(), ndid_event()], ISSUER, NOW)
    result = select(ask({"given_name": None, "gender": None}), held)
    assert_valid(result)
    assert result["claims"] == {"given_name": "Somchai", "gender": "male"}  # delivers more
    result = select(ask({"given_name": None}, {"trust_framework": None, "time": None}), held)
    assert result["verification"]["time"] == "2026-05-01T03:15:42Z"  # newest on a tie
    only_document = select(ask({"given_name": None}, {"trust_framework": None, "evidence": [
        {"type": {"value": "document"}}]}), held)
    assert_valid(only_document)
    assert only_document["verification"]["evidence"] == [{"type": "document"}]


def test_selection_does_not_alias_held_data(available: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(available)
    result = select(ask({"address": None, "given_name": None}, {"trust_framework": None,
                                                                "evidence": None}), available)
    result["verification"]["evidence"][0]["type"] = "changed"
    assert available == before


# --- robustness: never raises on odd input ---------------------------------------------------

@pytest.mark.parametrize("request_", [
    "verified_claims", 42, [], {"verified_claims": 7}, {"verified_claims": [None]},
    {"verified_claims": {"verification": [], "claims": {"given_name": None}}},
    {"verified_claims": {"verification": {"trust_framework": 5}, "claims": {"a": None}}},
    {"verified_claims": {"verification": {"trust_framework": None}, "claims": {"a": 5}}},
    {"verified_claims": {"verification": {"trust_framework": None},
                         "claims": {"given_name": {"values": "Somchai"}}}},
    {"verified_claims": {"verification": {"trust_framework": None},
                         "claims": {"given_name": {"essential": "yes"}}}},
    {"verified_claims": {"verification": {"trust_framework": None, "time": {"max_age": -1}},
                         "claims": {"given_name": None}}},
    {"verified_claims": {"verification": {"trust_framework": None, "time": {"max_age": True}},
                         "claims": {"given_name": None}}},
    {"verified_claims": {"verification": {"trust_framework": None, "a": {"b": {"c": {"d": {
        "e": {"f": {"g": {"h": {"i": {"j": None}}}}}}}}}}, "claims": {"given_name": None}}},
    {"verified_claims": {"verification": {"trust_framework": None},
                         "claims": {f"c{i}": None for i in range(65)}}},
    {"verified_claims": [{"verification": {}, "claims": {"given_name": None}}] * 9},
    {"verified_claims": {"verification": {"trust_framework": None},
                         "claims": {"x" * 257: None}}},
])
def test_malformed_requests_never_raise(request_: Any, available: list[dict[str, Any]]
                                        ) -> None:
    assert select(request_, available) is None


@pytest.mark.parametrize("verification", [
    {"trust_framework": None, "unknown_element": None},
    {"trust_framework": None, "assurance_level": {"value": "2.3"}, "evidence": [
        {"type": {"value": "electronic_record"}, "unknown": {"x": None}}]},
    {"trust_framework": None, "evidence": [{"type": {"value": "electronic_record"},
                                            "record": None, "check_details": None}]},
])
def test_unknown_verification_elements_are_ignored(
        verification: dict[str, Any], available: list[dict[str, Any]]) -> None:
    result = select(ask({"given_name": None}, verification), available)
    assert_valid(result)
    assert "unknown_element" not in result["verification"]


def test_deepest_spec_defined_request_is_accepted() -> None:
    request = ask({"given_name": None}, {"trust_framework": None, "assurance_process": {
        "assurance_details": [{"evidence_ref": [{"check_id": None, "evidence_metadata": {
            "evidence_classification": None}}]}]}})
    assert verified_claims_request_error(request) is None


def test_odd_held_data_is_skipped() -> None:
    held: list[dict[str, Any]] = [{"verification": None, "claims": {}},
                                  {"verification": {"trust_framework": 3},
                                   "claims": {"given_name": "A"}}]
    assert select(ask({"given_name": None}), held) is None


# --- discovery -------------------------------------------------------------------------------

def test_discovery_metadata() -> None:
    meta = discovery_metadata(ISSUER)
    assert set(meta) == {
        "trust_frameworks_supported", "claims_in_verified_claims_supported",
        "evidence_supported", "documents_supported", "documents_check_methods_supported",
        "electronic_records_supported",
    }
    assert "verified_claims_supported" not in meta  # not a 1.0 discovery field
    assert meta["trust_frameworks_supported"] == [TF]
    assert meta["evidence_supported"] == ["document", "electronic_record"]
    assert meta["documents_supported"] == ["idcard", "passport"]
    assert meta["electronic_records_supported"] == ["bank_kyc"]
    assert CID in meta["claims_in_verified_claims_supported"]
    assert meta["claims_in_verified_claims_supported"][0] == "given_name"
    for key, values in meta.items():
        assert isinstance(values, list) and values, key


def test_every_supported_claim_can_be_delivered() -> None:
    """Claims advertised are claims the selection releases (and only those)."""
    supported = discovery_metadata(ISSUER)["claims_in_verified_claims_supported"]
    event = ndid_event(**{name: "x" for name in supported if name != CID},
                       th_citizen_id="1345951597671")
    held = available_verified_claims([event], ISSUER, NOW)
    result = select(ask(dict.fromkeys(supported)), held, consented={CID})
    assert_valid(result)
    assert set(result["claims"]) == set(supported)
