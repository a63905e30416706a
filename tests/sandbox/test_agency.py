"""The demo agency site on its own: no real provider. Discovery and JWKS are injected through
`create_agency_app(metadata=...)`, and a tiny fake provider answers the token and userinfo calls
that authlib makes with `requests`, so the login, refresh and logout logic is exercised for real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from sandbox import agency
from sandbox.agency import (
    BACKCHANNEL_LOGOUT_EVENT,
    LogoutTokenError,
    create_agency_app,
    verify_logout_token,
)

ISSUER = "https://idp.test"
CLIENT_ID = "demo-agency"
CLIENT_SECRET = "agency-secret-for-tests"
BASE_URL = "http://agency.test"


def _jwk(key: ECKey | RSAKey, kid: str, alg: str) -> dict[str, Any]:
    data = key.as_dict(private=False)
    data.update(kid=kid, alg=alg, use="sig")
    return data


@dataclass
class Keys:
    ec: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", private=True))
    rsa: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, private=True))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_jwk(self.ec, "ec-1", "ES256"), _jwk(self.rsa, "rsa-1", "RS256")]}

    def sign(self, claims: dict[str, Any], alg: str = "ES256", **header: Any) -> str:
        key, kid = (self.ec, "ec-1") if alg == "ES256" else (self.rsa, "rsa-1")
        return jwt.encode({"alg": alg, "kid": kid, **header}, claims, key, algorithms=[alg])


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def metadata(keys: Keys) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "end_session_endpoint": f"{ISSUER}/logout",
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "authorization_response_iss_parameter_supported": True,
        "jwks": keys.jwks(),
    }


@pytest.fixture
def app(keys: Keys) -> Flask:
    return create_agency_app(ISSUER, CLIENT_ID, CLIENT_SECRET, BASE_URL, metadata=metadata(keys))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def logout_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "sub": "pairwise-sub-1",
        "sid": "sid-" + secrets.token_hex(8),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


# --- a fake provider for the back-end calls authlib makes -------------------------------------


@dataclass
class FakeProvider:
    """Answers /token and /userinfo like a provider would, checking what a provider checks."""

    keys: Keys
    sub: str = "pairwise-sub-1"
    sid: str = "provider-sid-1"
    nonce_override: str | None = None
    userinfo_sub: str | None = None
    pending: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> authorize params
    refresh_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def authorize(self, location: str) -> str:
        """Take the authorize redirect the agency made and return a code for it."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        code = secrets.token_urlsafe(16)
        self.pending[code] = params
        return code

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": self.sub, "aud": CLIENT_ID, "iat": now,
                  "exp": now + 600, "sid": self.sid, "auth_time": now,
                  "acr": f"{ISSUER}/acr/ial-2.3/aal-2.2"}
        if nonce is not None:
            claims["nonce"] = nonce
        return self.keys.sign(claims)

    def handle(self, req: requests.PreparedRequest) -> tuple[int, dict[str, Any]]:
        url = str(req.url)
        if url == f"{ISSUER}/token":
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if req.headers.get("Authorization") != f"Basic {expected}":
                return 401, {"error": "invalid_client"}
            body = req.body.decode() if isinstance(req.body, bytes) else str(req.body or "")
            form = {k: v[0] for k, v in parse_qs(body).items()}
            self.token_requests.append(form)
            if form.get("grant_type") == "authorization_code":
                params = self.pending.pop(form.get("code", ""), None)
                if params is None:
                    return 400, {"error": "invalid_grant"}
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if challenge != params.get("code_challenge"):
                    return 400, {"error": "invalid_grant"}
                nonce = self.nonce_override or params.get("nonce")
                return 200, self._tokens(self.id_token(nonce))
            if form.get("grant_type") == "refresh_token":
                old = form.get("refresh_token", "")
                if old not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant"}
                self.refresh_tokens.discard(old)
                return 200, self._tokens(self.id_token(None))
            return 400, {"error": "unsupported_grant_type"}
        if url == f"{ISSUER}/userinfo":
            if not str(req.headers.get("Authorization", "")).startswith("Bearer at-"):
                return 401, {"error": "invalid_token"}
            return 200, {"sub": self.userinfo_sub or self.sub, "name": "Somchai Jaidee",
                         "name#th": "สมชาย ใจดี", "email": "somchai.jaidee@example.com"}
        return 404, {"error": "not_found"}

    def _tokens(self, id_token: str) -> dict[str, Any]:
        refresh = "rt-" + secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh)
        return {"access_token": "at-" + secrets.token_urlsafe(16), "token_type": "Bearer",
                "expires_in": 600, "refresh_token": refresh, "id_token": id_token,
                "scope": agency.SCOPE}


