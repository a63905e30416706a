"""Upstream OpenID providers (ThaID-style): configuration, discovery, the code flow as a client,
full ID token validation, and mapping what the provider says to our claims and levels.

Plain Python with no Flask and no `idp` import: a function takes data and returns data, so every
rule here is tested without a request (`tests/federation/test_oidc_upstream.py`) and the web
layer (`idp/authn/upstream_views.py`) only moves data between the browser, the store and here.

Rules followed (OpenID Connect Core 1.0 and Discovery 1.0, RFC 7636, RFC 9207):
- the discovery document's `issuer` is exactly the one its URL was built from, and every
  endpoint it names uses https (plain http only on loopback, for development);
- the authorization request is the code flow with PKCE (S256), `state` and `nonce`, each with
  256 random bits; an `iss` in the response must be the provider's;
- the ID token is checked in full: a signature by a key of the provider's JWKS with an algorithm
  the provider advertises (never `none`, never a MAC), `iss` exactly the discovery issuer, `aud`
  containing our client_id (and `azp` when several audiences), `exp`, `iat`, `nbf`, `nonce`, and
  `at_hash` when present; an unknown `kid` refetches the JWKS once (the provider rotated keys);
- every fetch is bounded in size and time and never follows a redirect.

Nothing here puts a token, a secret or a national ID number in an exception message: messages
are read by operators and may reach logs. `UpstreamConfig.client_secret` is kept out of repr().
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import requests
from joserfc import jwk, jws
from joserfc.errors import JoseError

from kyc.assurance import AAL_LEVELS, IAL_LEVELS
from kyc.thai_id import normalize_thai_id

# --------------------------------------------------------------------------------------------
# Bounds and constants

MAX_DOCUMENT_BYTES = 64 * 1024
"""Largest discovery document, JWKS, token or userinfo response read from an upstream."""
MAX_ID_TOKEN_BYTES = 16 * 1024
MAX_CLAIM_CHARS = 512
"""Longest string kept from an upstream claim (names, addresses): longer ones are dropped."""
MAX_CONFIG_PROVIDERS = 50
MAX_SCOPES = 50
MAX_MAPPED_CLAIMS = 64
DEFAULT_TIMEOUT = 5.0
DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
CLOCK_LEEWAY = 60
"""Seconds of clock difference tolerated on exp, iat and nbf."""
WELL_KNOWN = "/.well-known/openid-configuration"

# Signature algorithms accepted on ID tokens: asymmetric only. A MAC (HS256) keyed with the
# client secret is legal OIDC, but proves nothing a shared secret holder could not forge.
SIGNATURE_ALGS: dict[str, str] = {
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
    "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
    "EdDSA": "OKP",
}

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:#-]{1,64}")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}")  # RFC 6749 scope-token
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")
_BIRTHDATE = re.compile(r"[0-9]{4}(-[0-9]{2}-[0-9]{2})?")

CITIZEN_ID = "th_citizen_id"
"""Our claim name for the Thai citizen ID (kyc.identifiers.TH_CITIZEN_ID)."""
LOCALIZED_CLAIMS = ("name", "given_name", "family_name", "middle_name", "title")
PLAIN_CLAIMS = ("nickname", "birthdate", "gender", "address", "email", "phone_number", "locale")
TARGET_CLAIMS: frozenset[str] = frozenset(
    {CITIZEN_ID, *LOCALIZED_CLAIMS, *PLAIN_CLAIMS}
    | {f"{c}#{loc}" for c in LOCALIZED_CLAIMS for loc in ("th", "en")})
"""The claim names of ours an upstream claim may be mapped to."""
ADDRESS_MEMBERS = ("formatted", "street_address", "locality", "region", "postal_code",
                   "country")

AuthMethod = Literal["client_secret_basic", "client_secret_post"]
Evidence = Literal["id_card_chip", "none"]
AUTH_METHODS: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
EVIDENCE_PRESETS: tuple[str, ...] = ("id_card_chip", "none")

# --------------------------------------------------------------------------------------------
# Errors


class UpstreamConfigError(ValueError):
    """The upstreams configuration cannot be used; `problems` lists every reason, each naming
    the provider and the field (never a secret's value)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UpstreamError(Exception):
    """A login through an upstream could not complete.

    `code` says which kind of failure, for the page the person sees:
    - "upstream_unavailable": the provider could not be reached or answered nonsense;
    - "upstream_refused": the provider refused (its token endpoint said `error`);
    - "upstream_token_invalid": the ID token failed validation (`IdTokenError`);
    - "upstream_identity_incomplete": no usable citizen ID or identity assurance level.
    `detail` is for operators (audit, `idp upstreams check`); it never holds a token, a secret
    or personal data.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class IdTokenError(UpstreamError):
    """The ID token broke a rule; `reason` names which (tests and audit read it)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__("upstream_token_invalid", detail)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class IalMapping:
    """How the upstream's identity assurance level becomes ours.

    `claim`: the upstream claim holding it (ThaID: "ial", a string such as "2.3"), or None.
    `values`: upstream value -> our IAL; when empty, the value itself is read on our scale.
    `default`: our IAL when the claim is absent or unknown (None: such a login fails).
    `max_ial`: never more than this, whatever the upstream says (the operator's trust cap).
    """

    claim: str | None = "ial"
    values: Mapping[str, Decimal] = field(default_factory=dict)
    default: Decimal | None = None
    max_ial: Decimal = IAL_LEVELS[-1]


@dataclass(frozen=True)
class UpstreamConfig:
    """One upstream OpenID provider, as the operator configured it."""

    name: str
    display_name_th: str
    display_name_en: str
    discovery_url: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"  # noqa: S105 (a name)
    scopes: tuple[str, ...] = ("openid",)
    claims: Mapping[str, str] = field(default_factory=dict)
    citizen_id_claim: str = "pid"
    ial: IalMapping = field(default_factory=IalMapping)
    aal: Decimal = AAL_LEVELS[0]
    evidence: Evidence = "none"
    userinfo: bool = True
    timeout: float = DEFAULT_TIMEOUT

    @property
    def source(self) -> str:
        """The proofing event source for logins through this provider."""
        return f"oidc:{self.name}"

    def upstream_claim_names(self) -> set[str]:
        """Every upstream claim this configuration reads."""
        names = set(self.claims) | {self.citizen_id_claim}
        if self.ial.claim:
            names.add(self.ial.claim)
        return names


def _canonical(value: Any, levels: tuple[Decimal, ...]) -> Decimal | None:
    """The table entry equal to `value` ("2.30", 2.3 and "2.3" all give Decimal("2.3")), or
    None when it is not a level. Floats are read through their shortest text, never binary."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return next((level for level in levels if level == number), None)


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def check_url(url: Any, what: str) -> str:
    """An absolute https URL (http only on loopback, for development), without a fragment or
    credentials; raises ValueError naming `what`."""
    if not isinstance(url, str) or not url or len(url) > 2048 or not url.isascii():
        raise ValueError(f"{what} must be a URL")
    parts = urlsplit(url)
    if parts.scheme != "https" and not is_loopback_http(url):
        raise ValueError(f"{what} must use https")
    if not parts.hostname or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{what} must be an absolute URL without fragment or credentials")
    return url


class _Reader:
    """Reads one provider object, collecting every problem instead of stopping at the first,
    so an operator fixes the whole file in one pass."""

    def __init__(self, obj: Mapping[str, Any], where: str) -> None:
        self.obj = obj
        self.where = where
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.where}: {text}")

    def text(self, key: str, *, required: bool = True, max_len: int = 255,
             pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        value = self.obj.get(key)
        if value is None:
            if required:
                self.problem(f'"{key}" is required{hint}')
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            self.problem(f'"{key}" must be a non-empty string of at most {max_len} characters')
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.problem(f'"{key}" has a form that is not allowed{hint}')
            return None
        return value

    def level(self, key: str, value: Any, levels: tuple[Decimal, ...], what: str
              ) -> Decimal | None:
        level = _canonical(value, levels) if isinstance(value, str) else None
        if level is None:
            shown = " ".join(str(x) for x in levels)
            self.problem(f'"{key}" must be {what} written as a string, one of: {shown}')
        return level


_KNOWN_KEYS = frozenset({
    "name", "display_name", "discovery_url", "issuer", "client_id", "client_secret",
    "client_secret_env", "token_endpoint_auth_method", "scopes", "claims", "citizen_id_claim",
    "ial", "aal", "evidence", "userinfo", "timeout"})


def parse_config(obj: Any, index: int, env: Mapping[str, str] | None = None
                 ) -> UpstreamConfig:
    """One provider object from the configuration file; raises UpstreamConfigError listing
    every problem. `env` resolves `client_secret_env` (the secret kept out of the file)."""
    if not isinstance(obj, dict):
        raise UpstreamConfigError([f"upstreams[{index}]: must be a JSON object"])
    raw_name = obj.get("name")
    label = f'"{raw_name}"' if isinstance(raw_name, str) and len(raw_name) <= 64 else "?"
    r = _Reader(obj, f"upstreams[{index}] ({label})")
    for key in sorted(set(obj) - _KNOWN_KEYS):
        r.problem(f'unknown field "{str(key)[:40]}"')

    name = r.text("name", pattern=NAME_PATTERN, hint=" (lower-case letters, digits, . _ -)")
    names = obj.get("display_name")
    display: dict[str, str] = {}
    if not isinstance(names, dict) or set(names) - {"th", "en"} or not all(
            isinstance(names.get(k), str) and names[k].strip() and len(names[k]) <= 100
            for k in ("th", "en")):
        r.problem('"display_name" must be {"th": "...", "en": "..."} (each at most 100 '
                  'characters), shown on the login button')
    else:
        display = {k: names[k].strip() for k in ("th", "en")}

    discovery_url = issuer = None
    try:
        discovery_url = check_url(obj.get("discovery_url"), '"discovery_url"')
    except ValueError as exc:
        r.problem(str(exc))
    if obj.get("issuer") is not None:
        try:
            issuer = check_url(obj.get("issuer"), '"issuer"')
        except ValueError as exc:
            r.problem(str(exc))
    elif discovery_url is not None:
        if discovery_url.endswith(WELL_KNOWN):
            issuer = discovery_url[: -len(WELL_KNOWN)]
        else:
            r.problem(f'"discovery_url" does not end with {WELL_KNOWN}: give "issuer" too, '
                      f"exactly as the provider's discovery document states it")

    client_id = r.text("client_id")
    secret = None
    if "client_secret" in obj and "client_secret_env" in obj:
        r.problem('give "client_secret" or "client_secret_env", not both')
    elif "client_secret_env" in obj:
        var = r.text("client_secret_env", pattern=_ENV_NAME,
                     hint=" (an environment variable name)")
        if var is not None:
            secret = (env or {}).get(var) or None
            if secret is None:
                r.problem(f"the environment variable {var} (client_secret_env) is not set")
    elif isinstance(obj.get("client_secret"), str) and obj["client_secret"] \
            and len(obj["client_secret"]) <= 1024:
        secret = obj["client_secret"]
    else:
        r.problem('"client_secret" (a non-empty string) or "client_secret_env" (the name of '
                  "an environment variable holding it) is required")

    method = obj.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        r.problem('"token_endpoint_auth_method" must be "client_secret_basic" or '
                  '"client_secret_post"')

    scopes = obj.get("scopes")
    if not isinstance(scopes, list) or not scopes or len(scopes) > MAX_SCOPES or not all(
            isinstance(s, str) and _SCOPE_TOKEN.fullmatch(s) for s in scopes):
        r.problem(f'"scopes" must be a list of at most {MAX_SCOPES} scope names')
        scopes = []
    elif "openid" not in scopes:
        r.problem('"scopes" must include "openid"')

    claims = obj.get("claims", {})
    mapping: dict[str, str] = {}
    if not isinstance(claims, dict) or len(claims) > MAX_MAPPED_CLAIMS:
        r.problem(f'"claims" must be an object of at most {MAX_MAPPED_CLAIMS} members, '
                  "upstream claim name -> our claim name")
    else:
        for upstream, ours in claims.items():
            if not _CLAIM_NAME.fullmatch(upstream):
                r.problem(f'"claims": the upstream claim name "{upstream[:64]}" is not allowed')
            elif not isinstance(ours, str) or ours not in TARGET_CLAIMS:
                r.problem(f'"claims": "{upstream}" maps to an unknown claim of ours; use one '
                          f"of: {', '.join(sorted(TARGET_CLAIMS))}")
            else:
                mapping[upstream] = ours
        targets = list(mapping.values())
        for dup in sorted({t for t in targets if targets.count(t) > 1}):
            r.problem(f'"claims": more than one upstream claim maps to "{dup}"')

    mapped_citizen = [k for k, v in mapping.items() if v == CITIZEN_ID]
    citizen_claim = r.text("citizen_id_claim", required=False, max_len=64,
                           pattern=_CLAIM_NAME)
    if citizen_claim is None and "citizen_id_claim" not in obj:
        if mapped_citizen:
            citizen_claim = mapped_citizen[0]
        else:
            r.problem('no claim gives the citizen ID: map one to "th_citizen_id" in "claims" '
                      '(ThaID: "pid": "th_citizen_id") or set "citizen_id_claim"')
    elif citizen_claim is not None and mapped_citizen and mapped_citizen[0] != citizen_claim:
        r.problem(f'"citizen_id_claim" is "{citizen_claim}" but "claims" maps '
                  f'"{mapped_citizen[0]}" to "th_citizen_id"')

    ial_mapping = _parse_ial(r, obj.get("ial", {"claim": "ial"}))
    aal = r.level("aal", obj.get("aal"), AAL_LEVELS, "the AAL a login there gives")

    evidence = obj.get("evidence", "none")
    if evidence not in EVIDENCE_PRESETS:
        r.problem('"evidence" must be "id_card_chip" or "none"')
    userinfo = obj.get("userinfo", True)
    if not isinstance(userinfo, bool):
        r.problem('"userinfo" must be true or false')
    timeout = obj.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
            or not 0.5 <= timeout <= 30:
        r.problem('"timeout" must be a number of seconds from 0.5 to 30')

    if r.problems:
        raise UpstreamConfigError(r.problems)
    assert name and discovery_url and issuer and client_id and secret and citizen_claim
    assert ial_mapping is not None and aal is not None
    return UpstreamConfig(
        name=name, display_name_th=display["th"], display_name_en=display["en"],
        discovery_url=discovery_url, issuer=issuer,
        client_id=client_id, client_secret=secret, token_endpoint_auth_method=method,
        scopes=tuple(scopes), claims=mapping, citizen_id_claim=citizen_claim,
        ial=ial_mapping, aal=aal, evidence=evidence, userinfo=userinfo,
        timeout=float(timeout))


def _parse_ial(r: _Reader, obj: Any) -> IalMapping | None:
    if not isinstance(obj, dict) or set(obj) - {"claim", "values", "default", "max"}:
        r.problem('"ial" must be an object with "claim", "values", "default" and "max" '
                  "(all optional)")
        return None
    problems = len(r.problems)
    claim = obj.get("claim")
    if claim is not None and (not isinstance(claim, str) or not _CLAIM_NAME.fullmatch(claim)):
        r.problem('"ial.claim" must be an upstream claim name or null')
    values: dict[str, Decimal] = {}
    table = obj.get("values", {})
    if not isinstance(table, dict) or len(table) > 50:
        r.problem('"ial.values" must be an object: upstream value -> our IAL')
    else:
        for key, value in table.items():
            level = r.level(f"ial.values.{key[:20]}", value, IAL_LEVELS, "an IAL")
            if level is not None:
                values[key] = level
    default = None
    if obj.get("default") is not None:
        default = r.level("ial.default", obj["default"], IAL_LEVELS, "an IAL")
    max_ial = IAL_LEVELS[-1]
    if obj.get("max") is not None:
        max_ial = r.level("ial.max", obj["max"], IAL_LEVELS, "an IAL") or max_ial
    if claim is None and default is None:
        r.problem('"ial" needs a "claim" to read the level from, or a "default"')
    if len(r.problems) > problems:
        return None
    return IalMapping(claim=claim, values=values, default=default, max_ial=max_ial)


def parse_configs(data: Any, env: Mapping[str, str] | None = None) -> list[UpstreamConfig]:
    """The configuration file's content (a JSON list of provider objects, already parsed or
    as text); raises UpstreamConfigError listing every problem of every provider."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise UpstreamConfigError(
                [f"not valid JSON (line {getattr(exc, 'lineno', '?')}, column "
                 f"{getattr(exc, 'colno', '?')})"]) from None
    if not isinstance(data, list):
        raise UpstreamConfigError(["must be a JSON list of provider objects"])
    if len(data) > MAX_CONFIG_PROVIDERS:
        raise UpstreamConfigError([f"at most {MAX_CONFIG_PROVIDERS} providers"])
    problems: list[str] = []
    configs: list[UpstreamConfig] = []
    for index, obj in enumerate(data):
        try:
            configs.append(parse_config(obj, index, env))
        except UpstreamConfigError as exc:
            problems.extend(exc.problems)
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            problems.append(f'two providers are named "{config.name}"')
        seen.add(config.name)
    if problems:
        raise UpstreamConfigError(problems)
    return configs


