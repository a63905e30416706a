"""The token endpoint and its companions (revocation, RFC 7009; introspection, RFC 7662), over
HTTP as an agency calls them: single-use codes under concurrency, refresh rotation with reuse
detection, client credentials, every client authentication method, and the rule that no
credential reaches the audit trail."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import ECKey

from idp import audit
from idp.settings import Settings
from idp.store import MemoryStore
from keys.jws import b64url
from tests.support.live import Browser, LiveProvider, serve

N = 8
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --- helpers ---------------------------------------------------------------------------------


def userinfo_status(op: LiveProvider, access_token: str) -> int:
    return requests.get(f"{op.base}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"}).status_code


def introspect(op: LiveProvider, client: dict[str, Any], token: str,
               **extra: str) -> requests.Response:
    return requests.post(f"{op.base}/introspect", data=dict(extra, token=token), timeout=10,
                         auth=(client["client_id"], client["client_secret"]))


def revoke(op: LiveProvider, client: dict[str, Any], token: str,
           **extra: str) -> requests.Response:
    return requests.post(f"{op.base}/revoke", data=dict(extra, token=token), timeout=10,
                         auth=(client["client_id"], client["client_secret"]))


def refresh(op: LiveProvider, client: dict[str, Any], refresh_token: str) -> requests.Response:
    return op.token(client, grant_type="refresh_token", refresh_token=refresh_token)


def code_for(op: LiveProvider, browser: Browser, client: dict[str, Any],
             **params: Any) -> tuple[str, str]:
    """Run the browser part of the flow; returns the code and the PKCE verifier."""
    got, verifier = op.login(browser, client, **params)
    assert "code" in got, got
    return got["code"], verifier


def concurrently(n: int, call: Callable[[], requests.Response]) -> list[requests.Response]:
    """Fire `call` from n threads released together by a barrier."""
    barrier = threading.Barrier(n)
    results: list[requests.Response | BaseException] = [RuntimeError("not run")] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return [r for r in results if isinstance(r, requests.Response)]


def error_of(resp: requests.Response) -> str:
    return str(resp.json().get("error"))


# --- single-use codes ------------------------------------------------------------------------


def test_concurrent_code_redemption_exactly_one_wins(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    code, verifier = code_for(op, browser, client)
    responses = concurrently(N, lambda: op.token(
        client, grant_type="authorization_code", code=code,
        redirect_uri=client["redirect_uri"], code_verifier=verifier))
    won = [r for r in responses if r.status_code == 200]
    lost = [r for r in responses if r.status_code != 200]
    assert len(won) == 1, [(r.status_code, r.text) for r in responses]
    assert all(r.status_code == 400 and error_of(r) == "invalid_grant" for r in lost), \
        [(r.status_code, r.text) for r in lost]


@contextmanager
def grant_writes_held(op: LiveProvider) -> Iterator[None]:
    """Make the provider's database slow to accept writes about grants, as a busy primary
    would be: hold the SQLite write lock, or an EXCLUSIVE lock on PostgreSQL's grant table
    (plain reads go on; inserting a token that references a grant waits)."""
    engine = op.app.extensions["idp"].db.engine
    if engine.dialect.name == "sqlite":
        lock = sqlite3.connect(engine.url.database, isolation_level=None, timeout=30)
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return
    with engine.connect() as conn:
        conn.execute(sa.text('LOCK TABLE "grant" IN EXCLUSIVE MODE'))
        try:
            yield
        finally:
            conn.rollback()


def test_concurrent_code_redemption_revokes_the_winner(op: LiveProvider, browser: Browser
                                                       ) -> None:
    """The same burst, with the database slow to store what the winner is issued: every loser
    is a second use of the code, so what the winner gets must be revoked (RFC 6749 4.1.2),
    however the requests interleave."""
    client = op.register()
    code, verifier = code_for(op, browser, client)
    barrier = threading.Barrier(N)
    results: list[requests.Response] = []

    def redeem() -> None:
        barrier.wait(timeout=10)
        results.append(op.token(client, grant_type="authorization_code", code=code,
                                redirect_uri=client["redirect_uri"], code_verifier=verifier))

    threads = [threading.Thread(target=redeem) for _ in range(N)]
    with grant_writes_held(op):
        for t in threads:
            t.start()
        deadline = time.monotonic() + 3  # the losers need far less, unless they wait too
        while len(results) < N - 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    for t in threads:
        t.join(timeout=30)
    won = [r for r in results if r.status_code == 200]
    assert len(results) == N and len(won) == 1, [(r.status_code, r.text) for r in results]
    assert all(error_of(r) == "invalid_grant" for r in results if r.status_code != 200)
    winner = won[0].json()
    assert userinfo_status(op, winner["access_token"]) == 401
    assert error_of(refresh(op, client, winner["refresh_token"])) == "invalid_grant"


def test_code_reuse_revokes_what_the_first_use_issued(op: LiveProvider, browser: Browser) -> None:
    """The sequential form: the second use fails and kills the first one's tokens."""
    client = op.register()
    code, verifier = code_for(op, browser, client)
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": client["redirect_uri"], "code_verifier": verifier}
    first = op.token(client, **form)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert userinfo_status(op, tokens["access_token"]) == 200
    second = op.token(client, **form)
    assert second.status_code == 400
    assert error_of(second) == "invalid_grant"
    assert userinfo_status(op, tokens["access_token"]) == 401
    assert error_of(refresh(op, client, tokens["refresh_token"])) == "invalid_grant"
    assert introspect(op, client, tokens["access_token"]).json() == {"active": False}


