"""ID tokens (OIDC Core 2 and 3.1.3.6): signed with the client's registered algorithm, `kid` in
the header, the pairwise `sub` that client knows, and only the claims asked for in `claims`.

`acr` is the exact pair (IAL, AAL) the session reached, never the value asked for, and `amr`
lists the methods used; `verified_claims` appears only when the `id_token` member of the
`claims` parameter asks for it (OIDC4IDA), computed now from the person's proofing events.

The national ID number goes in only when this client's ID tokens are encrypted (with
`IDP_NATIONAL_ID_NEEDS_ENCRYPTION`, the default; idp.oidc.verified.citizen_id_may_travel).
The token built here is the signed JWT; idp.oidc.server encrypts it for clients that asked."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from idp.db import Client, Grant, Person
from idp.oidc.claims import VERIFIED_CLAIMS, localize, select_claims
from idp.oidc.verified import citizen_id_may_travel, verified_claims_for
from idp.provider import Provider
from keys.jws import b64url
from kyc.verified_claims import citizen_id_claim


@dataclass
class IdTokenInput:
    client: Client
    person: Person | None
    grant: Grant
    access_token: str | None
    nonce: str | None
    requested: dict[str, Any]
    claims_locales: str | None


def half_hash(value: str, alg: str) -> str:
    """at_hash: the left half of the hash that goes with the signing algorithm (SHA-256 for
    ES256, RS256, PS256; SHA-512 for EdDSA with Ed25519, as the OpenID working group settled)."""
    hash_fn = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256
    digest = hash_fn(value.encode()).digest()
    return b64url(digest[: len(digest) // 2])


def build_id_token(p: Provider, i: IdTokenInput) -> str:
    now = int(time.time())
    alg = i.client.id_token_signed_response_alg or "ES256"
    person_id = i.grant.person_id or ""
    claims: dict[str, Any] = {
        "iss": p.issuer,
        "sub": p.subject(i.client, person_id),
        "aud": i.client.client_id,
        "exp": now + p.settings.id_token_ttl,
        "iat": now,
        "auth_time": i.grant.auth_time,
    }
    if i.nonce:
        claims["nonce"] = i.nonce
    if i.grant.acr:
        claims["acr"] = i.grant.acr
    if i.grant.amr:
        claims["amr"] = list(i.grant.amr)
    if i.grant.sid:
        claims["sid"] = i.grant.sid
    if i.access_token:
        claims["at_hash"] = half_hash(i.access_token, alg)
    if i.person is not None and i.requested:
        held = localize(i.person.claims, i.claims_locales)
        claims.update(select_claims(held, [], i.requested, include_scope_claims=False))
        citizen_id_allowed = citizen_id_may_travel(p, i.client, "id_token")
        if not citizen_id_allowed:
            claims.pop(citizen_id_claim(p.issuer), None)
        if i.requested.get(VERIFIED_CLAIMS) is not None:
            with p.db.session() as s:
                verified = verified_claims_for(s, p, client_id=i.client.client_id,
                                               person_id=i.person.id, target=i.requested,
                                               citizen_id_allowed=citizen_id_allowed)
            if verified is not None:
                claims["verified_claims"] = verified
    return p.keys.sign_jwt(claims, alg)