# --------------------------------------------------------------------------------------------
# HTTP, bounded


def _read_json(resp: requests.Response, what: str) -> Any:
    """The response body as JSON (None when it is not JSON), reading at most
    MAX_DOCUMENT_BYTES."""
    body = resp.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise UpstreamError("upstream_unavailable", f"the {what} answer is too large")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep to be honest
        return None


def _request(method: str, url: str, what: str, timeout: float, **kwargs: Any
             ) -> tuple[int, Any]:
    """(status, JSON body or None) of one request: bounded, no redirects, https only."""
    try:
        check_url(url, what)
    except ValueError as exc:
        raise UpstreamError("upstream_unavailable", str(exc)) from None
    try:
        with requests.request(method, url, timeout=timeout, stream=True,
                              allow_redirects=False, **kwargs) as resp:
            body = _read_json(resp, what)
            if resp.status_code == 200 and body is None:
                raise UpstreamError("upstream_unavailable", f"the {what} answer is not JSON")
            return resp.status_code, body
    except requests.RequestException as exc:
        raise UpstreamError("upstream_unavailable",
                            f"the {what} could not be reached ({type(exc).__name__})") from None


def _error_code(body: Any) -> str:
    """The OAuth `error` of an error response, if it is a plain code (never echoed raw)."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else "unknown"


# --------------------------------------------------------------------------------------------
# Discovery


@dataclass(frozen=True)
class ProviderMetadata:
    """What we use of the upstream's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    id_token_signing_alg_values_supported: tuple[str, ...]
    authorization_response_iss_parameter_supported: bool = False