class _Adapter(requests.adapters.BaseAdapter):
    def __init__(self, provider: FakeProvider) -> None:
        super().__init__()
        self.provider = provider

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *_args: Any, **_kw: Any
    ) -> requests.Response:
        status, data = self.provider.handle(request)
        resp = requests.Response()
        resp.status_code = status
        resp._content = json.dumps(data).encode()
        resp.headers["Content-Type"] = "application/json"
        resp.url = str(request.url)
        resp.request = request
        return resp

    def close(self) -> None:
        pass


@pytest.fixture
def provider(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    fake = FakeProvider(keys)
    adapter = _Adapter(fake)
    original = requests.Session.get_adapter

    def get_adapter(self: requests.Session, url: str) -> requests.adapters.BaseAdapter:
        if url.startswith(ISSUER + "/"):
            return adapter
        return original(self, url)

    monkeypatch.setattr(requests.Session, "get_adapter", get_adapter)
    yield fake


def log_in(client: FlaskClient, provider: FakeProvider, query: str = "") -> str:
    """Run the browser's part of the code flow; returns the authorize redirect location."""
    resp = client.get("/login" + query)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    code = provider.authorize(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    resp = client.get("/callback", query_string={"code": code, "state": state, "iss": ISSUER})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return location


# --- pages -------------------------------------------------------------------------------------


def test_home_renders_in_thai_and_english_and_is_labelled_sandbox(client: FlaskClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "เข้าสู่ระบบด้วยดิจิทัลไอดี" in html
    assert "Log in with Thai Digital ID" in html
    assert "หน่วยงานตัวอย่าง" in html and "Demo agency" in html
    assert "sandbox" in html.lower()
    assert "<script" not in html and "style=" not in html
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert resp.headers["Cache-Control"] == "no-store"


def test_stylesheet_is_served(client: FlaskClient) -> None:
    resp = client.get("/static/agency.css")
    assert resp.status_code == 200
    assert ".sandbox-banner" in resp.get_data(as_text=True)


def test_login_redirects_with_pkce_nonce_state_and_pass_through(client: FlaskClient) -> None:
    acr = f"{ISSUER}/acr/ial-2.3/aal-2.2"
    resp = client.get("/login", query_string={"acr": acr, "ui_locales": "en th"})
    assert resp.status_code == 302
    url = urlsplit(resp.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/authorize"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["response_type"] == "code"
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == f"{BASE_URL}/callback"
    assert q["scope"] == "openid profile email phone address offline_access"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["nonce"]) >= 32 and len(q["state"]) >= 20
    assert q["acr_values"] == acr
    assert q["ui_locales"] == "en th"


def test_verified_identity_option_asks_for_ial_2_3_and_verified_claims(
        client: FlaskClient) -> None:
    resp = client.get("/login", query_string={"verified": "1"})
    q = {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}
    asked = json.loads(q["claims"])["id_token"]
    assert asked["acr"] == {"essential": True, "values": [f"{ISSUER}/acr/ial-2.3/aal-2.2"]}
    assert f"{ISSUER}/claims/th_citizen_id" in asked["verified_claims"]["claims"]
    assert "verified=1" in client.get("/").get_data(as_text=True)


def test_login_without_options_sends_neither(client: FlaskClient) -> None:
    q = parse_qs(urlsplit(client.get("/login").headers["Location"]).query)
    assert "acr_values" not in q and "ui_locales" not in q


@pytest.mark.parametrize("query", [{"acr": "a\nb"}, {"ui_locales": "<script>"},
                                   {"acr": "x" * 300}])
def test_login_rejects_malformed_options(client: FlaskClient, query: dict[str, str]) -> None:
    assert client.get("/login", query_string=query).status_code == 400


def test_discovery_for_another_issuer_is_refused(keys: Keys) -> None:
    meta = metadata(keys) | {"issuer": "https://evil.test"}
    app = create_agency_app(ISSUER, CLIENT_ID, CLIENT_SECRET, BASE_URL, metadata=meta)
    resp = app.test_client().get("/login")
    assert resp.status_code == 502
    assert "different issuer" in resp.get_data(as_text=True)
    assert "Location" not in resp.headers


# --- the code flow against the fake provider --------------------------------------------------


def test_callback_logs_in_and_shows_claims_but_no_tokens(
    client: FlaskClient, provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log_in(client, provider)
    html = client.get("/").get_data(as_text=True)
    assert "You are logged in" in html and "เข้าสู่ระบบแล้ว" in html
    assert "pairwise-sub-1" in html and "สมชาย ใจดี" in html and "provider-sid-1" in html
    assert "somchai.jaidee@example.com" in html
    assert "at-" not in html and "rt-" not in html and "eyJ" not in html
    assert provider.token_requests[0]["grant_type"] == "authorization_code"
    with client.session_transaction() as sess:
        blob = json.dumps(dict(sess))
    assert "eyJ" not in blob and "rt-" not in blob  # tokens stay server-side
    assert "eyJ" not in caplog.text and "rt-" not in caplog.text and "at-" not in caplog.text


def test_callback_refuses_an_id_token_with_the_wrong_nonce(
    client: FlaskClient, provider: FakeProvider
) -> None:
    provider.nonce_override = "not-the-nonce-we-sent"
    resp = client.get("/login")
    location = resp.headers["Location"]
    code = provider.authorize(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    resp = client.get("/callback", query_string={"code": code, "state": state, "iss": ISSUER})
    assert resp.status_code == 400
    assert "You are logged in" not in client.get("/").get_data(as_text=True)


def test_callback_refuses_a_response_from_another_issuer(
    client: FlaskClient, provider: FakeProvider
) -> None:
    location = client.get("/login").headers["Location"]
    code = provider.authorize(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    for iss in ("https://evil.test", None):
        query = {"code": code, "state": state} | ({"iss": iss} if iss else {})
        assert client.get("/callback", query_string=query).status_code == 400
    assert provider.token_requests == []  # the code was never sent anywhere


def test_callback_refuses_userinfo_for_another_subject(
    client: FlaskClient, provider: FakeProvider
) -> None:
    provider.userinfo_sub = "someone-else"
    location = client.get("/login").headers["Location"]
    code = provider.authorize(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    resp = client.get("/callback", query_string={"code": code, "state": state, "iss": ISSUER})
    assert resp.status_code == 400
    assert "You are logged in" not in client.get("/").get_data(as_text=True)


def test_callback_shows_a_provider_error(client: FlaskClient) -> None:
    resp = client.get("/callback", query_string={"error": "access_denied",
                                                 "error_description": "user cancelled",
                                                 "iss": ISSUER})
    assert resp.status_code == 400
    assert "access_denied" in resp.get_data(as_text=True)


def test_refresh_shows_expiry_and_rotates_but_never_the_tokens(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)
    client.get("/")  # renders the forms, which puts a CSRF token in the session
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    first_rt = next(iter(provider.refresh_tokens))
    resp = client.post("/refresh", data={"csrf": csrf})
    assert resp.status_code == 302
    assert provider.token_requests[-1]["grant_type"] == "refresh_token"
    assert provider.token_requests[-1]["refresh_token"] == first_rt
    assert "scope" not in provider.token_requests[-1]
    html = client.get("/").get_data(as_text=True)
    assert "Tokens refreshed" in html and "was rotated" in html and "UTC" in html
    assert "rt-" not in html and "at-" not in html
    # The rotated token is the one used next time.
    client.post("/refresh", data={"csrf": csrf})
    assert provider.token_requests[-1]["refresh_token"] != first_rt
    assert "Tokens refreshed" in client.get("/").get_data(as_text=True)


def test_a_refused_refresh_ends_the_login_and_says_why(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)
    client.get("/")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    provider.refresh_tokens.clear()  # the provider revoked them (consent withdrawn)
    client.post("/refresh", data={"csrf": csrf})
    html = client.get("/").get_data(as_text=True)
    assert "Token refresh failed" in html and "invalid_grant" in html
    assert "Welcome to the demo agency" in html  # logged out
    assert "invalid_grant" not in client.get("/").get_data(as_text=True)  # said once


def test_refresh_needs_the_csrf_token(client: FlaskClient, provider: FakeProvider) -> None:
    log_in(client, provider)
    client.get("/")
    assert client.post("/refresh", data={"csrf": "wrong"}).status_code == 400
    assert len(provider.token_requests) == 1


def test_logout_redirects_to_end_session_with_hint_and_drops_the_login(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)
    client.get("/")
    with client.session_transaction() as sess:
        csrf, local_id = sess["csrf"], sess["lsid"]
    resp = client.post("/logout", data={"csrf": csrf})
    assert resp.status_code == 302
    url = urlsplit(resp.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/logout"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["post_logout_redirect_uri"] == f"{BASE_URL}/logged-out"
    assert q["client_id"] == CLIENT_ID and q["state"]
    assert jwt.decode(q["id_token_hint"], provider.keys.ec).claims["sub"] == provider.sub
    assert local_id not in agency._SESSIONS
    back = client.get("/logged-out", query_string={"state": q["state"]})
    html = back.get_data(as_text=True)
    assert back.status_code == 200 and "You have logged out" in html
    assert "does not match" not in html
    assert "Log in with Thai Digital ID" in client.get("/").get_data(as_text=True)


def test_logged_out_page_flags_a_wrong_state(client: FlaskClient) -> None:
    html = client.get("/logged-out", query_string={"state": "forged"}).get_data(as_text=True)
    assert "does not match" in html


# --- back-channel logout ----------------------------------------------------------------------


@pytest.mark.parametrize("form", [{"logout_token": "garbage"}, {}, {"logout_token": "a.b.c"},
                                  {"logout_token": "x" * 20000}])
def test_backchannel_logout_refuses_garbage(client: FlaskClient, form: dict[str, str]) -> None:
    resp = client.post("/backchannel-logout", data=form)
    assert resp.status_code == 400
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_backchannel_logout_accepts_a_signed_token(
    client: FlaskClient, keys: Keys, alg: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = keys.sign(logout_claims(), alg=alg, typ="logout+jwt")
    resp = client.post("/backchannel-logout", data={"logout_token": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"
    assert token not in caplog.text


def test_backchannel_logout_refuses_a_replayed_token(client: FlaskClient, keys: Keys) -> None:
    token = keys.sign(logout_claims())
    assert client.post("/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert client.post("/backchannel-logout", data={"logout_token": token}).status_code == 400


def test_backchannel_logout_drops_the_matching_session_only(
    app: Flask, keys: Keys, provider: FakeProvider
) -> None:
    alice, alice_phone, bob = app.test_client(), app.test_client(), app.test_client()
    provider.sid = "sid-alice"
    log_in(alice, provider)
    provider.sid = "sid-alice-phone"  # the same person, another provider session
    log_in(alice_phone, provider)
    provider.sid, provider.sub = "sid-bob", "pairwise-sub-2"
    log_in(bob, provider)
    for browser in (alice, alice_phone, bob):
        assert "You are logged in" in browser.get("/").get_data(as_text=True)

    token = keys.sign(logout_claims(sub="pairwise-sub-1", sid="sid-alice"))
    assert alice.post("/backchannel-logout", data={"logout_token": token}).status_code == 200

    assert "Log in with Thai Digital ID" in alice.get("/").get_data(as_text=True)
    with alice.session_transaction() as sess:
        assert "lsid" not in sess and "id_claims" not in sess
    assert "You are logged in" in alice_phone.get("/").get_data(as_text=True)
    assert "You are logged in" in bob.get("/").get_data(as_text=True)


def test_backchannel_logout_by_sub_alone_ends_every_login_of_that_person(
    app: Flask, keys: Keys, provider: FakeProvider
) -> None:
    one, two = app.test_client(), app.test_client()
    provider.sid = "sid-one"
    log_in(one, provider)
    provider.sid = "sid-two"
    log_in(two, provider)
    token = keys.sign(logout_claims(sub=provider.sub, sid=None))
    assert one.post("/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert "You are logged in" not in one.get("/").get_data(as_text=True)
    assert "You are logged in" not in two.get("/").get_data(as_text=True)


def test_backchannel_logout_for_another_client_keeps_our_sessions(
    app: Flask, keys: Keys, provider: FakeProvider
) -> None:
    browser = app.test_client()
    log_in(browser, provider)
    other = create_agency_app(ISSUER, "other-agency", "x", "http://other.test",
                              metadata=metadata(keys))
    token = keys.sign(logout_claims(aud="other-agency", sub=provider.sub, sid=provider.sid))
    resp = other.test_client().post("/backchannel-logout", data={"logout_token": token})
    assert resp.status_code == 200
    assert "You are logged in" in browser.get("/").get_data(as_text=True)


# --- the logout token rules, one by one ----------------------------------------------------------


def _verify(token: str, keys: Keys) -> dict[str, Any]:
    return verify_logout_token(token, issuer=ISSUER, client_id=CLIENT_ID, jwks=keys.jwks())


def test_verify_logout_token_returns_claims(keys: Keys) -> None:
    claims = logout_claims()
    assert _verify(keys.sign(claims), keys)["sid"] == claims["sid"]
    assert _verify(keys.sign(logout_claims(aud=["x", CLIENT_ID])), keys)["aud"] == ["x", CLIENT_ID]


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.test"},
        {"aud": "another-client"},
        {"events": None},
        {"events": {"http://schemas.openid.net/event/other": {}}},
        {"events": {BACKCHANNEL_LOGOUT_EVENT: "yes"}},
        {"nonce": "n-0S6_WzA2Mj"},
        {"sub": None, "sid": None},
        {"sid": 42},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000},
        {"iat": None},
        {"exp": None},
        {"jti": None},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())[:40],
)
def test_verify_logout_token_refuses(keys: Keys, overrides: dict[str, Any]) -> None:
    claims = logout_claims(**overrides)
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
    with pytest.raises(LogoutTokenError):
        _verify(keys.sign(claims), keys)


def test_verify_logout_token_refuses_a_foreign_key_or_alg(keys: Keys) -> None:
    stranger = ECKey.generate_key("P-256", private=True)
    forged = jwt.encode({"alg": "ES256", "kid": "ec-1"}, logout_claims(), stranger)
    with pytest.raises(LogoutTokenError):
        _verify(forged, keys)
    hmac_key = OctKey.generate_key(256)
    hs = jwt.encode({"alg": "HS256", "kid": "ec-1"}, logout_claims(), hmac_key)
    with pytest.raises(LogoutTokenError):
        _verify(hs, keys)
    unsigned = ".".join([
        base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode(),
        base64.urlsafe_b64encode(json.dumps(logout_claims()).encode()).rstrip(b"=").decode(),
        "",
    ])
    with pytest.raises(LogoutTokenError):
        _verify(unsigned, keys)
    with pytest.raises(LogoutTokenError):
        _verify(keys.sign(logout_claims(), typ="JWT+id"), keys)


def test_backchannel_logout_refuses_an_unknown_kid(client: FlaskClient) -> None:
    stranger = ECKey.generate_key("P-256", private=True)
    token = jwt.encode({"alg": "ES256", "kid": "unknown"}, logout_claims(), stranger)
    resp = client.post("/backchannel-logout", data={"logout_token": token})
    assert resp.status_code == 400
    assert resp.headers["Cache-Control"] == "no-store"
