"""Which claims a client receives: scopes (OIDC Core 5.4), the `claims` request parameter
(5.5) with `essential`, `value` and `values`, and `claims_locales` for Thai and English names.

`verified_claims` (OpenID Connect for Identity Assurance 1.0) travels in the same parameter but
is answered by `idp.oidc.verified`, never from the person's self-held claims here.
"""

from __future__ import annotations

import json
from typing import Any

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
        "updated_at", "title",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
LOCALIZED = ("name", "family_name", "given_name", "middle_name", "title")
SUPPORTED_LOCALES = ("th", "en")
MAX_CLAIMS_PARAM = 8 * 1024

# Claims the provider computes itself; a request for them never reads person data.
PROTOCOL_CLAIMS = frozenset({"sub", "acr", "amr", "auth_time", "sid", "iss", "aud", "nonce"})
# The member of a `claims` target that asks for verified data (OIDC4IDA); it is a request
# structure, not a claim name, and may be an array of request objects.
VERIFIED_CLAIMS = "verified_claims"


class ClaimsRequestError(ValueError):
    """The `claims` parameter is not a JSON object of the shape OIDC Core 5.5 defines."""


def supported_claims(extra: tuple[str, ...] = ()) -> list[str]:
    """Discovery's `claims_supported`; `extra` adds names known elsewhere (verified_claims
    and the citizen ID claim, which only travels inside it)."""
    names = {c for cs in SCOPE_CLAIMS.values() for c in cs} | {"sub", "acr", "auth_time", "amr"}
    names |= {f"{c}#{loc}" for c in LOCALIZED for loc in SUPPORTED_LOCALES}
    names |= set(extra)
    return sorted(names)


def parse_claims_param(raw: str | None) -> dict[str, dict[str, Any]]:
    """Parse and bound the `claims` parameter; returns {"id_token": {...}, "userinfo": {...}}."""
    if not raw:
        return {}
    if len(raw) > MAX_CLAIMS_PARAM:
        raise ClaimsRequestError("claims parameter is too large")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ClaimsRequestError("claims parameter is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ClaimsRequestError("claims parameter must be a JSON object")
    out: dict[str, dict[str, Any]] = {}
    for target in ("id_token", "userinfo"):
        members = data.get(target)
        if members is None:
            continue
        if not isinstance(members, dict):
            raise ClaimsRequestError(f"claims.{target} must be a JSON object")
        for name, spec in members.items():
            if name == VERIFIED_CLAIMS and isinstance(spec, list):
                continue  # OIDC4IDA: an array of request objects; its inside is kyc's to judge
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestError(f"claims.{target}.{name} must be null or an object")
        out[target] = members
    return out


def _constraint_ok(value: Any, spec: dict[str, Any] | None) -> bool:
    """A `value`/`values` constraint that the held value does not meet drops the claim."""
    if not spec:
        return True
    if "value" in spec:
        return bool(value == spec["value"])
    if "values" in spec and isinstance(spec["values"], list):
        return value in spec["values"]
    return True


def localize(person_claims: dict[str, Any], claims_locales: str | None) -> dict[str, Any]:
    """Put the preferred locale's names in the untagged claims, keep both language-tagged.

    Persons hold English names untagged and Thai names as `name#th`; with `claims_locales=th`
    first, an agency that reads plain `name` gets the Thai name, and `name#en` the English one.
    """
    prefs = [tag.split("-")[0].lower() for tag in (claims_locales or "").split()]
    preferred = next((p for p in prefs if p in SUPPORTED_LOCALES), "en")
    out = dict(person_claims)
    for base in LOCALIZED:
        en, th = person_claims.get(base), person_claims.get(f"{base}#th")
        if en is not None:
            out[f"{base}#en"] = en
        if preferred == "th" and th is not None:
            out[base] = th
    return out


def select_claims(
    available: dict[str, Any],
    scopes: list[str],
    requested: dict[str, Any] | None,
    *,
    include_scope_claims: bool,
) -> dict[str, Any]:
    """Claims for one target (ID token or userinfo).

    Scope claims go to userinfo (an access token is always issued in the code flow, so OIDC
    Core 5.4 puts them there); claims named in the `claims` parameter go where they were asked.
    """
    names: list[str] = []
    if include_scope_claims:
        for scope in scopes:
            names.extend(SCOPE_CLAIMS.get(scope, ()))
            if scope == "profile":
                names.extend(f"{c}#{loc}" for c in LOCALIZED for loc in SUPPORTED_LOCALES)
    requested = requested or {}
    names.extend(n for n in requested if n not in PROTOCOL_CLAIMS and n != VERIFIED_CLAIMS)
    out: dict[str, Any] = {}
    for name in names:
        if name in available and _constraint_ok(available[name], requested.get(name)):
            out[name] = available[name]
    return out
