"""Pushed authorization requests (RFC 9126) as an ordered list of small, named checks.

An agency first POSTs its authorization request to `/par`, authenticated as at the token
endpoint; only then does the person's browser carry a short, single-use `request_uri` to
`/authorize`. The parameters never travel through the browser, so they cannot be read or
altered there, and the client is known to be who it says before anyone logs in (FAPI 2.0).

The pushed parameters are checked by the authorization endpoint's own checks
(`idp.oidc.authorize.CHECKS`), so a request is refused for the same reasons, with the same error
codes, in both places; here every error is a JSON 400 for the agency, never a redirect.

Plain Python: the view (`idp.oidc.views.par`) authenticates the client with authlib and hands the
body over; these functions take data and return data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from idp import i18n
from idp.clients import PRIVATE_KEY_JWT
from idp.db import Client
from idp.oidc import tokens
from idp.oidc.authorize import (
    MAX_PARAM,
    REQUEST_URI_PREFIX,
    AuthorizationRequest,
    Context,
    PageError,
    RedirectError,
    validate,
)
from idp.oidc.claims import MAX_CLAIMS_PARAM
from idp.store import EphemeralStore

# How long a request_uri lives. FAPI 2.0 5.3.2.2 wants under 600 s; it only has to outlive
# one browser redirect, and a short life keeps a leaked request_uri nearly worthless.
REQUEST_URI_TTL = 90
# Bounds on a pushed body besides IDP_MAX_REQUEST_BYTES: an authorization request has about
# twenty standard parameters, and each value is bounded as at /authorize.
MAX_PARAMS = 40
MAX_NAME = 64
MAX_REQUEST_URI = 200
STORE_PREFIX = "par:"
# Client authentication travels in the same body; it is never stored with the request.
CLIENT_AUTH_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})

# What a program reads for the page errors of the authorization checks (pages speak to people).
_DESCRIPTIONS = {
    "invalid_redirect_uri": "redirect_uri is not registered for this client",
    "missing_client_id": "client_id is missing",
    "unknown_client": "the client is not registered",
    "request_not_supported": "this client may not use the authorization endpoint under the "
                             "provider's FAPI 2.0 only policy",
}


class ParError(Exception):
    """A refused pushed request: an OAuth error as JSON, with its HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class ParContext:
    """What the checks read (the body as sent, the authenticated client) and what they fill."""

    items: Sequence[tuple[str, str]]
    client: Client
    auth_method: str
    issuer: str
    verify_id_token: Callable[[str], dict[str, Any]]
    fapi2_only: bool = False
    params: dict[str, str] = field(default_factory=dict)
    req: AuthorizationRequest | None = None


_PLAIN_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME}}}")


def _shown(name: str) -> str:
    """A parameter's name as an error may quote it: RFC 6749 5.2 allows only printable ASCII
    without quote or backslash in `error_description`, and a name is the caller's input (it
    could be anything, a pasted secret included). Plain names are quoted; others are not."""
    return f"'{name}'" if _PLAIN_NAME.fullmatch(name) else "a parameter"


def check_bounds(ctx: ParContext) -> None:
    """Few parameters, short names, values bounded as at /authorize (claims has its own)."""
    if len(ctx.items) > MAX_PARAMS:
        raise ParError("invalid_request", f"too many parameters (at most {MAX_PARAMS})")
    for name, value in ctx.items:
        if len(name) > MAX_NAME:
            raise ParError("invalid_request", "a parameter name is too long")
        limit = MAX_CLAIMS_PARAM if name == "claims" else MAX_PARAM
        if len(value) > limit:
            raise ParError("invalid_request", f"{_shown(name)} is too long")


def check_single_values(ctx: ParContext) -> None:
    """RFC 6749 3.1: no parameter twice (which copy counts would be a guess). Client
    authentication parameters are dropped here, so no secret or assertion is ever stored."""
    seen: dict[str, str] = {}
    for name, value in ctx.items:
        if name in seen:
            raise ParError("invalid_request", f"{_shown(name)} is given more than once")
        seen[name] = value
    ctx.params = {k: v for k, v in seen.items() if k not in CLIENT_AUTH_PARAMS}