def parse_metadata(doc: Any, expected_issuer: str) -> ProviderMetadata:
    """Check a discovery document (Discovery 1.0, 3 and 4.3); raises UpstreamError."""
    if not isinstance(doc, dict):
        raise UpstreamError("upstream_unavailable", "the discovery document is not an object")
    if doc.get("issuer") != expected_issuer:
        raise UpstreamError("upstream_unavailable",
                            "the discovery document's issuer is not the configured one")
    urls: dict[str, str | None] = {}
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        value = doc.get(key)
        if value is None and key == "userinfo_endpoint":
            urls[key] = None
            continue
        try:
            urls[key] = check_url(value, key)
        except ValueError as exc:
            raise UpstreamError("upstream_unavailable", f"discovery: {exc}") from None
    algs = doc.get("id_token_signing_alg_values_supported", ["RS256"])
    if not isinstance(algs, list) or not all(isinstance(a, str) for a in algs):
        raise UpstreamError("upstream_unavailable",
                            "discovery: id_token_signing_alg_values_supported is not a list")
    usable = tuple(a for a in algs if a in SIGNATURE_ALGS)
    if not usable:
        raise UpstreamError("upstream_unavailable",
                            "discovery: the provider signs ID tokens with no algorithm we "
                            f"accept ({', '.join(SIGNATURE_ALGS)})")
    return ProviderMetadata(
        issuer=expected_issuer,
        authorization_endpoint=str(urls["authorization_endpoint"]),
        token_endpoint=str(urls["token_endpoint"]),
        jwks_uri=str(urls["jwks_uri"]),
        userinfo_endpoint=urls["userinfo_endpoint"],
        id_token_signing_alg_values_supported=usable,
        authorization_response_iss_parameter_supported=doc.get(
            "authorization_response_iss_parameter_supported") is True)


