"""RP-initiated logout 1.0 and back-channel logout 1.0.

Redirect only to a registered `post_logout_redirect_uri`, exactly, and only when the request
proves which client it comes from (an ID token we signed, or a client_id that owns the URI).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from joserfc.errors import JoseError

from idp.db import Client
from idp.provider import Provider

log = logging.getLogger(__name__)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class LogoutRequestError(Exception):
    """The logout request is not trustworthy: show a page, never redirect."""

    def __init__(self, message_key: str) -> None:
        super().__init__(message_key)
        self.message_key = message_key


@dataclass
class LogoutRequest:
    client: Client | None
    redirect_uri: str | None
    state: str | None
    hint_sub: str | None
    hint_sid: str | None


def parse(params: Mapping[str, str], verify_id_token: Callable[[str], dict[str, Any]],
          find_client: Callable[[str], Client | None], issuer: str) -> LogoutRequest:
    hint = params.get("id_token_hint") or None
    client_id = params.get("client_id") or None
    hint_claims: dict[str, Any] = {}
    if hint:
        try:
            hint_claims = verify_id_token(hint)
        except (JoseError, ValueError) as exc:
            raise LogoutRequestError("invalid_id_token_hint") from exc
        if hint_claims.get("iss") != issuer:
            raise LogoutRequestError("invalid_id_token_hint")
        aud = hint_claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if client_id and client_id not in auds:
            raise LogoutRequestError("invalid_id_token_hint")
        client_id = client_id or (auds[0] if auds else None)
    client = find_client(client_id) if client_id else None
    if client_id and client is None:
        raise LogoutRequestError("unknown_client")
    uri = params.get("post_logout_redirect_uri") or None
    if uri is not None and (client is None or uri not in client.post_logout_redirect_uris):
        raise LogoutRequestError("invalid_post_logout_redirect_uri")
    return LogoutRequest(client=client, redirect_uri=uri, state=params.get("state") or None,
                         hint_sub=hint_claims.get("sub"), hint_sid=hint_claims.get("sid"))


def logout_token(p: Provider, client: Client, person_id: str, sid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": p.issuer, "aud": client.client_id, "iat": now, "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "sub": p.subject(client, person_id),
        "sid": sid, "events": {BACKCHANNEL_EVENT: {}},
    }
    return p.keys.sign_jwt(claims, client.id_token_signed_response_alg or "ES256",
                           typ="logout+jwt")


def notify_backchannel(p: Provider, clients: list[Client], person_id: str,
                       sid: str) -> dict[str, bool]:
    """POST a logout token to each client that registered a back-channel URI; bounded time."""
    results: dict[str, bool] = {}
    for client in clients:
        if not client.backchannel_logout_uri:
            continue
        try:
            resp = requests.post(client.backchannel_logout_uri,
                                 data={"logout_token": logout_token(p, client, person_id, sid)},
                                 timeout=p.settings.backchannel_timeout, allow_redirects=False)
            results[client.client_id] = resp.status_code == 200
        except requests.RequestException:
            results[client.client_id] = False
        if not results[client.client_id]:
            log.warning("back-channel logout to client %s failed", client.client_id)
    return results