# --- refresh tokens --------------------------------------------------------------------------


def test_refresh_token_rotation(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    first = op.code_flow(browser, client)
    resp = refresh(op, client, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["id_token"]
    assert userinfo_status(op, second["access_token"]) == 200


def test_refresh_token_reuse_revokes_family(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    first = op.code_flow(browser, client)
    rotated = refresh(op, client, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert userinfo_status(op, second["access_token"]) == 200

    reused = refresh(op, client, first["refresh_token"])
    assert reused.status_code == 400
    assert error_of(reused) == "invalid_grant"

    # The whole family is dead now: the new refresh token, the latest access token, the first.
    assert error_of(refresh(op, client, second["refresh_token"])) == "invalid_grant"
    assert userinfo_status(op, second["access_token"]) == 401
    assert userinfo_status(op, first["access_token"]) == 401
    assert introspect(op, client, second["access_token"]).json()["active"] is False
    assert introspect(op, client, second["refresh_token"],
                      token_type_hint="refresh_token").json()["active"] is False


def test_concurrent_refresh_exactly_one_wins(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    first = op.code_flow(browser, client)
    responses = concurrently(N, lambda: refresh(op, client, first["refresh_token"]))
    won = [r for r in responses if r.status_code == 200]
    lost = [r for r in responses if r.status_code != 200]
    assert len(won) == 1, [(r.status_code, r.text) for r in responses]
    assert all(r.status_code == 400 and error_of(r) == "invalid_grant" for r in lost), \
        [(r.status_code, r.text) for r in lost]


def test_refresh_token_bound_to_client(op: LiveProvider, browser: Browser) -> None:
    """A refresh token is bound to its client (as in oidcc-refresh-token)."""
    client, other = op.register(), op.register()
    tokens = op.code_flow(browser, client)
    resp = refresh(op, other, tokens["refresh_token"])
    assert resp.status_code == 400
    assert error_of(resp) == "invalid_grant"
    # The failed attempt neither burnt the token nor tripped reuse detection for its owner.
    mine = refresh(op, client, tokens["refresh_token"])
    assert mine.status_code == 200, mine.text
    assert userinfo_status(op, mine.json()["access_token"]) == 200


# --- client credentials ----------------------------------------------------------------------


def test_client_credentials(op: LiveProvider) -> None:
    client = op.register(grant_types=["client_credentials"], redirect_uris=[])
    assert client["redirect_uri"] is None
    resp = op.token(client, grant_type="client_credentials")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["access_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert "refresh_token" not in body
    assert "id_token" not in body


def test_client_credentials_introspection(op: LiveProvider) -> None:
    client = op.register(grant_types=["client_credentials"], redirect_uris=[])
    body = op.token(client, grant_type="client_credentials").json()
    resp = introspect(op, client, body["access_token"])
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["active"] is True
    assert info["client_id"] == client["client_id"]
    assert "sub" not in info
    assert info["exp"] > time.time()


def test_client_credentials_not_registered(op: LiveProvider) -> None:
    client = op.register()  # authorization_code + refresh_token only
    resp = op.token(client, grant_type="client_credentials")
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "unauthorized_client"


def test_client_credentials_client_cannot_use_code_grant(op: LiveProvider) -> None:
    client = op.register(grant_types=["client_credentials"], redirect_uris=[])
    resp = op.token(client, grant_type="authorization_code", code="x" * 43,
                    redirect_uri="https://agency.example/cb", code_verifier="v" * 43)
    assert resp.status_code == 400
    assert error_of(resp) in ("unauthorized_client", "invalid_grant")


# --- client authentication -------------------------------------------------------------------


def _exchange(op: LiveProvider, browser: Browser, client: dict[str, Any],
              auth: str) -> requests.Response:
    code, verifier = code_for(op, browser, client)
    return op.token(client, auth=auth, grant_type="authorization_code", code=code,
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)


def test_client_secret_basic(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    resp = _exchange(op, browser, client, "basic")
    assert resp.status_code == 200, resp.text
    assert resp.json()["id_token"]


def test_client_secret_post(op: LiveProvider, browser: Browser) -> None:
    client = op.register(token_endpoint_auth_method="client_secret_post")
    resp = _exchange(op, browser, client, "post")
    assert resp.status_code == 200, resp.text
    assert resp.json()["id_token"]


def test_wrong_secret_basic_is_401_with_challenge(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    code, verifier = code_for(op, browser, client)
    wrong = dict(client, client_secret=client["client_secret"] + "x")
    resp = op.token(wrong, grant_type="authorization_code", code=code,
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code == 401
    assert error_of(resp) == "invalid_client"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert client["client_secret"] not in resp.text
    # The code was not consumed by the failed attempt.
    ok = op.token(client, grant_type="authorization_code", code=code,
                  redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert ok.status_code == 200, ok.text


def test_wrong_secret_post_is_invalid_client(op: LiveProvider, browser: Browser) -> None:
    client = op.register(token_endpoint_auth_method="client_secret_post")
    code, verifier = code_for(op, browser, client)
    wrong = dict(client, client_secret="not-" + client["client_secret"])
    resp = op.token(wrong, auth="post", grant_type="authorization_code", code=code,
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


def test_unknown_client_is_invalid_client(op: LiveProvider) -> None:
    ghost = {"client_id": "no-such-client", "client_secret": "s" * 43}
    resp = op.token(ghost, grant_type="authorization_code", code="c" * 43)
    assert resp.status_code == 401
    assert error_of(resp) == "invalid_client"


def test_registered_basic_but_uses_post(op: LiveProvider, browser: Browser) -> None:
    client = op.register()  # client_secret_basic
    resp = _exchange(op, browser, client, "post")
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


def test_registered_post_but_uses_basic(op: LiveProvider, browser: Browser) -> None:
    client = op.register(token_endpoint_auth_method="client_secret_post")
    resp = _exchange(op, browser, client, "basic")
    assert resp.status_code == 401
    assert error_of(resp) == "invalid_client"


# --- private_key_jwt -------------------------------------------------------------------------


def _ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid})


def _assertion(key: ECKey, client_id: str, aud: str, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": aud,
                              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    claims.update(overrides)
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def _pkjwt_client(op: LiveProvider) -> tuple[dict[str, Any], ECKey]:
    key = _ec_key("agency-1")
    client = op.register(token_endpoint_auth_method="private_key_jwt",
                         jwks={"keys": [key.as_dict(private=False)]})
    assert client["client_secret"] is None
    return client, key


def _pkjwt_exchange(op: LiveProvider, browser: Browser, client: dict[str, Any],
                    assertion: str) -> requests.Response:
    code, verifier = code_for(op, browser, client)
    return requests.post(f"{op.base}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": client["redirect_uri"], "code_verifier": verifier,
        "client_id": client["client_id"], "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion})


def test_private_key_jwt_aud_issuer(op: LiveProvider, browser: Browser) -> None:
    client, key = _pkjwt_client(op)
    resp = _pkjwt_exchange(op, browser, client, _assertion(key, client["client_id"], op.base))
    assert resp.status_code == 200, resp.text
    assert resp.json()["id_token"]


def test_private_key_jwt_aud_token_endpoint(op: LiveProvider, browser: Browser) -> None:
    client, key = _pkjwt_client(op)
    resp = _pkjwt_exchange(op, browser, client,
                           _assertion(key, client["client_id"], f"{op.base}/token"))
    assert resp.status_code == 200, resp.text


def test_private_key_jwt_replayed_assertion(op: LiveProvider, browser: Browser) -> None:
    client, key = _pkjwt_client(op)
    assertion = _assertion(key, client["client_id"], op.base)
    assert _pkjwt_exchange(op, browser, client, assertion).status_code == 200
    replay = _pkjwt_exchange(op, browser, client, assertion)
    assert replay.status_code in (400, 401)
    assert error_of(replay) == "invalid_client"


def test_private_key_jwt_wrong_key(op: LiveProvider, browser: Browser) -> None:
    client, _ = _pkjwt_client(op)
    intruder = _ec_key("agency-1")  # same kid, different key
    resp = _pkjwt_exchange(op, browser, client,
                           _assertion(intruder, client["client_id"], op.base))
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


def test_private_key_jwt_expired(op: LiveProvider, browser: Browser) -> None:
    client, key = _pkjwt_client(op)
    now = int(time.time())
    resp = _pkjwt_exchange(op, browser, client, _assertion(
        key, client["client_id"], op.base, iat=now - 600, exp=now - 300))
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


def test_private_key_jwt_wrong_audience(op: LiveProvider, browser: Browser) -> None:
    client, key = _pkjwt_client(op)
    resp = _pkjwt_exchange(op, browser, client,
                           _assertion(key, client["client_id"], "https://evil.example"))
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


def test_private_key_jwt_client_cannot_use_a_secret(op: LiveProvider, browser: Browser) -> None:
    client, _ = _pkjwt_client(op)
    resp = _exchange(op, browser, dict(client, client_secret="guess"), "basic")
    assert resp.status_code == 401
    assert error_of(resp) == "invalid_client"


def test_private_key_jwt_alg_none(op: LiveProvider, browser: Browser) -> None:
    client, _ = _pkjwt_client(op)
    now = int(time.time())
    claims = {"iss": client["client_id"], "sub": client["client_id"], "aud": op.base,
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    unsigned = ".".join([b64url(b'{"alg":"none"}'), b64url(json.dumps(claims).encode()), ""])
    resp = _pkjwt_exchange(op, browser, client, unsigned)
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


class _StoreClock:
    """The in-process store's clock, which a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.mark.parametrize("lifetime", [
    3 * 3600,
    3 * 86400,
], ids=["3h", "3d"])
def test_private_key_jwt_replay_refused_while_assertion_valid(settings: Settings,
                                                              lifetime: int) -> None:
    """RFC 7523 3 (7): used jti values are kept as long as the JWT would be valid. Either a
    long-lived assertion is refused outright, or its replay is refused until its exp."""
    clock = _StoreClock()
    with serve(settings, MemoryStore(clock=clock)) as op:
        browser = Browser(op.base)
        client, key = _pkjwt_client(op)
        now = int(time.time())
        assertion = _assertion(key, client["client_id"], op.base, exp=now + lifetime)
        first = _pkjwt_exchange(op, browser, client, assertion)
        if first.status_code != 200:
            assert error_of(first) == "invalid_client"
            return
        clock.offset += lifetime - 600  # ten minutes before the assertion expires
        replay = _pkjwt_exchange(op, browser, client, assertion)
        assert replay.status_code in (400, 401), replay.text
        assert error_of(replay) == "invalid_client"


# --- revocation (RFC 7009) -------------------------------------------------------------------


def test_revoke_refresh_token_kills_its_access_tokens(op: LiveProvider, browser: Browser
                                                      ) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client)
    assert userinfo_status(op, tokens["access_token"]) == 200
    resp = revoke(op, client, tokens["refresh_token"], token_type_hint="refresh_token")
    assert resp.status_code == 200, resp.text
    assert userinfo_status(op, tokens["access_token"]) == 401
    assert error_of(refresh(op, client, tokens["refresh_token"])) == "invalid_grant"
    assert introspect(op, client, tokens["access_token"]).json() == {"active": False}


def test_revoke_access_token(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client)
    resp = revoke(op, client, tokens["access_token"], token_type_hint="access_token")
    assert resp.status_code == 200
    assert userinfo_status(op, tokens["access_token"]) == 401


def test_revoke_unknown_token_is_200(op: LiveProvider) -> None:
    client = op.register()
    resp = revoke(op, client, secrets.token_urlsafe(32))
    assert resp.status_code == 200


def test_revoke_needs_client_authentication(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client)
    resp = requests.post(f"{op.base}/revoke", data={"token": tokens["access_token"]},
                         timeout=10)
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"
    assert userinfo_status(op, tokens["access_token"]) == 200


def test_client_cannot_revoke_another_clients_token(op: LiveProvider, browser: Browser
                                                    ) -> None:
    client, other = op.register(), op.register()
    tokens = op.code_flow(browser, client)
    revoke(op, other, tokens["refresh_token"])
    revoke(op, other, tokens["access_token"])
    assert userinfo_status(op, tokens["access_token"]) == 200
    resp = refresh(op, client, tokens["refresh_token"])
    assert resp.status_code == 200, resp.text


# --- introspection (RFC 7662) ----------------------------------------------------------------


def test_introspect_own_access_token(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope="openid profile")
    resp = introspect(op, client, tokens["access_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    info = resp.json()
    assert info["active"] is True
    assert set(info["scope"].split()) == {"openid", "profile"}
    assert info["client_id"] == client["client_id"]
    id_claims = jwt.decode(tokens["id_token"], _jwks(op)).claims
    assert info["sub"] == id_claims["sub"]
    assert time.time() < info["exp"] <= time.time() + op.settings.access_token_ttl + 5


def test_introspect_own_refresh_token(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client)
    info = introspect(op, client, tokens["refresh_token"],
                      token_type_hint="refresh_token").json()
    assert info["active"] is True
    assert info["client_id"] == client["client_id"]


def test_introspect_another_clients_token_is_inactive(op: LiveProvider, browser: Browser
                                                      ) -> None:
    client, other = op.register(), op.register()
    tokens = op.code_flow(browser, client)
    resp = introspect(op, other, tokens["access_token"])
    assert resp.status_code == 200
    assert resp.json() == {"active": False}


def test_introspect_unknown_token_is_inactive(op: LiveProvider) -> None:
    client = op.register()
    resp = introspect(op, client, secrets.token_urlsafe(32))
    assert resp.status_code == 200
    assert resp.json() == {"active": False}


def test_introspect_needs_client_authentication(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client)
    resp = requests.post(f"{op.base}/introspect", data={"token": tokens["access_token"]},
                         timeout=10)
    assert resp.status_code in (400, 401)
    assert error_of(resp) == "invalid_client"


def _jwks(op: LiveProvider) -> Any:
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=10).json())


# --- response shape --------------------------------------------------------------------------


def test_token_response_headers(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    resp = _exchange(op, browser, client, "basic")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert "no-store" in resp.headers["Cache-Control"]
    assert resp.headers.get("Pragma") == "no-cache"


@pytest.mark.parametrize("form", [
    {"grant_type": "authorization_code", "code": "nope", "redirect_uri": "https://agency.example/cb",
     "code_verifier": "v" * 43},
    {"grant_type": "refresh_token", "refresh_token": "nope"},
    {"grant_type": "password", "username": "u", "password": "p"},
    {},
], ids=["bad-code", "bad-refresh", "unsupported-grant", "empty"])
def test_token_errors_are_json_and_not_cached(op: LiveProvider, form: dict[str, str]) -> None:
    client = op.register()
    resp = op.token(client, **form)
    assert 400 <= resp.status_code < 500
    assert resp.headers["Content-Type"].startswith("application/json")
    assert "no-store" in resp.headers["Cache-Control"]
    body = resp.json()
    assert isinstance(body["error"], str) and body["error"]


def test_code_bound_to_client(op: LiveProvider, browser: Browser) -> None:
    client, other = op.register(), op.register()
    code, verifier = code_for(op, browser, client)
    resp = op.token(other, grant_type="authorization_code", code=code,
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code == 400
    assert error_of(resp) == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", ["https://agency.example/other", None],
                         ids=["different", "missing"])
def test_code_needs_the_same_redirect_uri(op: LiveProvider, browser: Browser,
                                          redirect_uri: str | None) -> None:
    """RFC 6749 4.1.3: redirect_uri is required, and must be identical, when the
    authorization request had one."""
    client = op.register(redirect_uris=["https://agency.example/cb",
                                        "https://agency.example/other"])
    code, verifier = code_for(op, browser, client)
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    if redirect_uri:
        form["redirect_uri"] = redirect_uri
    resp = op.token(client, **form)
    assert resp.status_code == 400
    assert error_of(resp) == "invalid_grant"


def test_code_needs_the_right_verifier(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    code, _ = code_for(op, browser, client)
    resp = op.token(client, grant_type="authorization_code", code=code,
                    redirect_uri=client["redirect_uri"], code_verifier="w" * 43)
    assert resp.status_code == 400
    assert error_of(resp) == "invalid_grant"


# --- security rule: no credential in the audit trail -----------------------------------------


def test_no_credential_in_audit_trail(op: LiveProvider, browser: Browser) -> None:
    secrets_seen: list[str] = []
    client = op.register()
    secrets_seen.append(client["client_secret"])

    code, verifier = code_for(op, browser, client)
    secrets_seen.append(code)
    first = op.token(client, grant_type="authorization_code", code=code,
                     redirect_uri=client["redirect_uri"], code_verifier=verifier).json()
    second = refresh(op, client, first["refresh_token"]).json()
    for t in (first, second):
        secrets_seen += [t["access_token"], t["refresh_token"], t["id_token"]]
    # A code reuse, a refresh reuse, a revocation and introspection all leave audit events.
    op.token(client, grant_type="authorization_code", code=code,
             redirect_uri=client["redirect_uri"], code_verifier=verifier)
    introspect(op, client, second["access_token"])
    refresh(op, client, first["refresh_token"])
    other = op.code_flow(browser, client)
    secrets_seen += [other["access_token"], other["refresh_token"], other["id_token"]]
    revoke(op, client, other["refresh_token"])

    machine = op.register(grant_types=["client_credentials"], redirect_uris=[])
    secrets_seen.append(machine["client_secret"])
    cc = op.token(machine, grant_type="client_credentials").json()
    secrets_seen.append(cc["access_token"])

    with op.app.extensions["idp"].db.session() as s:
        events = audit.list_events(s, limit=10_000)
        dumped = [json.dumps(audit.as_dict(e), ensure_ascii=False) for e in events]
    assert {"token.issued", "token.revoked"} <= {json.loads(d)["type"] for d in dumped}
    for text in dumped:
        for secret in secrets_seen:
            assert secret not in text


def test_refresh_token_only_with_offline_access(op: LiveProvider, browser: Browser) -> None:
    """OIDC Core 11: a refresh token lets an agency act while the person is away, so it comes
    only with the `offline_access` scope the person consented to."""
    client = op.register()
    online = op.code_flow(browser, client, scope="openid profile")
    assert "refresh_token" not in online
    offline = op.code_flow(browser, client, scope="openid profile offline_access")
    assert offline["refresh_token"]
    assert "offline_access" in offline["scope"].split()


def test_refresh_narrowed_without_offline_access_ends_the_chain(op: LiveProvider,
                                                                browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope="openid profile offline_access")
    narrowed = op.token(client, grant_type="refresh_token", scope="openid profile",
                        refresh_token=tokens["refresh_token"])
    assert narrowed.status_code == 200, narrowed.text
    assert "refresh_token" not in narrowed.json()
    assert narrowed.json()["scope"].split() == ["openid", "profile"]
