"""The userinfo endpoint (OIDC Core 5.3): GET or POST, Bearer header or form body token, or a
DPoP-bound token with its proof (RFC 9449 7; checked in idp.oidc.resource, as at every resource).

Scope claims and claims asked for in `claims.userinfo` come from the person's held claims;
`verified_claims` only when `claims.userinfo` asks for it (OIDC4IDA), from proofing events.

An agency registered with `userinfo_encrypted_response_alg` gets `application/jwt`: the claims
signed by us as a JWT (with `iss` and `aud`, OIDC Core 5.3.2), then encrypted to its key (a
nested JWT, idp.oidc.encryption). Signing inside the encryption costs little and lets the
agency keep a proof of where the data came from, which bare encrypted JSON would not give;
the signature uses the algorithm the agency registered for its ID tokens. The national ID
number goes in userinfo only when it is encrypted (idp.oidc.verified.citizen_id_may_travel)."""

from __future__ import annotations

import time
from typing import Any

from idp.db import Client, Person
from idp.oidc import resource
from idp.oidc.claims import localize, select_claims
from idp.oidc.encryption import (
    EncryptionKeyError,
    client_encryption_key,
    encrypt_jwt,
    userinfo_encrypted,
)
from idp.oidc.verified import citizen_id_may_travel, verified_claims_for
from idp.provider import Provider
from kyc.verified_claims import citizen_id_claim


class UserinfoError(resource.ResourceError):
    """A refusal particular to userinfo; the view answers it like any resource refusal."""


def userinfo(p: Provider, creds: resource.Credentials) -> dict[str, Any] | str:
    """The claims as a JSON object, or (a str) the encrypted JWT when the client asked for
    encrypted userinfo; the view answers the latter as `application/jwt`."""
    with p.db.session() as s:
        live = resource.authenticate(p, s, creds)
        if live.grant.person_id is None:
            raise UserinfoError("invalid_token", "the access token is invalid, expired or "
                                                 "revoked", 401)
        scopes = live.scope.split()
        if "openid" not in scopes:
            raise UserinfoError("insufficient_scope", "the token lacks the openid scope", 403)
        client = p.clients.get(live.grant.client_id)
        person = s.get(Person, live.grant.person_id)
        assert client is not None and person is not None
        request = live.grant.claims.get("request") or {}
        held = localize(person.claims, live.grant.claims.get("claims_locales"))
        out = {"sub": p.subject(client, person.id)}
        out.update(select_claims(held, scopes, request.get("userinfo"),
                                 include_scope_claims=True))
        citizen_id_allowed = citizen_id_may_travel(p, client, "userinfo")
        if not citizen_id_allowed:
            out.pop(citizen_id_claim(p.issuer), None)
        verified = verified_claims_for(s, p, client_id=client.client_id, person_id=person.id,
                                       target=request.get("userinfo"),
                                       citizen_id_allowed=citizen_id_allowed)
        if verified is not None:
            out["verified_claims"] = verified
        if userinfo_encrypted(client):
            return _sealed(p, client, out)
        return out


def _sealed(p: Provider, client: Client, claims: dict[str, Any]) -> str:
    """The claims signed (with `iss`, `aud` and `iat`) and encrypted to the client. A key
    that cannot be had fails the request: the claims are never sent in clear instead."""
    try:
        key = client_encryption_key(client)
    except EncryptionKeyError as exc:
        raise UserinfoError("server_error", str(exc), 500, challenge=False) from None
    body = dict(claims, iss=p.issuer, aud=client.client_id, iat=int(time.time()))
    signed = p.keys.sign_jwt(body, client.id_token_signed_response_alg or "ES256")
    return encrypt_jwt(signed, key, client.userinfo_encrypted_response_enc or "A256GCM")
