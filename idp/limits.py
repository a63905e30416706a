"""Rate limits per address and per client on the endpoints that can be abused.

One table says which endpoint is limited by what (:data:`ADDRESS_LIMITED`), and one
``before_request`` hook applies it, so the OpenID endpoints themselves stay free of it. The
counters live in the ephemeral store (Redis in production), so a limit holds across every
worker and node; see :mod:`idp.ratelimit` for the fixed windows and the hashed counter names.

Per address: /authorize, /par, /token and the login POSTs each count the requests of one
address (after ProxyFix, see IDP_TRUSTED_PROXIES) per window. They stop flooding from one
place; their defaults are generous because many people can share one address (carrier NAT,
an office).

Per client at /token: a client that sends too many token requests gets 429 with Retry-After
until its window ends. Only requests in which the client *authenticated* are counted (in
``after_request``, once the answer is known), and the check before the request only reads a
"blocked" marker: otherwise anyone who knows an agency's client_id (it is public) could spend
that agency's budget with bogus requests and lock it out. Requests whose authentication fails
are still counted per address.

IDP_RATE_LIMITS=0 turns these limits off (benchmarks measure the server, not the limiter).
The per-account and per-address limits on passkeys, account login and verification
(idp/ratelimit.py) are not affected.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

from idp import ratelimit
from idp.provider import current_provider
from idp.settings import Settings
from idp.store import StoreUnavailableError

#: endpoint -> (group, JSON answer). One counter per group and address; the login POSTs of
#: every method share one, so trying each method in turn gains nothing.
ADDRESS_LIMITED: dict[str, tuple[str, bool]] = {
    "oidc.authorize": ("authorize", False),
    "oidc.par": ("par", True),
    "oidc.token": ("token", True),
    "authn.login": ("login", False),
    "ndid.submit_id": ("login", False),
    "ndid.create": ("login", False),
    "upstream.start": ("login", False),
}
TOKEN_ENDPOINT = "oidc.token"  # noqa: S105 (an endpoint name)

_MAX_CLIENT_ID = 200
_MAX_ASSERTION = 16 * 1024
_BLOCKED = "rl-blocked:token-client:"
_EXTENSION = "idp_limits"


@dataclass(frozen=True)
class Limits:
    """The limits of one application, built from its settings."""

    secret: bytes
    by_group: dict[str, ratelimit.Limit]
    token_per_client: ratelimit.Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        window = settings.rate_window
        return cls(
            secret=ratelimit.limiter_key(settings.secret_key),
            by_group={
                "authorize": ratelimit.Limit("authorize-ip", settings.rate_authorize_per_address,
                                             window),
                "par": ratelimit.Limit("par-ip", settings.rate_token_per_address, window),
                "token": ratelimit.Limit("token-ip", settings.rate_token_per_address, window),
                "login": ratelimit.Limit("login-ip", settings.rate_login_per_address, window),
            },
            # Counted after the answer, so the marker must be set by the N-th request for
            # the (N+1)-th to be refused: block once the count *reaches* the setting.
            token_per_client=ratelimit.Limit("token-client", settings.rate_token_per_client - 1,
                                             window),
        )


def token_client_id() -> str | None:
    """The client_id a token request claims, before it is checked: from HTTP Basic (RFC 6749
    2.3.1, form-encoded), the form's client_id, or the `sub` of a client assertion
    (private_key_jwt, RFC 7523), read without verifying it. Only used as a counter name, and
    only counted once authlib has authenticated the client."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return unquote_plus(auth.username)[:_MAX_CLIENT_ID]
    form_id = request.form.get("client_id")
    if form_id:
        return form_id[:_MAX_CLIENT_ID]
    assertion = request.form.get("client_assertion", "")
    if assertion and len(assertion) <= _MAX_ASSERTION:
        return _assertion_subject(assertion)
    return None


def _assertion_subject(assertion: str) -> str | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    sub = payload.get("sub") if isinstance(payload, dict) else None
    return sub[:_MAX_CLIENT_ID] if isinstance(sub, str) and sub else None


def _limits() -> Limits:
    limits: Limits = current_app.extensions[_EXTENSION]
    return limits


def _before() -> Response | None:
    rule = ADDRESS_LIMITED.get(request.endpoint or "")
    if rule is None or request.method == "OPTIONS":
        return None
    limits = _limits()
    group, as_json = rule
    store = current_provider().store
    limit, address = limits.by_group[group], ratelimit.client_address()
    client_id = token_client_id() if request.endpoint == TOKEN_ENDPOINT else None
    if client_id is None:
        wait = ratelimit.hit(store, limits.secret, limit, address)
        return None if wait is None else ratelimit.too_many(wait, as_json=as_json)
    # The address's counter and the client's block marker in one round trip: this runs
    # before every token request.
    wait, blocked = ratelimit.hit_and_get(store, limits.secret, limit, address,
                                          _blocked_key(limits, client_id))
    if wait is not None:
        return ratelimit.too_many(wait, as_json=as_json)
    if blocked is not None:
        left = math.ceil(float(blocked.get("until", 0)) - time.time())
        return ratelimit.too_many(max(1, left), as_json=True)
    g.limit_token_client = client_id
    return None


def _blocked_key(limits: Limits, client_id: str) -> str:
    """The marker's name holds a keyed hash of the client_id, like every counter name."""
    return _BLOCKED + ratelimit.who_key(limits.secret, limits.token_per_client, client_id)


def _authenticated(response: Response) -> bool:
    """Whether the token endpoint accepted the client's credentials: every answer except
    authlib's invalid_client (400 or 401) means it did."""
    if response.status_code not in (400, 401):
        return True
    body = response.get_json(silent=True) if response.is_json else None
    return not (isinstance(body, dict) and body.get("error") == "invalid_client")


def _after(response: Response) -> Response:
    client_id = g.pop("limit_token_client", None)
    if not client_id or not _authenticated(response):
        return response
    limits = _limits()
    store = current_provider().store
    try:
        wait = ratelimit.hit(store, limits.secret, limits.token_per_client, client_id)
        if wait is not None:
            store.put(_blocked_key(limits, client_id), {"until": time.time() + wait}, wait)
    except StoreUnavailableError:
        # The answer is already made (a token may have been issued): losing one count is
        # better than turning it into an error.
        logging.getLogger(__name__).warning("rate-limit store unavailable; not counted")
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Install the limits, unless IDP_RATE_LIMITS turns them off (then they cost nothing).
    Call after :func:`idp.logs.init_app`, so a 429 has a request id too."""
    if not settings.rate_limits:
        return
    app.extensions[_EXTENSION] = Limits.from_settings(settings)
    app.before_request(_before)
    app.after_request(_after)
