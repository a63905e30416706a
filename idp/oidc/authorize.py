"""The authorization endpoint as an ordered list of small, named checks.

Reading CHECKS tells the whole endpoint. The first checks establish where errors may go:
until the client and its exact redirect URI are known, an error is a page for the person and
never a redirect (an open redirector would hand codes and errors to strangers). After them,
errors go back to the agency with `state` and `iss` (RFC 9207).

A request pushed beforehand (RFC 9126, see idp.oidc.par) is resolved by the very first check:
from then on the checks read the pushed parameters only, exactly as they were validated at PAR.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from joserfc.errors import JoseError

from idp.authn.session import SsoSession
from idp.db import Client
from idp.oidc.claims import ClaimsRequestError, parse_claims_param
from kyc.assurance import Assurance, parse_acr

MAX_PARAM = 2048
# RFC 9126 2.2: the request_uri this provider hands out at PAR (see idp.oidc.par).
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# RFC 9449 10: a base64url SHA-256 JWK thumbprint (RFC 7638) has exactly 43 characters.
DPOP_JKT_RE = re.compile(r"[A-Za-z0-9_-]{43}")
PROMPTS = {"none", "login", "consent", "select_account"}
DISPLAYS = {"page", "popup", "touch", "wap"}


class PageError(Exception):
    """An error shown to the person: the redirect URI is not trusted yet."""

    def __init__(self, error: str, message_key: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.message_key = message_key
        self.status = status


class RedirectError(Exception):
    """An error returned to the agency at its registered redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass
class AuthorizationRequest:
    """A validated authorization request; stored with the interaction, so it is plain data."""

    client_id: str = ""
    redirect_uri: str = ""
    state: str | None = None
    scopes: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str = ""
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    acr_values: list[str] = field(default_factory=list)
    essential_acr: list[str] = field(default_factory=list)
    id_token_hint_sub: str | None = None
    login_hint: str | None = None
    ui_locales: str | None = None
    claims_locales: str | None = None
    display: str | None = None
    # The thumbprint of the DPoP key the code is bound to (RFC 9449 10), checked at /token.
    dpop_jkt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthorizationRequest:
        return cls(**data)


@dataclass
class Context:
    """What the checks read (params, the client lookup, our keys) and what they fill (req)."""

    params: Mapping[str, str]
    issuer: str
    find_client: Callable[[str], Client | None]
    verify_id_token: Callable[[str], dict[str, Any]]
    client: Client | None = None
    req: AuthorizationRequest = field(default_factory=AuthorizationRequest)
    # (request_uri, client_id) -> the pushed parameters, taken (single use), or None when
    # unknown, expired, used or pushed by another client; see idp.oidc.par.take_pushed.
    take_pushed: Callable[[str, str], dict[str, str] | None] | None = None
    # Whether params came through PAR (set by check_pushed_request, or by the PAR endpoint).
    pushed: bool = False
    # IDP_FAPI2_ONLY: every client must use PAR, and only fapi2 clients are served.
    fapi2_only: bool = False


def _param(ctx: Context, name: str) -> str | None:
    value = ctx.params.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_PARAM and name != "claims":
        raise RedirectError("invalid_request", f"'{name}' is too long")
    return value


def check_pushed_request(ctx: Context) -> None:
    """RFC 9126 4: with `request_uri`, the request is the one pushed by this `client_id`, taken
    once; every other query parameter is ignored. An unknown, expired, reused or foreign
    request_uri is `invalid_request_uri` (RFC 9101 7), shown as a page: no redirect URI is
    trusted yet, since the pushed one is gone or belongs to someone else."""
    if not (ctx.params.get("request_uri") or "").startswith(REQUEST_URI_PREFIX):
        return  # none, or a request object by reference: check_request_object refuses that
    client_id = ctx.params.get("client_id")
    if not client_id:
        raise PageError("invalid_request", "missing_client_id")
    request_uri = ctx.params["request_uri"]
    pushed = ctx.take_pushed(request_uri, client_id) if ctx.take_pushed else None
    if pushed is None:
        raise PageError("invalid_request_uri", "interaction_expired")
    ctx.params = pushed
    ctx.pushed = True


def check_client(ctx: Context) -> None:
    client_id = ctx.params.get("client_id")
    if not client_id:
        raise PageError("invalid_request", "missing_client_id")
    client = ctx.find_client(client_id) if len(client_id) <= 64 else None
    if client is None:
        raise PageError("invalid_client", "unknown_client")
    ctx.client = client
    ctx.req.client_id = client.client_id


