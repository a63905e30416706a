"""Access tokens at our own protected resources (userinfo, the CSC API, the registry API), and
the Flask side of DPoP (RFC 9449) that the token endpoint shares with them.

One place decides whether a request may use an access token, so every resource applies the
same rules:
- `Authorization: Bearer <token>` works for tokens that are not DPoP-bound, exactly as before;
- a DPoP-bound token works only as `Authorization: DPoP <token>` with a valid proof of the key
  it is bound to, carrying `ath` (the hash of this token); sent as Bearer it is refused with a
  `WWW-Authenticate: DPoP` challenge (RFC 9449 7.1), so a stolen bound token is worthless;
- an unbound token sent with the DPoP scheme is refused: the scheme would claim a binding the
  token does not have.
Refusals are `ResourceError`s; `error_response` turns one into the JSON answer with its
challenge (and a fresh `DPoP-Nonce` when the proof lacked a valid nonce).

The proof's URL is the issuer's URL for the endpoint (issuer + path), never one built from the
Host header, so a proxy in front of us changes nothing.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from flask import after_this_request, jsonify
from flask import request as flask_request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp.oidc import dpop, tokens
from idp.provider import Provider

MAX_TOKEN_LENGTH = 512
NONCE_HEADER = "DPoP-Nonce"


class ResourceError(Exception):
    """A request refused at a protected resource. `scheme` is the challenge to answer with
    (Bearer, or DPoP for anything about a binding or a proof); `challenge` False means the
    request carried no credentials at all (RFC 6750 3.1: then the challenge names no error)."""

    def __init__(self, error: str, description: str, status: int,
                 challenge: bool = True, scheme: str = "Bearer") -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status
        self.challenge = challenge
        self.scheme = scheme


@dataclass(frozen=True)
class Credentials:
    """An access token as the request presented it: `scheme` is "bearer" or "dpop"."""

    scheme: str
    token: str


def credentials(authorization: str | None, form_token: str | None = None,
                method: str = "GET") -> Credentials:
    """RFC 6750 2.1 and 2.2, RFC 9449 7.1: exactly one way of sending the token. A form body
    token is Bearer only (a DPoP token travels in the Authorization header)."""
    header: Credentials | None = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() in ("bearer", "dpop") and value.strip():
            header = Credentials(scheme.lower(), value.strip())
    if header and form_token:
        raise ResourceError("invalid_request", "send the access token only once", 400)
    if form_token and method != "POST":
        raise ResourceError("invalid_request", "a form token needs POST", 400)
    found = header or (Credentials("bearer", form_token) if form_token else None)
    if found is None:
        raise ResourceError("invalid_token", "an access token is required", 401,
                            challenge=False)
    if len(found.token) > MAX_TOKEN_LENGTH:
        raise ResourceError("invalid_token", "the access token is unknown, expired or revoked",
                            401, scheme="DPoP" if found.scheme == "dpop" else "Bearer")
    return found


# --- DPoP glue for this Flask request -------------------------------------------------------


def dpop_headers() -> list[str]:
    """Every DPoP header value of this request. A WSGI server joins repeated headers with
    commas, and a compact JWS never has one, so a comma means more than one proof."""
    return [part.strip() for value in flask_request.headers.getlist("DPoP")
            for part in value.split(",")]


def current_nonce(p: Provider) -> str:
    """The DPoP-Nonce to hand out now (RFC 9449 8 and 9)."""
    return dpop.nonce_for(dpop.nonce_key(p.settings.secret_key), int(time.time()))


def proof_request(p: Provider, access_token: str | None = None) -> dpop.ProofRequest:
    """This request's DPoP proof, as the pure checks of idp.oidc.dpop read it."""
    now = int(time.time())
    return dpop.ProofRequest(
        headers=dpop_headers(), method=flask_request.method, url=p.issuer + flask_request.path,
        store=p.store, now=now, access_token=access_token,
        nonces=dpop.accepted_nonces(dpop.nonce_key(p.settings.secret_key), now),
        nonce_required=p.settings.dpop_nonce_required)


def same_key(bound: str, jkt: str | None) -> bool:
    return jkt is not None and hmac.compare_digest(bound.encode(), jkt.encode())


# --- protected resources -------------------------------------------------------------------


def check_binding(p: Provider, live: tokens.LiveToken, creds: Credentials) -> None:
    """The token is used as its binding says: Bearer when unbound; DPoP with a valid proof of
    the bound key when bound."""
    bound = live.grant.dpop_jkt
    if bound is None:
        if creds.scheme == "dpop":
            raise ResourceError("invalid_token", "the access token is not DPoP-bound: send it "
                                "with the Bearer scheme", 401)
        return
    if creds.scheme != "dpop":
        raise ResourceError("invalid_token", "the access token is DPoP-bound: send it as "
                            "Authorization: DPoP with a DPoP proof", 401, scheme="DPoP")
    try:
        jkt = dpop.validate_proof(proof_request(p, access_token=creds.token))
    except dpop.DpopError as exc:
        raise ResourceError(exc.error, exc.description, 401, scheme="DPoP") from None
    if not same_key(bound, jkt):
        raise ResourceError(dpop.INVALID_PROOF, "the DPoP proof is signed with another key "
                            "than the one the access token is bound to", 401, scheme="DPoP")
    nonce = current_nonce(p)

    @after_this_request
    def _send_nonce(resp: Response) -> Response:
        """RFC 9449 9: the next nonce rides on the answer, whichever resource gives it."""
        resp.headers[NONCE_HEADER] = nonce
        return resp


def authenticate(p: Provider, s: Session, creds: Credentials) -> tokens.LiveToken:
    """The live access token this request may use, or a ResourceError saying why not."""
    live = tokens.find_access_token(s, creds.token, p.store)
    if live is not None and live.grant.person_id is None \
            and p.clients.get(live.grant.client_id) is None:
        live = None  # an agency token outlives its client's removal by nothing
    if live is None:
        raise ResourceError("invalid_token", "the access token is unknown, expired or revoked",
                            401, scheme="DPoP" if creds.scheme == "dpop" else "Bearer")
    check_binding(p, live, creds)
    return live


def error_response(p: Provider, exc: ResourceError) -> Response:
    """The JSON answer to a refusal, with its WWW-Authenticate challenge (RFC 6750 3,
    RFC 9449 7.1) and, for DPoP challenges, a fresh DPoP-Nonce."""
    resp = jsonify(error=exc.error, error_description=exc.description)
    resp.status_code = exc.status
    resp.headers["Cache-Control"] = "no-store"
    if exc.status == 401:
        challenge = f'{exc.scheme} realm="{p.issuer}"'
        if exc.scheme == "DPoP":
            challenge += f', algs="{" ".join(dpop.ALGORITHMS)}"'
        if exc.challenge:
            challenge += f', error="{exc.error}"'
        resp.headers["WWW-Authenticate"] = challenge
        if exc.scheme == "DPoP":
            resp.headers[NONCE_HEADER] = current_nonce(p)
    return resp
