"""`verified_claims` for one grant: what the person's proofing events can say, cut down to what
the agency asked for in one target of the `claims` parameter and what the person consented to.

The selection rules themselves (OpenID Connect for Identity Assurance 1.0, "Returning less
data than requested") live in `kyc.verified_claims`; this module only feeds them from the
durable store, at token and userinfo time, so every answer reflects the person's proofing now.

Consent for verified data is recorded per claim, under a name of its own
(`verified:<claim name>`): agreeing to share one's plain e-mail or name is not agreeing to
share a bank's statement that it checked them, and the national ID number
(`{issuer}/claims/th_citizen_id`) is released only when `verified:{issuer}/claims/th_citizen_id`
is in the person's active consent for this agency.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import persons
from idp.db import ConsentGrant, utcnow
from idp.oidc.claims import VERIFIED_CLAIMS
from idp.provider import Provider
from kyc.verified_claims import (
    VERIFIABLE_CLAIMS,
    available_verified_claims,
    citizen_id_claim,
    select_verified_claims,
    verified_claims_request_error,
)

CONSENT_PREFIX = "verified:"


def consent_name(claim: str) -> str:
    """The name a consent grant records for releasing `claim` inside verified_claims."""
    return CONSENT_PREFIX + claim


def consented_verified(names: Iterable[str]) -> set[str]:
    """The verified claim names a set of consent names allows (prefix removed)."""
    return {n[len(CONSENT_PREFIX):] for n in names if n.startswith(CONSENT_PREFIX)}


def is_supported(claim: str, issuer: str) -> bool:
    """A claim this provider can release as verified: one of the verifiable OpenID claims
    (language-tagged forms included) or the citizen ID claim (never language-tagged); the
    same rule `kyc.verified_claims` applies when it selects."""
    return claim.split("#", 1)[0] in VERIFIABLE_CLAIMS or claim == citizen_id_claim(issuer)


def requested_names(target: Any) -> list[str]:
    """Claim names asked for inside `verified_claims` of one target, in request order, each
    once. A malformed request asks for nothing: it is never answered, so it needs no consent
    (kyc decides what is malformed, and the same rule then returns no verified_claims)."""
    if not isinstance(target, dict) or target.get(VERIFIED_CLAIMS) is None:
        return []
    if verified_claims_request_error(target) is not None:
        return []
    asked = target[VERIFIED_CLAIMS]
    out: list[str] = []
    for element in asked if isinstance(asked, list) else [asked]:
        for name in element["claims"]:
            if name not in out:
                out.append(name)
    return out


def granted_names(s: Session, person_id: str, client_id: str) -> set[str]:
    """Every claim name in the person's active (not withdrawn) consents for this agency."""
    rows = s.scalars(select(ConsentGrant).where(
        ConsentGrant.person_id == person_id, ConsentGrant.client_id == client_id,
        ConsentGrant.withdrawn_at.is_(None)))
    names: set[str] = set()
    for row in rows:
        names |= set(row.claims)
    return names


def verified_claims_for(s: Session, p: Provider, *, client_id: str, person_id: str,
                        target: Any, now: datetime | None = None) -> Any:
    """The `verified_claims` value for one target (`claims["id_token"]` or
    `claims["userinfo"]` of the grant), or None when none is to be returned.

    Nothing is read (and no citizen ID unsealed) unless the target asks for verified claims.
    Language-tagged claims stay as they are: `claims_locales` never rewrites verified data.
    """
    if not isinstance(target, dict) or target.get(VERIFIED_CLAIMS) is None:
        return None
    at = now or utcnow()
    events = persons.proofing_events(s, p.identifiers, person_id)
    available = available_verified_claims(events, p.issuer, at)
    if not available:
        return None
    consented = consented_verified(granted_names(s, person_id, client_id))
    return select_verified_claims(target, available, consented=consented, now=at)