def check_par_required(ctx: Context) -> None:
    """A client registered with require_pushed_authorization_requests (every fapi2 client), or
    any client under IDP_FAPI2_ONLY, must push its request first (FAPI 2.0 5.3.1.2). Refused as
    a page, before any other parameter is read: nothing in a front-channel request that skipped
    client authentication is trusted, its redirect URI included."""
    assert ctx.client is not None
    if ctx.fapi2_only and ctx.client.profile != "fapi2":
        raise PageError("unauthorized_client", "request_not_supported")
    if ctx.pushed:
        return
    if ctx.client.require_pushed_authorization_requests or ctx.fapi2_only:
        raise PageError("invalid_request", "request_not_supported")


def check_redirect_uri(ctx: Context) -> None:
    """Exact string match, query included (OIDC Core 3.1.2.1); one registered URI may be implied
    only by plain OAuth, never here."""
    assert ctx.client is not None
    uri = ctx.params.get("redirect_uri")
    if not uri or uri not in ctx.client.redirect_uris:
        raise PageError("invalid_request", "invalid_redirect_uri")
    ctx.req.redirect_uri = uri
    state = ctx.params.get("state")
    ctx.req.state = state[:MAX_PARAM] if state else None


def check_request_object(ctx: Context) -> None:
    """Request objects are not supported; refusing them beats silently ignoring their content."""
    if "request" in ctx.params:
        raise RedirectError("request_not_supported", "request objects are not supported")
    if "request_uri" in ctx.params:
        raise RedirectError("request_uri_not_supported",
                            "request_uri is supported only as returned by the pushed "
                            "authorization request endpoint")


def check_response_type(ctx: Context) -> None:
    response_type = _param(ctx, "response_type")
    if response_type is None:
        raise RedirectError("invalid_request", "missing 'response_type'")
    if response_type != "code":
        raise RedirectError("unsupported_response_type", "only response_type=code is supported")


def check_response_mode(ctx: Context) -> None:
    mode = _param(ctx, "response_mode")
    if mode not in (None, "query"):
        raise RedirectError("invalid_request", "only response_mode=query is supported")


def check_scope(ctx: Context) -> None:
    """`openid` is required; scopes the client may not ask for are dropped (RFC 6749 3.3)."""
    assert ctx.client is not None
    requested = (_param(ctx, "scope") or "").split()
    if "openid" not in requested:
        raise RedirectError("invalid_scope", "the 'openid' scope is required")
    allowed = set(ctx.client.scope.split()) | {"openid"}
    ctx.req.scopes = list(dict.fromkeys(s for s in requested if s in allowed))


def check_pkce(ctx: Context) -> None:
    challenge = _param(ctx, "code_challenge")
    method = _param(ctx, "code_challenge_method")
    if challenge is None:
        raise RedirectError("invalid_request", "PKCE is required: send code_challenge with "
                                               "code_challenge_method=S256")
    if method != "S256":
        raise RedirectError("invalid_request", "code_challenge_method must be S256")
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge):
        raise RedirectError("invalid_request", "code_challenge is not a base64url SHA-256")
    ctx.req.code_challenge = challenge


def check_nonce(ctx: Context) -> None:
    ctx.req.nonce = _param(ctx, "nonce")


def check_dpop_jkt(ctx: Context) -> None:
    """RFC 9449 10: binds the code to a DPoP key; the token endpoint then accepts the code
    only with a proof signed by that key. Malformed means it could never match: refuse."""
    jkt = _param(ctx, "dpop_jkt")
    if jkt is not None and not DPOP_JKT_RE.fullmatch(jkt):
        raise RedirectError("invalid_request", "dpop_jkt must be a base64url SHA-256 JWK "
                                               "thumbprint (43 characters)")
    ctx.req.dpop_jkt = jkt


def check_prompt(ctx: Context) -> None:
    prompts = (_param(ctx, "prompt") or "").split()
    unknown = [p for p in prompts if p not in PROMPTS]
    if unknown:
        raise RedirectError("invalid_request", "unknown prompt value")
    if "none" in prompts and len(prompts) > 1:
        raise RedirectError("invalid_request", "prompt=none cannot be combined with others")
    ctx.req.prompt = prompts


def check_max_age(ctx: Context) -> None:
    raw = _param(ctx, "max_age")
    if raw is None:
        return
    if not raw.isdigit() or len(raw) > 10:
        raise RedirectError("invalid_request", "max_age must be a non-negative integer")
    ctx.req.max_age = int(raw)