# --------------------------------------------------------------------------------------------
# Authorization request and response


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the browser, and what to keep until it comes back (state, nonce and the
    PKCE verifier stay on our side; only state travels, and the challenge)."""

    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


def authorization_request(config: UpstreamConfig, metadata: ProviderMetadata,
                          redirect_uri: str, extra: Mapping[str, str] | None = None
                          ) -> AuthorizationStart:
    """The code flow request with PKCE S256, state and nonce (256 random bits each)."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": b64url(hashlib.sha256(verifier.encode("ascii")).digest()),
        "code_challenge_method": "S256",
        **dict(extra or {}),
    }
    parts = urlsplit(metadata.authorization_endpoint)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    url = urlunsplit(parts._replace(query=urlencode(query)))
    return AuthorizationStart(url=url, state=state, nonce=nonce, code_verifier=verifier)


def check_response_issuer(metadata: ProviderMetadata, iss: str | None) -> None:
    """RFC 9207: an `iss` in the authorization response must be the provider's; a provider
    that advertises the parameter must send it (mix-up attack defence)."""
    if iss is None:
        if metadata.authorization_response_iss_parameter_supported:
            raise UpstreamError("upstream_token_invalid",
                                "the authorization response lacks the iss parameter")
        return
    if iss != metadata.issuer:
        raise UpstreamError("upstream_token_invalid",
                            "the authorization response comes from another issuer")


