"""A demo agency site: a relying party that logs in with our provider, for the sandbox only.

It exists so that `idp demo` has something to log in to, and so agency developers can read a
short, complete example of what their own site must do: authorization code flow with PKCE and a
nonce, ID token validation, userinfo, refresh, RP-initiated logout and back-channel logout.

It uses authlib's Flask client (an independent OpenID client library) rather than our own code,
so that the provider is exercised by a peer that follows the specs, not by its own assumptions.

State kept for a login:
- in the signed cookie session: a random local session id, the ID token claims and the userinfo
  (what the pages show);
- server-side, in `_SESSIONS` keyed by that id: the raw ID token (the `id_token_hint` for
  logout) and the refresh token, so that no token ever travels back to the browser.
A back-channel logout removes the server-side record; the next page view then finds the cookie
orphaned and clears it, which is how a logout at the provider reaches this site.

The provider sends the national ID number only encrypted, so this site registers an EC key
agreement key and asks for encrypted ID tokens and userinfo: given its private key
(`decryption_key`), it opens each ID token (a JWE around the signed JWT) before authlib sees the
token response, and opens userinfo (`application/jwt`) itself, verifying the signed JWT inside.

Tokens are never logged, shown or put in an error message.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, abort, redirect, render_template, request, session, url_for
from joserfc import jwe, jws, jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet, KeySetSerialization
from werkzeug.wrappers import Response as BaseResponse

log = logging.getLogger(__name__)

SCOPE = "openid profile email phone address offline_access"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_ALGS = ("ES256", "RS256")
MAX_LOGOUT_TOKEN = 16 * 1024
CLOCK_LEEWAY = 60
SESSION_COOKIE = "demo_agency_session"
# The provider and this site share a host in the demo (127.0.0.1, two ports), and cookies do not
# keep ports apart; a cookie name of our own keeps the two sessions from overwriting each other.
MAX_LOCAL_SESSIONS = 10_000
LOCAL_SESSION_TTL = 8 * 3600
JWKS_REFRESH_INTERVAL = 60
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})
def verified_identity_request(issuer: str) -> dict[str, Any]:
    """The `claims` parameter of a service that must know who someone is for certain: IAL 2.3
    as an essential acr (the provider steps the person up, e.g. through their bank over NDID),
    and names, birthdate and the national ID as verified claims (OpenID Connect for Identity
    Assurance 1.0); the national ID needs its own consent line."""
    return {
        "id_token": {
            "acr": {"essential": True, "values": [f"{issuer}/acr/ial-2.3/aal-2.2"]},
            "verified_claims": {
                "verification": {"trust_framework": None, "assurance_level": None,
                                 "time": None, "evidence": None},
                "claims": {"given_name": None, "family_name": None, "given_name#th": None,
                           "family_name#th": None, "birthdate": None,
                           f"{issuer}/claims/th_citizen_id": None},
            },
        },
    }


_ACR_RE = re.compile(r"[\x21-\x7e]{1,200}( [\x21-\x7e]{1,200}){0,4}")
_LOCALE_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*"
_LOCALES_RE = re.compile(rf"{_LOCALE_TAG}( {_LOCALE_TAG}){{0,4}}")


@dataclass
class LocalSession:
    """What this site keeps server-side about one login; tokens never leave this record."""

    issuer: str
    client_id: str
    sub: str
    sid: str | None
    id_token: str
    refresh_token: str | None
    created_at: float


_SESSIONS: dict[str, LocalSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _put_session(record: LocalSession) -> str:
    """Store a login under a new random id, evicting expired and then the oldest records so a
    flood of logins cannot grow memory without bound."""
    local_id = secrets.token_urlsafe(32)
    now = time.time()
    with _SESSIONS_LOCK:
        for key in [k for k, r in _SESSIONS.items() if now - r.created_at > LOCAL_SESSION_TTL]:
            del _SESSIONS[key]
        while len(_SESSIONS) >= MAX_LOCAL_SESSIONS:
            del _SESSIONS[next(iter(_SESSIONS))]
        _SESSIONS[local_id] = record
    return local_id


def _get_session(local_id: str | None) -> LocalSession | None:
    if not local_id:
        return None
    with _SESSIONS_LOCK:
        record = _SESSIONS.get(local_id)
    if record is not None and time.time() - record.created_at > LOCAL_SESSION_TTL:
        _drop_session(local_id)
        return None
    return record


def _drop_session(local_id: str | None) -> LocalSession | None:
    if not local_id:
        return None
    with _SESSIONS_LOCK:
        return _SESSIONS.pop(local_id, None)


def drop_matching_sessions(issuer: str, client_id: str, sub: str | None, sid: str | None) -> int:
    """Remove this agency's logins that a logout token names; returns how many were removed.

    With `sid`, only that provider session ends (and, if `sub` is also given, it must agree);
    with only `sub`, every login of that person at this agency ends (Back-Channel Logout 2.5).
    """
    with _SESSIONS_LOCK:
        doomed = [
            key for key, r in _SESSIONS.items()
            if r.issuer == issuer and r.client_id == client_id
            and (r.sid == sid if sid else True)
            and (r.sub == sub if sub else True)
        ]
        for key in doomed:
            del _SESSIONS[key]
    return len(doomed)


class TokenRejectedError(ValueError):
    """A token from the provider that must be refused; the message names the rule, never the
    token itself."""


class LogoutTokenError(TokenRejectedError):
    """A back-channel logout token that must be refused (answered with 400)."""


class _ReplayCache:
    """Remembers logout token `jti`s until they expire, so a captured token cannot be replayed."""

    def __init__(self, limit: int = 10_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def check_and_add(self, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            for key in [k for k, exp in self._seen.items() if exp < now]:
                del self._seen[key]
            if jti in self._seen:
                return False
            while len(self._seen) >= self._limit:
                del self._seen[next(iter(self._seen))]
            self._seen[jti] = expires_at
            return True


# What this site accepts from the provider in an encrypted response (the algorithms it registers).
_JWE_REGISTRY = jwe.JWERegistry(algorithms=["ECDH-ES+A256KW", "A256GCM", "A256CBC-HS512"])


def decrypt_nested(token: str, key: ECKey) -> str:
    """The signed JWT inside a nested JWT (OIDC Core 10.2); raises joserfc errors when the
    token is not for this key or was tampered with."""
    opened = jwe.decrypt_compact(token, key, registry=_JWE_REGISTRY)
    if opened.headers().get("cty", "").upper() != "JWT" or opened.plaintext is None:
        raise TokenRejectedError("the encrypted response does not hold a JWT")
    return opened.plaintext.decode("ascii")


def _keyset(jwks: Mapping[str, Any]) -> KeySet:
    """The provider's public keys; unusable entries make joserfc raise, which callers treat as
    a token that cannot be verified."""
    return KeySet.import_key_set(cast(KeySetSerialization, dict(jwks)))


def verify_logout_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    jwks: Mapping[str, Any],
    now: int | None = None,
) -> dict[str, Any]:
    """Validate a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6).

    Returns its claims. Raises `LogoutTokenError` for any rule it breaks, and joserfc's
    `InvalidKeyIdError` when the key is unknown (the caller may refresh the JWKS and retry).
    """
    if not token or len(token) > MAX_LOGOUT_TOKEN:
        raise LogoutTokenError("logout_token is missing or too large")
    if token.count(".") != 2:
        # Five parts would be an encrypted token; we registered no encryption key.
        raise LogoutTokenError("logout_token is not a signed JWT")
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise LogoutTokenError("logout_token is not a well-formed JWT") from exc
    alg = header.get("alg")
    if alg not in LOGOUT_TOKEN_ALGS:
        raise LogoutTokenError("logout_token algorithm is not allowed")
    typ = header.get("typ")
    if typ is not None and str(typ).lower() not in {"logout+jwt", "application/logout+jwt", "jwt"}:
        raise LogoutTokenError("logout_token has the wrong typ")
    try:
        decoded = jwt.decode(token, _keyset(jwks), algorithms=[alg])
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as exc:
        raise LogoutTokenError("logout_token signature does not verify") from exc
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=CLOCK_LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise LogoutTokenError(f"logout_token claims are invalid ({exc.error})") from exc
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise LogoutTokenError("logout_token lacks the back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenError("logout_token must not contain a nonce")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not (isinstance(sub, str) and sub) and not (isinstance(sid, str) and sid):
        raise LogoutTokenError("logout_token names neither sub nor sid")
    if sid is not None and not isinstance(sid, str):
        raise LogoutTokenError("logout_token sid is not a string")
    return claims


def _fmt_time(value: Any) -> str:
    """A NumericDate as a readable UTC time, so testers see expiry without a calculator."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return ""


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def create_agency_app(
    provider_issuer: str,
    client_id: str,
    client_secret: str,
    base_url: str,
    *,
    metadata: dict[str, Any] | None = None,
    secret_key: str | None = None,
    decryption_key: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the demo agency site.

    `metadata` replaces discovery: when given (tests), the provider's metadata, including an
    inline `jwks`, is used as is and nothing is fetched. Otherwise authlib fetches
    `<issuer>/.well-known/openid-configuration` on first use, and the JWKS from its `jwks_uri`.
    `secret_key` signs the session cookie; by default a random one per process, which is right
    for a demo because the server-side token records do not survive a restart either.
    `decryption_key` is this site's private EC key (a JWK) for encrypted ID tokens and
    userinfo; without it, encrypted responses cannot be read.
    """
    issuer = provider_issuer.rstrip("/")
    base_url = base_url.rstrip("/")
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    issuer_origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))

    oauth = OAuth(app)
    private_key = ECKey.import_key(dict(decryption_key)) if decryption_key else None  # type: ignore[arg-type]

    def open_token_response(resp: requests.Response) -> requests.Response:
        """Decrypt an encrypted ID token before authlib reads the token response, so that
        authlib validates the signed JWT inside as it would any ID token."""
        if private_key is None or resp.status_code != 200:
            return resp
        body = resp.json()
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if isinstance(id_token, str) and id_token.count(".") == 4:
            body["id_token"] = decrypt_nested(id_token, private_key)
            resp._content = json.dumps(body).encode()
        return resp

    def compliance_fix(http: Any) -> None:
        http.register_compliance_hook("access_token_response", open_token_response)
        http.register_compliance_hook("refresh_token_response", open_token_response)

    client_kwargs: dict[str, Any] = {
        "scope": SCOPE,
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": "client_secret_basic",
        "default_timeout": 10,
    }
    if metadata is None:
        client = oauth.register(
            "idp",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs=client_kwargs,
            compliance_fix=compliance_fix,
        )
    else:
        client = oauth.register(
            "idp", client_id=client_id, client_secret=client_secret, client_kwargs=client_kwargs,
            compliance_fix=compliance_fix,
        )
        client.server_metadata.update(metadata)
    replay = _ReplayCache()
    jwks_refreshed_at = [0.0]

    def provider_metadata() -> dict[str, Any]:
        """Discovery, checked to be the issuer we were configured for (Discovery 4.3): a
        metadata document naming another issuer would let it mint tokens we accept."""
        data: dict[str, Any] = client.load_server_metadata()
        if data.get("issuer", "").rstrip("/") != issuer:
            raise OAuthError(error="invalid_metadata",
                             description="the provider's discovery names a different issuer")
        return data

    def provider_jwks(force: bool = False) -> dict[str, Any]:
        """The provider's keys; a forced refresh (unknown kid) happens at most once a minute,
        so forged tokens with random kids cannot make us hammer the provider."""
        data = provider_metadata()
        if force:
            if "jwks_uri" not in data or time.time() - jwks_refreshed_at[0] < JWKS_REFRESH_INTERVAL:
                return dict(data.get("jwks") or {"keys": []})
            jwks_refreshed_at[0] = time.time()
        result: dict[str, Any] = client.fetch_jwk_set(force=force)
        return result

    def csrf_token() -> str:
        token = session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            session["csrf"] = token
        return token

    def check_csrf() -> None:
        sent = request.form.get("csrf", "")
        expected = session.get("csrf")
        if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            abort(400, description="CSRF token missing or wrong / โทเค็นป้องกัน CSRF ไม่ถูกต้อง")

    def current_login() -> LocalSession | None:
        """The server-side record behind the cookie; an orphaned cookie (the provider logged
        this session out over the back channel) is cleared here."""
        record = _get_session(session.get("lsid"))
        if record is None and "lsid" in session:
            for key in ("lsid", "id_claims", "userinfo", "last_refresh"):
                session.pop(key, None)
        return record

    def error_page(status: int, title_th: str, title_en: str, detail: str = "") -> Response:
        body = render_template("agency_error.html", title_th=title_th, title_en=title_en,
                               detail=detail)
        return Response(body, status=status, mimetype="text/html")

    app.jinja_env.filters["pretty"] = _pretty
    app.jinja_env.filters["fmt_time"] = _fmt_time

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"issuer": issuer, "client_id": client_id, "time_claims": TIME_CLAIMS,
                "csrf_token": csrf_token}

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action 'self' {issuer_origin}; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        # The callback URL carries a code; never leak it in a Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(requests.RequestException)
    def _provider_unreachable(_exc: requests.RequestException) -> Response:
        log.warning("demo agency: provider unreachable (%s)", type(_exc).__name__)
        return error_page(502, "ติดต่อผู้ให้บริการยืนยันตัวตนไม่ได้",
                          "Cannot reach the identity provider", issuer)

    @app.errorhandler(OAuthError)
    def _provider_misconfigured(exc: OAuthError) -> Response:
        log.warning("demo agency: provider metadata refused (%s)", exc.error)
        return error_page(502, "ข้อมูลค้นหาบริการ (discovery) ของผู้ให้บริการไม่ถูกต้อง",
                          "The identity provider's discovery document is not acceptable",
                          exc.description or exc.error or "")

    acr_choices = [
        ("IAL 1.1 / AAL 1", f"{issuer}/acr/ial-1.1/aal-1"),
        ("IAL 2.3 / AAL 2.2", f"{issuer}/acr/ial-2.3/aal-2.2"),
        ("IAL 3 / AAL 3", f"{issuer}/acr/ial-3/aal-3"),
    ]

    @app.get("/")
    def home() -> str:
        # Read before current_login(), which clears a login the provider ended: a refresh
        # refused with invalid_grant ends it, and the person should still see why.
        last_refresh = session.pop("last_refresh", None)
        record = current_login()
        return render_template(
            "agency_home.html",
            logged_in=record is not None,
            id_claims=session.get("id_claims") or {},
            userinfo=session.get("userinfo") or {},
            last_refresh=last_refresh,
            has_refresh_token=bool(record and record.refresh_token),
            acr_choices=acr_choices,
        )

    @app.get("/login")
    def login() -> BaseResponse:
        extra: dict[str, str] = {}
        if request.args.get("verified") == "1":
            extra["claims"] = json.dumps(verified_identity_request(issuer), ensure_ascii=False)
        acr = request.args.get("acr", "").strip()
        if acr:
            if not _ACR_RE.fullmatch(acr):
                return error_page(400, "ค่า acr ไม่ถูกต้อง", "Invalid acr value")
            extra["acr_values"] = acr
        locales = request.args.get("ui_locales", "").strip()
        if locales:
            if not _LOCALES_RE.fullmatch(locales):
                return error_page(400, "ค่า ui_locales ไม่ถูกต้อง", "Invalid ui_locales value")
            extra["ui_locales"] = locales
        provider_metadata()
        response: BaseResponse = client.authorize_redirect(
            f"{base_url}/callback", nonce=secrets.token_urlsafe(32), **extra
        )
        return response

    @app.get("/callback")
    def callback() -> BaseResponse:
        # RFC 9207: the `iss` parameter tells us which provider answered (mix-up defence).
        metadata_now = provider_metadata()
        got_iss = request.args.get("iss")
        if got_iss is not None and got_iss != metadata_now["issuer"]:
            return error_page(400, "คำตอบมาจากผู้ให้บริการอื่น",
                              "The response came from another provider")
        if got_iss is None and metadata_now.get("authorization_response_iss_parameter_supported"):
            return error_page(400, "คำตอบไม่มีพารามิเตอร์ iss",
                              "The response lacks the iss parameter")
        try:
            token = client.authorize_access_token()
        except OAuthError as exc:
            log.info("demo agency: login failed (%s)", exc.error)
            return error_page(400, "เข้าสู่ระบบไม่สำเร็จ", "Login failed",
                              f"{exc.error}: {exc.description or ''}".strip(": "))
        except (JoseError, AuthlibBaseError) as exc:
            log.warning("demo agency: ID token rejected (%s)", type(exc).__name__)
            return error_page(400, "โทเค็นระบุตัวตน (ID token) ไม่ผ่านการตรวจสอบ",
                              "The ID token did not validate", type(exc).__name__)
        id_claims = token.get("userinfo")
        if not id_claims or not token.get("id_token"):
            return error_page(400, "ไม่ได้รับ ID token", "No ID token was returned")
        try:
            userinfo = fetch_userinfo()
        except (OAuthError, requests.HTTPError, JoseError, TokenRejectedError,
                ValueError) as exc:
            log.info("demo agency: userinfo failed (%s)", type(exc).__name__)
            return error_page(502, "เรียกข้อมูลผู้ใช้ (userinfo) ไม่สำเร็จ", "Userinfo failed")
        if userinfo.get("sub") != id_claims.get("sub"):
            # OIDC Core 5.3.2: a different sub means the response must not be used.
            return error_page(400, "ข้อมูลผู้ใช้ไม่ตรงกับ ID token",
                              "Userinfo sub does not match the ID token")
        _drop_session(session.pop("lsid", None))
        local_id = _put_session(LocalSession(
            issuer=issuer,
            client_id=client_id,
            sub=str(id_claims["sub"]),
            sid=id_claims.get("sid"),
            id_token=token["id_token"],
            refresh_token=token.get("refresh_token"),
            created_at=time.time(),
        ))
        session["lsid"] = local_id
        session["id_claims"] = dict(id_claims)
        session["userinfo"] = userinfo
        return redirect(url_for("home"))

    def fetch_userinfo() -> dict[str, Any]:
        """Userinfo as JSON, or (`application/jwt`) encrypted: decrypted with our key, then
        the signed JWT inside verified, with `iss` and `aud` checked (OIDC Core 5.3.2)."""
        resp = client.get(provider_metadata()["userinfo_endpoint"])
        resp.raise_for_status()
        kind = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if kind != "application/jwt":
            return dict(resp.json())
        if private_key is None:
            raise TokenRejectedError("userinfo is encrypted and no decryption key is set")
        inner = decrypt_nested(resp.text.strip(), private_key)
        alg = str(jws.extract_compact(inner.encode("ascii")).headers().get("alg"))
        allowed = provider_metadata().get("id_token_signing_alg_values_supported") or []
        if alg not in allowed or alg == "none":
            raise TokenRejectedError("userinfo signing algorithm is not allowed")
        claims = dict(jwt.decode(inner, _keyset(provider_jwks()), algorithms=[alg]).claims)
        if claims.pop("iss", None) != issuer or claims.pop("aud", None) != client_id:
            raise TokenRejectedError("userinfo was signed for someone else")
        claims.pop("iat", None)
        return claims

    def _check_refreshed_id_token(id_token: str, record: LocalSession) -> dict[str, Any]:
        """OIDC Core 12.2: a refreshed ID token keeps iss, sub and aud, and has no nonce rule
        beyond that; it is signed like any ID token."""
        header = jws.extract_compact(id_token.encode("ascii")).headers()
        alg = str(header.get("alg"))
        allowed = provider_metadata().get("id_token_signing_alg_values_supported") or list(
            LOGOUT_TOKEN_ALGS)
        if alg not in allowed or alg == "none":
            raise TokenRejectedError("ID token algorithm is not allowed")
        try:
            decoded = jwt.decode(id_token, _keyset(provider_jwks()), algorithms=[alg])
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY,
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": client_id},
                sub={"essential": True, "value": record.sub},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise TokenRejectedError(f"ID token invalid ({type(exc).__name__})") from exc
        return decoded.claims

    @app.post("/refresh")
    def refresh() -> BaseResponse:
        check_csrf()
        record = current_login()
        if record is None:
            return redirect(url_for("home"))
        if not record.refresh_token:
            session["last_refresh"] = {"error": "no_refresh_token"}
            return redirect(url_for("home"))
        try:
            # scope=None: ask for what was granted, not everything the client may request.
            new = client.fetch_access_token(
                grant_type="refresh_token", refresh_token=record.refresh_token, scope=None
            )
        except OAuthError as exc:
            log.info("demo agency: refresh failed (%s)", exc.error)
            session["last_refresh"] = {"error": exc.error or "error"}
            if exc.error == "invalid_grant":
                # The grant is revoked or the token reused: this login is over.
                _drop_session(session.get("lsid"))
            return redirect(url_for("home"))
        summary: dict[str, Any] = {"at": int(time.time())}
        if new.get("expires_at"):
            summary["access_token_expires_at"] = int(new["expires_at"])
        if new.get("refresh_token"):
            summary["refresh_token_rotated"] = new["refresh_token"] != record.refresh_token
            record.refresh_token = new["refresh_token"]
        if new.get("refresh_expires_in"):
            summary["refresh_token_expires_at"] = int(time.time()) + int(new["refresh_expires_in"])
        if new.get("id_token"):
            try:
                claims = _check_refreshed_id_token(new["id_token"], record)
            except (TokenRejectedError, JoseError, ValueError) as exc:
                log.warning("demo agency: refreshed ID token rejected (%s)", exc)
                session["last_refresh"] = {"error": "invalid_id_token"}
                return redirect(url_for("home"))
            record.id_token = new["id_token"]
            summary["id_token_expires_at"] = claims.get("exp")
        session["last_refresh"] = summary
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> BaseResponse:
        check_csrf()
        record = _drop_session(session.get("lsid"))
        session.clear()
        kwargs: dict[str, Any] = {"client_id": client_id, "state": secrets.token_urlsafe(16)}
        if record is not None:
            kwargs["id_token_hint"] = record.id_token
        if not provider_metadata().get("end_session_endpoint"):
            return redirect(url_for("logged_out"))
        response: BaseResponse = client.logout_redirect(
            post_logout_redirect_uri=f"{base_url}/logged-out", **kwargs
        )
        return response

    @app.get("/logged-out")
    def logged_out() -> str:
        state_ok = True
        if "state" in request.args:
            try:
                client.validate_logout_response()
            except OAuthError:
                state_ok = False
        return render_template("agency_logged_out.html", state_ok=state_ok)

    @app.post("/backchannel-logout")
    def backchannel_logout() -> BaseResponse:
        token = request.form.get("logout_token", "")
        try:
            try:
                claims = verify_logout_token(token, issuer=issuer, client_id=client_id,
                                             jwks=provider_jwks())
            except InvalidKeyIdError:
                # The provider may have rotated keys since we last fetched them.
                claims = verify_logout_token(token, issuer=issuer, client_id=client_id,
                                             jwks=provider_jwks(force=True))
            if not replay.check_and_add(str(claims["jti"]), float(claims["exp"]) + CLOCK_LEEWAY):
                raise LogoutTokenError("logout_token was already used")
        except (LogoutTokenError, InvalidKeyIdError) as exc:
            reason = str(exc) if isinstance(exc, LogoutTokenError) else "unknown signing key"
            log.info("demo agency: back-channel logout refused: %s", reason)
            return _no_store(Response(
                json.dumps({"error": "invalid_request", "error_description": reason}),
                status=400, mimetype="application/json"))
        dropped = drop_matching_sessions(issuer, client_id, claims.get("sub"), claims.get("sid"))
        log.info("demo agency: back-channel logout ended %d local session(s)", dropped)
        return _no_store(Response(status=200))

    return app


def _no_store(response: Response) -> Response:
    """Back-Channel Logout 2.8: responses to logout requests must not be cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


__all__: list[str] = [
    "LocalSession",
    "LogoutTokenError",
    "TokenRejectedError",
    "create_agency_app",
    "drop_matching_sessions",
    "verify_logout_token",
]