def check_claims(ctx: Context) -> None:
    try:
        ctx.req.claims = parse_claims_param(_param(ctx, "claims"))
    except ClaimsRequestError as exc:
        raise RedirectError("invalid_request", str(exc)) from exc
    acr = ctx.req.claims.get("id_token", {}).get("acr")
    if isinstance(acr, dict) and acr.get("essential"):
        values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
        ctx.req.essential_acr = [v for v in values if isinstance(v, str)]


def check_acr_values(ctx: Context) -> None:
    ctx.req.acr_values = (_param(ctx, "acr_values") or "").split()


def check_id_token_hint(ctx: Context) -> None:
    """The hint must be an ID token we issued to this client; it may have expired."""
    hint = _param(ctx, "id_token_hint")
    if hint is None:
        return
    try:
        claims = ctx.verify_id_token(hint)
    except (JoseError, ValueError) as exc:
        raise RedirectError("invalid_request", "id_token_hint is not a valid ID token "
                                               "issued by this provider") from exc
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if ctx.req.client_id not in auds or claims.get("iss") != ctx.issuer:
        raise RedirectError("invalid_request", "id_token_hint was issued to another client")
    ctx.req.id_token_hint_sub = str(claims.get("sub"))


def check_hints_and_locales(ctx: Context) -> None:
    ctx.req.login_hint = _param(ctx, "login_hint")
    ctx.req.ui_locales = _param(ctx, "ui_locales")
    ctx.req.claims_locales = _param(ctx, "claims_locales")
    display = _param(ctx, "display")
    ctx.req.display = display if display in DISPLAYS else None


CHECKS: tuple[Callable[[Context], None], ...] = (
    check_pushed_request,
    check_client,
    check_par_required,
    check_redirect_uri,
    check_request_object,
    check_response_type,
    check_response_mode,
    check_scope,
    check_pkce,
    check_nonce,
    check_dpop_jkt,
    check_prompt,
    check_max_age,
    check_claims,
    check_acr_values,
    check_id_token_hint,
    check_hints_and_locales,
)


def validate(ctx: Context) -> AuthorizationRequest:
    for check in CHECKS:
        check(ctx)
    return ctx.req


# What happens next, given the session: each rule one function, in order.

@dataclass(frozen=True)
class Decision:
    step: str  # "login", "consent" or "issue"


def weakest_assurance(values: list[str], issuer: str) -> Assurance | None:
    """The weakest of the acr values asked for: meeting any one of them satisfies the request."""
    levels = [a for a in (parse_acr(v, issuer) for v in values) if a]
    return min(levels) if levels else None


def wanted_assurance(req: AuthorizationRequest, issuer: str) -> Assurance | None:
    """What an essential `acr` claim demands; the login must reach it or fail."""
    return weakest_assurance(req.essential_acr, issuer)


def session_fits(req: AuthorizationRequest, session: SsoSession | None, now: int,
                 subject_of_session: str | None, issuer: str) -> bool:
    if session is None or "login" in req.prompt or "select_account" in req.prompt:
        return False
    # max_age=0 means "log in now" (as prompt=login); otherwise older than max_age seconds.
    if req.max_age is not None and (req.max_age == 0 or now - session.auth_time > req.max_age):
        return False
    if req.id_token_hint_sub is not None and subject_of_session != req.id_token_hint_sub:
        return False
    have = parse_acr(session.acr, issuer)
    for wanted in (wanted_assurance(req, issuer),
                   # acr_values are voluntary: step up when we may ask, never fail for them
                   None if "none" in req.prompt else weakest_assurance(req.acr_values, issuer)):
        if wanted and (have is None or not have.satisfies(wanted)):
            return False
    return True


def decide(req: AuthorizationRequest, session: SsoSession | None, now: int,
           subject_of_session: str | None, consented: bool, issuer: str) -> Decision:
    """Login, consent or issue; with prompt=none, a needed interaction is an error instead."""
    if not session_fits(req, session, now, subject_of_session, issuer):
        if "none" in req.prompt:
            raise RedirectError("login_required", "the person must log in")
        return Decision("login")
    if not consented or "consent" in req.prompt:
        if "none" in req.prompt:
            raise RedirectError("consent_required", "the person must consent")
        return Decision("consent")
    return Decision("issue")


def redirect_with(uri: str, params: dict[str, str | None]) -> str:
    """Add parameters to a registered redirect URI, keeping its own query exactly as it was."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