# --------------------------------------------------------------------------------------------
# ID token validation

KeySource = Callable[[bool], Mapping[str, Any]]
"""Returns the provider's JWKS; called with True to refetch it (an unknown kid)."""


def _json_part(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        raise IdTokenError("malformed", f"the ID token {what} is not JSON") from None
    if not isinstance(value, dict):
        raise IdTokenError("malformed", f"the ID token {what} is not an object")
    return value


def _select_key(jwks: Mapping[str, Any], kid: str | None, alg: str) -> Any | None:
    """The JWKS key for this kid and algorithm (without a kid: the only key that fits)."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise IdTokenError("jwks", "the provider's JWKS has no keys")
    candidates = []
    for data in keys:
        if not isinstance(data, dict) or data.get("kty") != SIGNATURE_ALGS[alg]:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        if kid is not None and data.get("kid") != kid:
            continue
        candidates.append(data)
    if kid is None and len(candidates) > 1:
        raise IdTokenError("unknown_kid", "the ID token names no key and several would fit")
    if not candidates:
        return None
    try:
        return jwk.import_key(candidates[0])
    except (JoseError, ValueError, TypeError):
        raise IdTokenError("jwks", "the provider's key for this ID token is not usable") from None


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core 3.1.3.6: the left half of the hash that goes with the signing algorithm
    (SHA-512 for EdDSA with Ed25519)."""
    bits = 512 if alg == "EdDSA" else int(alg[2:])
    digest = hashlib.new(f"sha{bits}", access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def _number(claims: Mapping[str, Any], name: str, required: bool) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IdTokenError(name, f"the ID token {name} is missing or not a number")
    return int(value)


def validate_id_token(token: Any, *, issuer: str, client_id: str, nonce: str,
                      algorithms: Iterable[str], keys: KeySource,
                      access_token: str | None = None, now: int | None = None,
                      ) -> dict[str, Any]:
    """The ID token's claims, if it passes every check of OIDC Core 3.1.3.7; otherwise
    IdTokenError with a `reason`: malformed, alg, unknown_kid, jwks, signature, iss, aud, azp,
    exp, iat, nbf, nonce, sub, at_hash."""
    if not isinstance(token, str) or not token or len(token) > MAX_ID_TOKEN_BYTES \
            or not token.isascii():
        raise IdTokenError("malformed", "the ID token is missing or too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise IdTokenError("malformed", "the ID token is not a signed JWT")
    header = _json_part(parts[0], "header")
    alg = header.get("alg")
    allowed = set(algorithms) & set(SIGNATURE_ALGS)
    if not isinstance(alg, str) or alg not in allowed:
        raise IdTokenError("alg", "the ID token's algorithm is not one the provider "
                                  "advertises and we accept")
    if "crit" in header:
        raise IdTokenError("malformed", "the ID token has critical header parameters")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > 256):
        raise IdTokenError("malformed", "the ID token's kid is not a string")

    key = _select_key(keys(False), kid, alg)
    if key is None:
        key = _select_key(keys(True), kid, alg)  # the provider may have rotated its keys
    if key is None:
        raise IdTokenError("unknown_kid", "the ID token is signed with a key the provider "
                                          "does not publish")
    try:
        jws.deserialize_compact(token, key, algorithms=[alg])
    except (JoseError, ValueError):
        raise IdTokenError("signature", "the ID token's signature does not verify") from None
    claims = _json_part(parts[1], "payload")

    if claims.get("iss") != issuer:
        raise IdTokenError("iss", "the ID token comes from another issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise IdTokenError("aud", "the ID token is not meant for us (aud)")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("azp", "the ID token has several audiences and azp is not ours")
    if "azp" in claims and claims.get("azp") != client_id:
        raise IdTokenError("azp", "the ID token was issued to another party (azp)")
    moment = int(time.time()) if now is None else now
    exp = _number(claims, "exp", True)
    assert exp is not None
    if moment >= exp + CLOCK_LEEWAY:
        raise IdTokenError("exp", "the ID token has expired")
    iat = _number(claims, "iat", True)
    assert iat is not None
    if iat > moment + CLOCK_LEEWAY:
        raise IdTokenError("iat", "the ID token was issued in the future")
    nbf = _number(claims, "nbf", False)
    if nbf is not None and nbf > moment + CLOCK_LEEWAY:
        raise IdTokenError("nbf", "the ID token is not valid yet")
    sent_nonce = claims.get("nonce")
    if not isinstance(sent_nonce, str) or not hmac.compare_digest(
            sent_nonce.encode("utf-8"), nonce.encode("utf-8")):
        raise IdTokenError("nonce", "the ID token's nonce is not the one we sent")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise IdTokenError("sub", "the ID token has no usable sub")
    if "at_hash" in claims and access_token is not None and not hmac.compare_digest(
            str(claims["at_hash"]).encode("utf-8"),
            at_hash(access_token, alg).encode("ascii")):
        raise IdTokenError("at_hash", "the ID token's at_hash does not match the access token")
    return claims


# --------------------------------------------------------------------------------------------
# Claims and levels


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who the upstream proved, in our terms: what `idp.persons.proven_person` needs."""

    provider: str
    subject: str
    citizen_id: str = field(repr=False)
    claims: dict[str, Any] = field(repr=False)
    """Our claim names, the citizen ID under `th_citizen_id`."""
    ial: Decimal
    aal: Decimal
    evidence: Evidence
    reference: str
    """The upstream's transaction reference (`verification_process`): the ID token's jti,
    else a hash of (iss, sub, iat)."""


def _clean_string(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if text and len(text) <= MAX_CLAIM_CHARS else None


def _clean_address(value: Any) -> dict[str, str] | None:
    """An OIDC address object; a plain string (as some providers send) becomes `formatted`."""
    if isinstance(value, str):
        text = _clean_string(value)
        return {"formatted": text} if text else None
    if not isinstance(value, dict):
        return None
    out = {k: s for k in ADDRESS_MEMBERS if (s := _clean_string(value.get(k))) is not None}
    return out or None


def map_claims(config: UpstreamConfig, upstream: Mapping[str, Any]) -> dict[str, Any]:
    """Our claims from the upstream's, per the mapping. A value that does not fit its claim
    (wrong type, too long, a malformed birthdate) is left out rather than stored."""
    out: dict[str, Any] = {}
    for name, ours in config.claims.items():
        if ours == CITIZEN_ID or name not in upstream:
            continue
        value = upstream[name]
        cleaned: Any
        if ours == "address":
            cleaned = _clean_address(value)
        else:
            cleaned = _clean_string(value)
            if ours == "birthdate" and cleaned is not None \
                    and not _BIRTHDATE.fullmatch(cleaned):
                cleaned = None
        if cleaned is not None:
            out[ours] = cleaned
    return out


def map_ial(mapping: IalMapping, upstream: Mapping[str, Any]) -> Decimal:
    """Our IAL for this login: the upstream's value through the table (or read on our scale
    when there is no table), else the default; never above the cap."""
    level: Decimal | None = None
    raw = upstream.get(mapping.claim) if mapping.claim else None
    if raw is not None and not isinstance(raw, bool) and isinstance(raw, str | int | float):
        key = str(raw).strip()
        level = mapping.values.get(key) if mapping.values else _canonical(key, IAL_LEVELS)
    if level is None:
        level = mapping.default
    if level is None:
        raise UpstreamError("upstream_identity_incomplete",
                            "the provider did not state an identity assurance level we know")
    return min(level, mapping.max_ial)


def transaction_reference(claims: Mapping[str, Any]) -> str:
    """The ID token's `jti` when it has a usable one, else a digest of (iss, sub, iat) and the
    nonce: iat has one-second resolution, and the nonce keeps two logins in the same second
    from sharing a reference."""
    jti = claims.get("jti")
    if isinstance(jti, str) and 0 < len(jti) <= 200 and jti.isprintable():
        return jti
    seed = json.dumps([claims.get("iss"), claims.get("sub"), claims.get("iat"),
                       claims.get("nonce")])
    return "sha256:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()


def map_identity(config: UpstreamConfig, id_claims: Mapping[str, Any],
                 userinfo: Mapping[str, Any] | None = None) -> UpstreamIdentity:
    """(citizen ID, our claims, IAL, AAL) from a validated ID token and, when fetched, the
    userinfo response (the ID token's values win where both have a claim)."""
    merged: dict[str, Any] = {**(userinfo or {}), **id_claims}
    raw_id = merged.get(config.citizen_id_claim)
    citizen_id = normalize_thai_id(raw_id) if isinstance(raw_id, str) else None
    if citizen_id is None:
        raise UpstreamError("upstream_identity_incomplete",
                            "the provider sent no valid Thai citizen ID "
                            f"(claim {config.citizen_id_claim})")
    claims = map_claims(config, merged)
    claims[CITIZEN_ID] = citizen_id
    return UpstreamIdentity(
        provider=config.name, subject=str(id_claims["sub"]), citizen_id=citizen_id,
        claims=claims, ial=map_ial(config.ial, merged), aal=config.aal,
        evidence=config.evidence, reference=transaction_reference(id_claims))


# --------------------------------------------------------------------------------------------
# The client of one upstream


@dataclass(frozen=True)
class TokenResponse:
    id_token: str = field(repr=False)
    access_token: str | None = field(repr=False)


class UpstreamClient:
    """Our client at one upstream provider: discovery and JWKS cached with a TTL (shared by the
    threads of one process), the authorization request, and the callback's work."""

    def __init__(self, config: UpstreamConfig, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, dict[str, Any]] | None = None

    # -- discovery and keys

    def metadata(self, refresh: bool = False) -> ProviderMetadata:
        """The discovery document, fetched at most once per DISCOVERY_TTL."""
        with self._lock:
            hit = self._metadata
        if hit and not refresh and hit[0] > self._clock():
            return hit[1]
        status, body = _request("GET", self.config.discovery_url, "discovery document",
                                   self.config.timeout)
        if status != 200 or body is None:
            raise UpstreamError("upstream_unavailable",
                                f"the discovery document answered HTTP {status}")
        metadata = parse_metadata(body, self.config.issuer)
        with self._lock:
            self._metadata = (self._clock() + DISCOVERY_TTL, metadata)
        return metadata

    def jwks(self, refresh: bool = False) -> dict[str, Any]:
        """The provider's JWKS, fetched at most once per JWKS_TTL unless `refresh`."""
        with self._lock:
            hit = self._jwks
        if hit and not refresh and hit[0] > self._clock():
            return hit[1]
        status, body = _request("GET", self.metadata().jwks_uri, "JWKS",
                                   self.config.timeout)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("keys"),
                                                                         list):
            raise UpstreamError("upstream_unavailable", "the JWKS could not be read")
        with self._lock:
            self._jwks = (self._clock() + JWKS_TTL, body)
        return body

    # -- the flow

    def start(self, redirect_uri: str, extra: Mapping[str, str] | None = None
              ) -> AuthorizationStart:
        return authorization_request(self.config, self.metadata(), redirect_uri, extra)

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str
                      ) -> TokenResponse:
        """Redeem the code at the token endpoint (client secret, PKCE verifier)."""
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": code_verifier}
        kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}}
        if self.config.token_endpoint_auth_method == "client_secret_basic":  # noqa: S105
            # RFC 6749 2.3.1: both parts form-urlencoded before Basic encoding.
            kwargs["auth"] = (quote_plus(self.config.client_id),
                              quote_plus(self.config.client_secret))
        else:
            data.update(client_id=self.config.client_id,
                        client_secret=self.config.client_secret)
        status, body = _request("POST", self.metadata().token_endpoint, "token endpoint",
                                   self.config.timeout, data=data, **kwargs)
        if status != 200:
            if status in (400, 401):
                raise UpstreamError("upstream_refused",
                                    f"the token endpoint refused the code ({_error_code(body)})")
            raise UpstreamError("upstream_unavailable",
                                f"the token endpoint answered HTTP {status}")
        if not isinstance(body, dict):
            raise UpstreamError("upstream_unavailable", "the token response is not an object")
        token_type = body.get("token_type")
        access = body.get("access_token")
        if access is not None and (not isinstance(access, str) or not isinstance(
                token_type, str) or token_type.lower() not in ("bearer", "dpop")):
            raise UpstreamError("upstream_unavailable",
                                "the token response has an unusable access token")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise IdTokenError("malformed", "the token response has no ID token")
        return TokenResponse(id_token=id_token, access_token=access)

    def validate(self, tokens: TokenResponse, nonce: str, now: int | None = None
                 ) -> dict[str, Any]:
        metadata = self.metadata()
        return validate_id_token(
            tokens.id_token, issuer=metadata.issuer, client_id=self.config.client_id,
            nonce=nonce, algorithms=metadata.id_token_signing_alg_values_supported,
            keys=self.jwks, access_token=tokens.access_token, now=now)

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The userinfo response (plain JSON), whose sub must be the ID token's."""
        endpoint = self.metadata().userinfo_endpoint
        if endpoint is None:
            return {}
        status, body = _request(
            "GET", endpoint, "userinfo endpoint", self.config.timeout,
            headers={"Authorization": f"Bearer {access_token}",
                     "Accept": "application/json"})
        if status != 200:
            raise UpstreamError("upstream_unavailable",
                                f"the userinfo endpoint answered HTTP {status}")
        if not isinstance(body, dict):
            raise UpstreamError("upstream_unavailable",
                                "the userinfo response is not a JSON object (signed userinfo "
                                "responses are not supported)")
        if body.get("sub") != subject:
            raise UpstreamError("upstream_token_invalid",
                                "the userinfo response is about another subject")
        return body

    def needs_userinfo(self, id_claims: Mapping[str, Any]) -> bool:
        return self.config.userinfo and not self.config.upstream_claim_names() <= set(id_claims)

    def finish(self, code: str, *, code_verifier: str, nonce: str, redirect_uri: str,
               now: int | None = None) -> UpstreamIdentity:
        """The callback's work: redeem the code, validate the ID token, read userinfo when a
        mapped claim is not in the ID token, and map it all to our terms."""
        tokens = self.exchange_code(code, code_verifier, redirect_uri)
        id_claims = self.validate(tokens, nonce, now)
        info = None
        if tokens.access_token and self.needs_userinfo(id_claims):
            info = self.userinfo(tokens.access_token, str(id_claims["sub"]))
        return map_identity(self.config, id_claims, info)

    def check(self) -> list[str]:
        """Problems an operator can fix, found by fetching discovery and the JWKS now (empty
        when both are fine): for `idp upstreams check`."""
        try:
            metadata = self.metadata(refresh=True)
            self.jwks(refresh=True)
        except UpstreamError as exc:
            return [exc.detail]
        problems = []
        if metadata.userinfo_endpoint is None and self.config.userinfo:
            problems.append("no userinfo_endpoint: claims must all come in the ID token")
        return problems
