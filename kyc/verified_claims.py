"""`verified_claims` (OpenID Connect for Identity Assurance 1.0): building the element from
proofing events, answering a client's request for it, and the discovery metadata.

Request processing follows the spec's rules (section "Returning less data than requested"):

- verified claims are released only when asked for through the `claims` parameter, for the
  target (ID token or userinfo) they were asked for, and only what was asked;
- a `value`, `values` or `max_age` requirement within `verification` that the data does not
  meet drops the whole `verified_claims` element; one on a claim drops that claim; neither is
  an error, and `essential` changes nothing;
- claims the provider does not know (any name, any characters) are omitted, as are claims not
  listed in `claims_in_verified_claims_supported`;
- `verification` carries only the sub-elements asked for, plus `trust_framework` (required);
  an `evidence` request is a list of filters (OR), each naming its `type` with `value`;
- an element whose `claims` would be empty is omitted whole (nothing that was asked for can be
  delivered); a request that is not of the shape the spec defines yields nothing.

Thai citizen IDs travel as the claim `{issuer}/claims/th_citizen_id`, released only when that
name is in the person's consent for this client.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from kyc.identifiers import TH_CITIZEN_ID
from kyc.proofing import ProofingEvent, format_time, ranked_events

TRUST_FRAMEWORK_PATH = "/tf/th-digital-id"
CITIZEN_ID_CLAIM_PATH = "/claims/" + TH_CITIZEN_ID

# OpenID claims this provider can assert as verified (from NDID banks and upstream providers
# such as ThaID). Language-tagged forms ("family_name#th") are supported for each.
VERIFIABLE_CLAIMS: tuple[str, ...] = (
    "given_name", "family_name", "name", "middle_name", "birthdate", "gender", "address",
    "title",
)
EVIDENCE_SUPPORTED = ("document", "electronic_record")
DOCUMENTS_SUPPORTED = ("idcard", "passport")
DOCUMENTS_CHECK_METHODS_SUPPORTED = ("vcrypt", "data", "bvr")
ELECTRONIC_RECORDS_SUPPORTED = ("bank_kyc",)

# Bounds on what a client may send (everything from outside is bounded).
MAX_REQUEST_ELEMENTS = 8
MAX_CLAIMS_PER_ELEMENT = 64
MAX_NAME_LENGTH = 256
MAX_TEMPLATE_NODES = 256
MAX_TEMPLATE_DEPTH = 8
PURPOSE_MIN, PURPOSE_MAX = 3, 300

_LEAF_KEYS = frozenset({"essential", "value", "values", "purpose", "max_age"})
_CONSTRAINTS = ("value", "values", "max_age")
# Members an object must keep to stay valid when it is returned at all.
_REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "evidence": ("type",),
    "check_details": ("check_method",),
    "document_details": ("type",),
    "record": ("type",),
    "attestation": ("type",),
    "assurance_details": (),
    "evidence_ref": ("check_id",),
}


def trust_framework(issuer: str) -> str:
    return issuer + TRUST_FRAMEWORK_PATH


def citizen_id_claim(issuer: str) -> str:
    return issuer + CITIZEN_ID_CLAIM_PATH


def claims_in_verified_claims_supported(issuer: str) -> list[str]:
    return [*VERIFIABLE_CLAIMS, citizen_id_claim(issuer)]


def discovery_metadata(issuer: str) -> dict[str, Any]:
    """The OP metadata OpenID Connect for Identity Assurance 1.0 defines (section "OP
    metadata"); `claims_parameter_supported` is OpenID Connect Discovery's and set there."""
    return {
        "trust_frameworks_supported": [trust_framework(issuer)],
        "claims_in_verified_claims_supported": claims_in_verified_claims_supported(issuer),
        "evidence_supported": list(EVIDENCE_SUPPORTED),
        "documents_supported": list(DOCUMENTS_SUPPORTED),
        "documents_check_methods_supported": list(DOCUMENTS_CHECK_METHODS_SUPPORTED),
        "electronic_records_supported": list(ELECTRONIC_RECORDS_SUPPORTED),
    }


# ---------------------------------------------------------------------------------------------
# Building


def build_verified_claims(event: ProofingEvent, issuer: str) -> dict[str, Any]:
    """The complete `verified_claims` element one proofing event supports (before selection)."""
    claims: dict[str, Any] = {}
    for name, value in event.claims.items():
        if value is None:
            continue
        claims[citizen_id_claim(issuer) if name == TH_CITIZEN_ID else name] = copy.deepcopy(value)
    verification: dict[str, Any] = {
        "trust_framework": trust_framework(issuer),
        "assurance_level": str(event.ial),
        "time": format_time(event.time),
        "verification_process": event.verification_process,
    }
    if event.evidence:
        verification["evidence"] = copy.deepcopy(event.evidence)
    return {"verification": verification, "claims": claims}


def available_verified_claims(events: Iterable[ProofingEvent], issuer: str,
                              now: datetime) -> list[dict[str, Any]]:
    """One element per unexpired event, best first: the `available` of `select_verified_claims`."""
    return [build_verified_claims(e, issuer) for e in ranked_events(events, now)]


# ---------------------------------------------------------------------------------------------
# Validating a request


class _Invalid(Exception):
    """The request is not of the shape the spec defines."""


def _is_leaf(spec: Any) -> bool:
    """null, or an object of only essential/value/values/purpose/max_age (also `{}`)."""
    return spec is None or (isinstance(spec, dict) and set(spec) <= _LEAF_KEYS)


def _check_leaf(spec: Any, where: str) -> None:
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise _Invalid(f"{where} must be null or an object")
    if "essential" in spec and not isinstance(spec["essential"], bool):
        raise _Invalid(f"{where}.essential must be a boolean")
    if "values" in spec and (not isinstance(spec["values"], list) or not spec["values"]):
        raise _Invalid(f"{where}.values must be a non-empty array")
    if "purpose" in spec:
        purpose = spec["purpose"]
        if not isinstance(purpose, str) or not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
            raise _Invalid(f"{where}.purpose must be {PURPOSE_MIN} to {PURPOSE_MAX} characters")
    if "max_age" in spec:
        max_age = spec["max_age"]
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            raise _Invalid(f"{where}.max_age must be a non-negative integer")


def _check_template(spec: Any, where: str, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_TEMPLATE_DEPTH:
        raise _Invalid("verified_claims request is too large")
    if _is_leaf(spec):
        _check_leaf(spec, where)
    elif isinstance(spec, dict):
        for key, sub in spec.items():
            if not isinstance(key, str) or len(key) > MAX_NAME_LENGTH:
                raise _Invalid(f"{where} has an invalid member name")
            if isinstance(sub, list):
                if not sub:
                    raise _Invalid(f"{where}.{key} must not be an empty array")
                for item in sub:
                    _check_template(item, f"{where}.{key}[]", depth + 1, budget)
            else:
                _check_template(sub, f"{where}.{key}", depth + 1, budget)
    else:
        raise _Invalid(f"{where} must be null or an object")


def _check_evidence_filters(filters: Any) -> None:
    if filters is None:
        return
    if not isinstance(filters, list) or not filters:
        raise _Invalid("verification.evidence must be a non-empty array")
    for item in filters:
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, dict) or not isinstance(kind.get("value"), str) \
                or "values" in kind:
            raise _Invalid("each verification.evidence entry names its type with value")


def _check_element(element: Any) -> None:
    if not isinstance(element, dict):
        raise _Invalid("verified_claims must be an object or an array of objects")
    claims, verification = element.get("claims"), element.get("verification")
    if not isinstance(verification, dict):
        raise _Invalid("verified_claims.verification is required and must be an object")
    if not isinstance(claims, dict) or not claims:
        raise _Invalid("verified_claims.claims is required and must be a non-empty object")
    if len(claims) > MAX_CLAIMS_PER_ELEMENT:
        raise _Invalid("verified_claims.claims asks for too many claims")
    for name, spec in claims.items():
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
            raise _Invalid("verified_claims.claims has an invalid claim name")
        _check_leaf(spec, "verified_claims.claims member")
    _check_evidence_filters(verification.get("evidence"))
    _check_template(verification, "verified_claims.verification", 0, [MAX_TEMPLATE_NODES])


def _requested_elements(request: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The request elements under `verified_claims`, or None when none was asked for."""
    if not isinstance(request, dict) or request.get("verified_claims") is None:
        return None
    asked = request["verified_claims"]
    elements = asked if isinstance(asked, list) else [asked]
    if not elements or len(elements) > MAX_REQUEST_ELEMENTS:
        raise _Invalid("verified_claims must name 1 to 8 request objects")
    for element in elements:
        _check_element(element)
    return elements


def verified_claims_request_error(request: dict[str, Any] | None) -> str | None:
    """Why a `claims` parameter target (`claims["id_token"]` or `claims["userinfo"]`) holds a
    malformed `verified_claims` request, for an `invalid_request` answer; None when it is
    fine or asks for no verified claims. Never contains claim values."""
    try:
        _requested_elements(request)
    except _Invalid as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------------------------
# Selecting


class _Unmet(Exception):
    """A value/values/max_age requirement the data does not meet."""


_OMIT = object()


def _same(a: Any, b: Any) -> bool:
    """JSON equality (true is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def _as_instant(value: Any) -> datetime | None:
    """A time stamp or a date (counted from its last second) as an aware datetime."""
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _leaf_ok(spec: Any, actual: Any, now: datetime) -> bool:
    if not isinstance(spec, dict):
        return True
    if "value" in spec and not _same(actual, spec["value"]):
        return False
    if "values" in spec and not any(_same(actual, v) for v in spec["values"]):
        return False
    if "max_age" in spec:
        at = _as_instant(actual)
        if at is None or now - at > timedelta(seconds=spec["max_age"]):
            return False
    return True


def _has_constraint(spec: Any) -> bool:
    if isinstance(spec, list):
        return any(_has_constraint(s) for s in spec)
    if not isinstance(spec, dict):
        return False
    if _is_leaf(spec):
        return any(k in spec for k in _CONSTRAINTS)
    return any(_has_constraint(s) for s in spec.values())


def _shape(spec: Any, actual: Any, parent: str, now: datetime) -> Any:
    """`actual` cut down to what `spec` asks for; _OMIT when nothing of it is left; raises
    _Unmet when a requirement in `spec` is not met by `actual`."""
    if _is_leaf(spec):
        if not _leaf_ok(spec, actual, now):
            raise _Unmet
        return copy.deepcopy(actual)
    if isinstance(spec, list):
        if not isinstance(actual, list):
            if _has_constraint(spec):
                raise _Unmet
            return _OMIT
        kept = []
        for item in actual:
            for template in spec:  # entries of a request array are alternatives (OR)
                try:
                    shaped = _shape(template, item, parent, now)
                except _Unmet:
                    continue
                if shaped is not _OMIT:
                    kept.append(shaped)
                break
        if not kept:
            if _has_constraint(spec):
                raise _Unmet
            return _OMIT
        return kept
    # an object template: {member: spec, ...}
    if not isinstance(actual, dict):
        if _has_constraint(spec):
            raise _Unmet
        return _OMIT
    out = _shape_members(spec, actual, now)
    if not out:
        return _OMIT
    for key in _REQUIRED_MEMBERS.get(parent, ()):
        if key in actual and key not in out:
            out[key] = copy.deepcopy(actual[key])
    return out


def _shape_members(spec: dict[str, Any], actual: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    """Each requested member that is held, shaped by its own request; a constrained member
    that is not held makes the whole element unmet."""
    out: dict[str, Any] = {}
    for key, sub in spec.items():
        if key not in actual:
            if _has_constraint(sub):
                raise _Unmet
            continue
        shaped = _shape(sub, actual[key], key, now)
        if shaped is not _OMIT:
            out[key] = shaped
    return out


def _select_verification(asked: dict[str, Any], held: dict[str, Any],
                         now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"trust_framework": held.get("trust_framework")}
    out.update(_shape_members(asked, held, now))
    if not isinstance(out["trust_framework"], str):
        raise _Unmet
    return out


def _issuer_of(held: dict[str, Any]) -> str | None:
    framework = held.get("trust_framework")
    if isinstance(framework, str) and framework.endswith(TRUST_FRAMEWORK_PATH):
        return framework[: -len(TRUST_FRAMEWORK_PATH)]
    return None


def _select_claims(asked: dict[str, Any], held: dict[str, Any], issuer: str | None,
                   consented: set[str], now: datetime) -> dict[str, Any]:
    supported = set(VERIFIABLE_CLAIMS)
    needs_consent = {citizen_id_claim(issuer)} if issuer is not None else set()
    out: dict[str, Any] = {}
    for name, spec in asked.items():
        known = name.split("#", 1)[0] in supported or name in needs_consent
        if not known or name not in held:
            continue
        if name in needs_consent and name not in consented:
            continue
        if _leaf_ok(spec, held[name], now):
            out[name] = copy.deepcopy(held[name])
    return out


def _answer(element: dict[str, Any], available: list[dict[str, Any]], consented: set[str],
            now: datetime) -> dict[str, Any] | None:
    """The best held element for one request element: the one that delivers most claims
    (the earlier on a tie, so the caller's order, best first, decides)."""
    best: dict[str, Any] | None = None
    for held in available:
        verification = held.get("verification")
        claims = held.get("claims")
        if not isinstance(verification, dict) or not isinstance(claims, dict):
            continue
        try:
            selected_verification = _select_verification(element["verification"],
                                                          verification, now)
        except _Unmet:
            continue
        selected_claims = _select_claims(element["claims"], claims, _issuer_of(verification),
                                         consented, now)
        if selected_claims and (best is None or len(selected_claims) > len(best["claims"])):
            best = {"verification": selected_verification, "claims": selected_claims}
    return best


def select_verified_claims(request: dict[str, Any] | None, available: list[dict[str, Any]],
                           *, consented: set[str],
                           now: datetime | None = None) -> dict[str, Any] | list[Any] | None:
    """The `verified_claims` to put in one target, or None to put none.

    request: that target's member of the `claims` parameter (`claims["id_token"]` or
    `claims["userinfo"]`); verified claims are released only if it asks for them.
    available: held elements, best first (`available_verified_claims`).
    consented: claim names the person agreed to release to this client; gates the claims that
    need their own consent (the Thai citizen ID, `{issuer}/claims/th_citizen_id`).
    A single request object gives an object; an array gives an array of the elements that
    could be fulfilled. A malformed request gives None (see verified_claims_request_error).
    """
    try:
        elements = _requested_elements(request)
    except _Invalid:
        return None
    if elements is None:
        return None
    at = now if now is not None else datetime.now(UTC)
    answers = [a for e in elements if (a := _answer(e, available, consented, at)) is not None]
    if not answers:
        return None
    if isinstance(request, dict) and isinstance(request.get("verified_claims"), list):
        return answers
    return answers[0]