def check_client_id(ctx: ParContext) -> None:
    """RFC 9126 2.1: a client_id in the body must be the authenticated client's; the stored
    request then always names the client that pushed it."""
    given = ctx.params.get("client_id")
    if given is not None and given != ctx.client.client_id:
        raise ParError("invalid_request", "client_id does not match the authenticated client")
    ctx.params["client_id"] = ctx.client.client_id


def check_auth_method(ctx: ParContext) -> None:
    """FAPI 2.0 5.3.2.1: a fapi2 client authenticates with private_key_jwt only (its
    registration already pins that; this keeps the rule true whatever authlib accepted)."""
    if ctx.client.profile == "fapi2" and ctx.auth_method != PRIVATE_KEY_JWT:
        raise ParError("invalid_client", "this client must authenticate with private_key_jwt",
                       401)


def check_no_request_uri(ctx: ParContext) -> None:
    """RFC 9126 2.1: request_uri must not be pushed (it would chain one request to another)."""
    if "request_uri" in ctx.params:
        raise ParError("invalid_request", "request_uri is not allowed in a pushed "
                                          "authorization request")


def check_no_request_object(ctx: ParContext) -> None:
    """Request objects are not supported here; refused rather than silently ignored."""
    if "request" in ctx.params:
        raise ParError("invalid_request", "request objects are not supported; push the "
                                          "parameters themselves")


def check_redirect_uri_given(ctx: ParContext) -> None:
    """FAPI 2.0 5.3.2.2: redirect_uri is required in a pushed request, even with one
    registered: the code must go exactly where the pushed request says."""
    if not ctx.params.get("redirect_uri"):
        raise ParError("invalid_request", "redirect_uri is required")


def check_authorization_request(ctx: ParContext) -> None:
    """The authorization endpoint's own checks over the pushed parameters; their page and
    redirect errors become JSON errors for the agency."""
    actx = Context(params=ctx.params, issuer=ctx.issuer, find_client=lambda _: ctx.client,
                   verify_id_token=ctx.verify_id_token, pushed=True, fapi2_only=ctx.fapi2_only)
    try:
        ctx.req = validate(actx)
    except PageError as exc:
        description = _DESCRIPTIONS.get(exc.message_key) or i18n.translate(exc.message_key, "en")
        raise ParError(exc.error, description) from exc
    except RedirectError as exc:
        raise ParError(exc.error, exc.description) from exc


PAR_CHECKS: tuple[Callable[[ParContext], None], ...] = (
    check_bounds,
    check_single_values,
    check_client_id,
    check_auth_method,
    check_no_request_uri,
    check_no_request_object,
    check_redirect_uri_given,
    check_authorization_request,
)


def validate_push(ctx: ParContext) -> dict[str, str]:
    """Run every check; the parameters to store (client authentication removed)."""
    for check in PAR_CHECKS:
        check(ctx)
    return ctx.params


def _key(request_uri: str) -> str:
    """Stored under its digest, as every handle is: the store never holds a usable value."""
    return STORE_PREFIX + tokens.digest(request_uri)


def push(store: EphemeralStore, client_id: str, params: dict[str, str]) -> dict[str, Any]:
    """Store validated parameters under a new request_uri (256 random bits) and return the
    RFC 9126 2.2 response body."""
    ttl = REQUEST_URI_TTL  # read at call time, so a test can shorten it
    request_uri = REQUEST_URI_PREFIX + tokens.new_secret()
    store.put(_key(request_uri), {"client_id": client_id, "params": params}, ttl)
    return {"request_uri": request_uri, "expires_in": ttl}


def take_pushed(store: EphemeralStore, request_uri: str, client_id: str
                ) -> dict[str, str] | None:
    """The pushed parameters, taken atomically (a request_uri works once, RFC 9126 7.3), or
    None. One presented with another client_id is refused without being taken, so whoever
    sees a request_uri in a browser cannot burn it for the agency that pushed it."""
    if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > MAX_REQUEST_URI:
        return None
    key = _key(request_uri)
    peek = store.get(key)
    if peek is None or peek.get("client_id") != client_id:
        return None
    data = store.take(key)
    if data is None:  # taken by a concurrent request in between
        return None
    params: dict[str, str] = data["params"]
    return params
