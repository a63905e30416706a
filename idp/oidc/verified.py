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

With `IDP_NATIONAL_ID_NEEDS_ENCRYPTION` on (the default), the number also travels only
encrypted: in an ID token only to an agency whose ID tokens are encrypted, in userinfo only to
one whose userinfo is (`citizen_id_may_travel`). Elsewhere it is withheld as if not consented,
and the consent page does not offer it (`releasable`), so page and tokens agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import persons
from idp.db import Client, ConsentGrant, utcnow
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


def citizen_id_may_travel(p: Provider, client: Client | None, target: str) -> bool:
    """Whether the national ID number may be put in `target` ("id_token" or "userinfo") for
    this client: always with the policy off; with it on, only when that target is encrypted
    to the client, so the number never crosses the network (or sits in a browser or a log of
    the agency's) readable by anyone but the agency."""
    if not p.settings.national_id_needs_encryption:
        return True
    if client is None:
        return False
    if target == "id_token":
        return bool(client.id_token_encrypted_response_alg)
    if target == "userinfo":
        return bool(client.userinfo_encrypted_response_alg)
    return False


def releasable(p: Provider, client_id: str, target: str, names: list[str]) -> list[str]:
    """`names` asked for in one target, without the national ID claim when it may not travel
    there to this client (see `citizen_id_may_travel`): what the consent page offers and a
    consent records, the same rule the tokens follow."""
    cid = citizen_id_claim(p.issuer)
    if cid not in names or not p.settings.national_id_needs_encryption:
        return names
    with p.db.session() as s:
        client = s.get(Client, client_id)
        allowed = citizen_id_may_travel(p, client, target)
    return names if allowed else [n for n in names if n != cid]


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
                        target: Any, now: datetime | None = None,
                        citizen_id_allowed: bool = True) -> Any:
    """The `verified_claims` value for one target (`claims["id_token"]` or
    `claims["userinfo"]` of the grant), or None when none is to be returned.

    Nothing is read (and no citizen ID unsealed) unless the target asks for verified claims.
    Language-tagged claims stay as they are: `claims_locales` never rewrites verified data.
    `citizen_id_allowed=False` withholds the national ID as if it had not been consented to
    (the response it goes into is not encrypted; see `citizen_id_may_travel`).
    """
    if not isinstance(target, dict) or target.get(VERIFIED_CLAIMS) is None:
        return None
    at = now or utcnow()
    events = persons.proofing_events(s, p.identifiers, person_id)
    available = available_verified_claims(events, p.issuer, at)
    if not available:
        return None
    consented = consented_verified(granted_names(s, person_id, client_id))
    if not citizen_id_allowed:
        consented.discard(citizen_id_claim(p.issuer))
    return select_verified_claims(target, available, consented=consented, now=at)
