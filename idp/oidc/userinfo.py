"""The userinfo endpoint (OIDC Core 5.3): GET or POST, Bearer header or form body token.

Scope claims and claims asked for in `claims.userinfo` come from the person's held claims;
`verified_claims` only when `claims.userinfo` asks for it (OIDC4IDA), from proofing events."""

from __future__ import annotations

from typing import Any

from idp.db import Client, Person
from idp.oidc import tokens
from idp.oidc.claims import localize, select_claims
from idp.oidc.verified import verified_claims_for
from idp.provider import Provider


class UserinfoError(Exception):
    def __init__(self, error: str, description: str, status: int,
                 challenge: bool = True) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status
        # RFC 6750 3.1: a request with no credentials at all gets no error code in the
        # WWW-Authenticate challenge; the others say what was wrong.
        self.challenge = challenge


def bearer_token(authorization: str | None, form_token: str | None, method: str) -> str:
    """RFC 6750 2.1 and 2.2: exactly one way of sending the token."""
    header = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            header = value.strip()
    if header and form_token:
        raise UserinfoError("invalid_request", "send the access token only once", 400)
    if form_token and method != "POST":
        raise UserinfoError("invalid_request", "a form token needs POST", 400)
    token = header or form_token
    if not token:
        raise UserinfoError("invalid_token", "an access token is required", 401,
                            challenge=False)
    return token


def userinfo(p: Provider, raw_token: str) -> dict[str, Any]:
    with p.db.session() as s:
        live = tokens.find_access_token(s, raw_token)
        if live is None or live.grant.person_id is None:
            raise UserinfoError("invalid_token", "the access token is invalid, expired or "
                                                 "revoked", 401)
        scopes = live.scope.split()
        if "openid" not in scopes:
            raise UserinfoError("insufficient_scope", "the token lacks the openid scope", 403)
        client = s.get(Client, live.grant.client_id)
        person = s.get(Person, live.grant.person_id)
        assert client is not None and person is not None
        request = live.grant.claims.get("request") or {}
        held = localize(person.claims, live.grant.claims.get("claims_locales"))
        out = {"sub": p.subject(client, person.id)}
        out.update(select_claims(held, scopes, request.get("userinfo"),
                                 include_scope_claims=True))
        verified = verified_claims_for(s, p, client_id=client.client_id, person_id=person.id,
                                       target=request.get("userinfo"))
        if verified is not None:
            out["verified_claims"] = verified
        return out
