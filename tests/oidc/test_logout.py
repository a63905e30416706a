"""RP-initiated logout 1.0 and back-channel logout 1.0, over HTTP, one test per module of the
OpenID Foundation's RP-initiated logout test plan where one maps (named after it); see
shared/reference/oidc-conformance.md."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from keys.jws import b64url
from tests.support.live import Browser, LiveProvider, forms_of, location_params

LOGGED_OUT = "https://agency.example/logged-out"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


# --- helpers ---------------------------------------------------------------------------------


def jwks(op: LiveProvider) -> KeySet:
    return KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=10).json())


def id_claims(op: LiveProvider, id_token: str) -> dict[str, Any]:
    return dict(jwt.decode(id_token, jwks(op)).claims)


def logged_in(op: LiveProvider, browser: Browser, **meta: Any
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A client with a registered post-logout URI, and the tokens of a code flow in `browser`."""
    meta.setdefault("post_logout_redirect_uris", [LOGGED_OUT])
    client = op.register(**meta)
    return client, op.code_flow(browser, client)


def logout(browser: Browser, method: str = "GET", **params: str) -> requests.Response:
    if method == "GET":
        query = urlencode(params)
        return browser.go("/logout" + (f"?{query}" if query else ""))
    return browser.go("/logout", "POST", params)


def session_alive(op: LiveProvider, browser: Browser, client: dict[str, Any]) -> bool:
    """Whether `browser` still has an SSO session: a prompt=none request issues a code."""
    got, _ = op.login(browser, client, prompt="none")
    if "code" in got:
        return True
    assert got.get("error") == "login_required", got
    return False


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def assert_error_page(resp: requests.Response) -> None:
    """An error shown to the person: 400, a page, and no redirect anywhere."""
    assert resp.status_code == 400, (resp.status_code, resp.headers.get("Location"))
    assert "Location" not in resp.headers
    assert resp.headers["Content-Type"].startswith("text/html")


def assert_redirected_to(resp: requests.Response, uri: str) -> dict[str, str]:
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:500])
    loc = urlsplit(resp.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == uri
    return location_params(resp)


def confirmation_form(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    assert "Location" not in resp.headers
    forms = [f for f in forms_of(resp.text) if f["action"] == "/logout"]
    assert len(forms) == 1, resp.text[:2000]
    form = forms[0]
    assert form["method"].lower() == "post"
    assert len(form["fields"].get("csrf_token", "")) >= 16
    assert "yes" in form["choices"].get("confirm", [])
    return form


# --- RP-initiated logout ---------------------------------------------------------------------


def test_oidcc_rp_initiated_logout(op: LiveProvider, browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    resp = logout(browser, id_token_hint=tokens["id_token"],
                  post_logout_redirect_uri=LOGGED_OUT, state="bye-123")
    params = assert_redirected_to(resp, LOGGED_OUT)
    assert params == {"state": "bye-123"}
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_post(op: LiveProvider, browser: Browser) -> None:
    """The same request sent as a form POST; the answer is a 303 so the RP gets a GET."""
    client, tokens = logged_in(op, browser)
    resp = logout(browser, "POST", id_token_hint=tokens["id_token"],
                  post_logout_redirect_uri=LOGGED_OUT, state="s1")
    assert resp.status_code == 303
    assert assert_redirected_to(resp, LOGGED_OUT) == {"state": "s1"}
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_with_client_id(op: LiveProvider, browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    resp = logout(browser, id_token_hint=tokens["id_token"], client_id=client["client_id"],
                  post_logout_redirect_uri=LOGGED_OUT, state="s2")
    assert assert_redirected_to(resp, LOGGED_OUT) == {"state": "s2"}
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_client_id_mismatch(op: LiveProvider, browser: Browser
                                                      ) -> None:
    client, tokens = logged_in(op, browser)
    other = op.register(post_logout_redirect_uris=[LOGGED_OUT])
    resp = logout(browser, id_token_hint=tokens["id_token"], client_id=other["client_id"],
                  post_logout_redirect_uri=LOGGED_OUT, state="s3")
    assert_error_page(resp)
    assert session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(op: LiveProvider,
                                                                browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    resp = logout(browser, id_token_hint=tokens["id_token"],
                  post_logout_redirect_uri="https://evil.example/logged-out", state="s")
    assert_error_page(resp)
    assert 'href="https://evil.example' not in resp.text  # not even as a link to follow
    assert session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(
        op: LiveProvider, browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    resp = logout(browser, id_token_hint=tokens["id_token"],
                  post_logout_redirect_uri=LOGGED_OUT + "?foo=bar", state="s")
    assert_error_page(resp)
    assert session_alive(op, browser, client)


def test_post_logout_redirect_uri_of_another_client(op: LiveProvider, browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    op.register(post_logout_redirect_uris=["https://other.example/bye"],
                redirect_uris=["https://other.example/cb"])
    resp = logout(browser, id_token_hint=tokens["id_token"],
                  post_logout_redirect_uri="https://other.example/bye")
    assert_error_page(resp)
    assert session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_modified_id_token_hint(op: LiveProvider, browser: Browser
                                                          ) -> None:
    client, tokens = logged_in(op, browser)
    header, payload, signature = tokens["id_token"].split(".")
    claims = json.loads(unb64url(payload))
    claims["sub"] = "someone-else"
    forged = ".".join([header, b64url(json.dumps(claims).encode()), signature])
    resp = logout(browser, id_token_hint=forged, post_logout_redirect_uri=LOGGED_OUT,
                  state="s")
    assert_error_page(resp)
    assert session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_alg_none_id_token_hint(op: LiveProvider, browser: Browser
                                                          ) -> None:
    client, tokens = logged_in(op, browser)
    claims = id_claims(op, tokens["id_token"])
    unsigned = ".".join([b64url(b'{"alg":"none","typ":"JWT"}'),
                         b64url(json.dumps(claims).encode()), ""])
    resp = logout(browser, id_token_hint=unsigned, post_logout_redirect_uri=LOGGED_OUT,
                  state="s")
    assert_error_page(resp)
    assert session_alive(op, browser, client)


def test_id_token_hint_signed_by_someone_else(op: LiveProvider, browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    claims = id_claims(op, tokens["id_token"])
    key = ECKey.generate_key("P-256", parameters={"kid": jwt.decode(
        tokens["id_token"], jwks(op)).header["kid"]})
    foreign = jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)
    resp = logout(browser, id_token_hint=foreign, post_logout_redirect_uri=LOGGED_OUT,
                  state="s")
    assert_error_page(resp)
    assert session_alive(op, browser, client)


def test_expired_id_token_hint_is_accepted(op: LiveProvider, browser: Browser) -> None:
    """RP-initiated logout 1.0, section 4: the OP SHOULD accept a hint whose exp has passed.
    Simulated by a hint whose exp is in the past, signed by the provider's own key ring."""
    client, tokens = logged_in(op, browser)
    claims = id_claims(op, tokens["id_token"])
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    alg = jwt.decode(tokens["id_token"], jwks(op)).header["alg"]
    old = op.app.extensions["idp"].keys.sign_jwt(claims, alg)
    resp = logout(browser, id_token_hint=old, post_logout_redirect_uri=LOGGED_OUT, state="o")
    assert assert_redirected_to(resp, LOGGED_OUT) == {"state": "o"}
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_no_id_token_hint(op: LiveProvider, browser: Browser) -> None:
    """Without a hint the OP asks the person first; once confirmed, it goes back to the RP."""
    client, _ = logged_in(op, browser)
    resp = logout(browser, client_id=client["client_id"],
                  post_logout_redirect_uri=LOGGED_OUT, state="nh")
    form = confirmation_form(resp)
    assert form["fields"]["post_logout_redirect_uri"] == LOGGED_OUT
    assert form["fields"]["state"] == "nh"
    assert session_alive(op, browser, client)  # nothing happened before the confirmation

    resp = logout(browser, client_id=client["client_id"],
                  post_logout_redirect_uri=LOGGED_OUT, state="nh")
    done = browser.submit("/logout", confirm="yes")
    assert done.status_code == 303
    assert assert_redirected_to(done, LOGGED_OUT) == {"state": "nh"}
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_no_params(op: LiveProvider, browser: Browser) -> None:
    client, _ = logged_in(op, browser)
    confirmation_form(logout(browser))
    done = browser.submit("/logout", confirm="yes")
    assert done.status_code == 200
    assert "Location" not in done.headers
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_only_state(op: LiveProvider, browser: Browser) -> None:
    """A state alone names no client and no URI: confirm, log out, stay on the provider."""
    client, _ = logged_in(op, browser)
    form = confirmation_form(logout(browser, state="only"))
    assert form["fields"].get("state") == "only"
    done = browser.submit("/logout", confirm="yes")
    assert done.status_code == 200
    assert "Location" not in done.headers
    assert not session_alive(op, browser, client)


def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(op: LiveProvider,
                                                               browser: Browser) -> None:
    client, tokens = logged_in(op, browser)
    resp = logout(browser, id_token_hint=tokens["id_token"], state="np")
    assert resp.status_code == 200
    assert "Location" not in resp.headers
    assert not session_alive(op, browser, client)


def test_logout_confirmation_declined(op: LiveProvider, browser: Browser) -> None:
    client, _ = logged_in(op, browser)
    confirmation_form(logout(browser))
    stayed = browser.submit("/logout", confirm="no")
    assert stayed.status_code == 200
    assert session_alive(op, browser, client)


def test_logout_confirmation_needs_csrf_token(op: LiveProvider, browser: Browser) -> None:
    """A page elsewhere cannot post confirm=yes on the person's behalf."""
    client, _ = logged_in(op, browser)
    form = confirmation_form(logout(browser, client_id=client["client_id"],
                                    post_logout_redirect_uri=LOGGED_OUT))
    forged = dict(form["fields"], confirm="yes", csrf_token=secrets.token_urlsafe(32))
    resp = browser.go("/logout", "POST", forged)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    missing = {k: v for k, v in forged.items() if k != "csrf_token"}
    assert browser.go("/logout", "POST", missing).status_code == 400
    assert session_alive(op, browser, client)


def test_logout_without_session_still_returns_to_rp(op: LiveProvider, browser: Browser) -> None:
    """A logged-out person (e.g. a second click) still gets back to the agency."""
    client, tokens = logged_in(op, browser)
    first = logout(browser, id_token_hint=tokens["id_token"],
                   post_logout_redirect_uri=LOGGED_OUT, state="a")
    assert_redirected_to(first, LOGGED_OUT)
    again = logout(browser, id_token_hint=tokens["id_token"],
                   post_logout_redirect_uri=LOGGED_OUT, state="b")
    assert assert_redirected_to(again, LOGGED_OUT) == {"state": "b"}
    assert not session_alive(op, browser, client)


def test_logout_ends_only_this_browsers_session(op: LiveProvider) -> None:
    alice, bob = Browser(op.base), Browser(op.base)
    client, tokens = logged_in(op, alice)
    op.code_flow(bob, client)
    assert_redirected_to(logout(alice, id_token_hint=tokens["id_token"],
                                post_logout_redirect_uri=LOGGED_OUT), LOGGED_OUT)
    assert not session_alive(op, alice, client)
    assert session_alive(op, bob, client)


def test_id_token_hint_of_another_session_asks_for_confirmation(op: LiveProvider) -> None:
    """RP-initiated logout 1.0, sections 2 and 6: a hint whose sid is not the current session
    is suspect; since anyone can get a valid ID token for their own account, acting on it
    silently would let any page log a person out (logout CSRF). Ask the person instead."""
    victim, attacker = Browser(op.base), Browser(op.base)
    client, _ = logged_in(op, victim)
    _, attacker_tokens = logged_in(op, attacker)
    resp = logout(victim, id_token_hint=attacker_tokens["id_token"],
                  post_logout_redirect_uri=LOGGED_OUT, state="csrf")
    confirmation_form(resp)
    assert session_alive(op, victim, client)


def test_discovery_advertises_logout(op: LiveProvider) -> None:
    doc = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=10).json()
    assert doc["end_session_endpoint"] == f"{op.base}/logout"
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True


# --- back-channel logout ---------------------------------------------------------------------


@contextmanager
def backchannel_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny agency endpoint on a free loopback port that records every POST it gets."""
    received: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        if req.method == "POST":
            received.append({"path": req.path, "content_type": req.mimetype,
                             "form": req.form.to_dict(flat=False)})
        return Response("", headers={"Cache-Control": "no-store"})(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def verify_logout_token(op: LiveProvider, token: str, client: dict[str, Any],
                        id_token: str) -> dict[str, Any]:
    """Back-channel logout 1.0, section 2.4 and 2.6, as the agency would check it."""
    decoded = jwt.decode(token, jwks(op))
    assert decoded.header["typ"] == "logout+jwt"
    assert decoded.header["alg"] != "none"
    claims = dict(decoded.claims)
    expected = id_claims(op, id_token)
    now = time.time()
    assert claims["iss"] == op.base
    aud = claims["aud"]
    assert client["client_id"] == aud or client["client_id"] in aud
    assert now - 60 <= claims["iat"] <= now + 5
    assert claims["exp"] > claims["iat"]
    assert claims["exp"] <= now + 600
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert isinstance(claims["events"], dict)
    assert claims["events"][BACKCHANNEL_EVENT] == {}
    assert claims["sid"] == expected["sid"]
    assert claims["sub"] == expected["sub"]
    assert "nonce" not in claims
    return claims


def test_backchannel_logout(op: LiveProvider, browser: Browser) -> None:
    with backchannel_receiver() as (url, received):
        client, tokens = logged_in(op, browser, backchannel_logout_uri=url + "/bc")
        assert id_claims(op, tokens["id_token"])["sid"]
        assert received == []
        resp = logout(browser, id_token_hint=tokens["id_token"],
                      post_logout_redirect_uri=LOGGED_OUT, state="bc")
        assert_redirected_to(resp, LOGGED_OUT)
    assert len(received) == 1, received
    call = received[0]
    assert call["path"] == "/bc"
    assert call["content_type"] == "application/x-www-form-urlencoded"
    assert list(call["form"]) == ["logout_token"]
    (token,) = call["form"]["logout_token"]
    verify_logout_token(op, token, client, tokens["id_token"])


def test_backchannel_logout_rs256_client(op: LiveProvider, browser: Browser) -> None:
    with backchannel_receiver() as (url, received):
        client, tokens = logged_in(op, browser, backchannel_logout_uri=url + "/bc",
                                   id_token_signed_response_alg="RS256")
        assert_redirected_to(logout(browser, id_token_hint=tokens["id_token"],
                                    post_logout_redirect_uri=LOGGED_OUT), LOGGED_OUT)
    (token,) = received[0]["form"]["logout_token"]
    verify_logout_token(op, token, client, tokens["id_token"])


def test_backchannel_logout_every_client_of_the_session(op: LiveProvider, browser: Browser
                                                        ) -> None:
    """Each agency of the session gets its own token, with the pairwise sub it knows; an
    agency the person used in another browser hears nothing."""
    with backchannel_receiver() as (url, received):
        a, a_tokens = logged_in(op, browser, backchannel_logout_uri=url + "/a")
        b, b_tokens = logged_in(op, browser, backchannel_logout_uri=url + "/b",
                                redirect_uris=["https://other.example/cb"])
        silent = op.register()  # in the session, but without a back-channel URI
        op.code_flow(browser, silent)
        c, _ = logged_in(op, Browser(op.base), backchannel_logout_uri=url + "/c",
                         redirect_uris=["https://third.example/cb"])
        assert c["client_id"]
        resp = logout(browser, id_token_hint=a_tokens["id_token"],
                      post_logout_redirect_uri=LOGGED_OUT)
        assert_redirected_to(resp, LOGGED_OUT)
    by_path = {r["path"]: r["form"]["logout_token"][0] for r in received}
    assert sorted(by_path) == ["/a", "/b"]
    claims_a = verify_logout_token(op, by_path["/a"], a, a_tokens["id_token"])
    claims_b = verify_logout_token(op, by_path["/b"], b, b_tokens["id_token"])
    assert claims_a["sub"] != claims_b["sub"]  # pairwise: two sectors, two subjects
    assert claims_a["sid"] == claims_b["sid"]  # one SSO session
    assert claims_a["jti"] != claims_b["jti"]


def test_backchannel_logout_after_confirmation(op: LiveProvider, browser: Browser) -> None:
    with backchannel_receiver() as (url, received):
        client, tokens = logged_in(op, browser, backchannel_logout_uri=url + "/bc")
        confirmation_form(logout(browser))
        assert received == []
        browser.submit("/logout", confirm="yes")
    (token,) = received[0]["form"]["logout_token"]
    verify_logout_token(op, token, client, tokens["id_token"])


@pytest.mark.parametrize("hint", ["modified", "alg-none"])
def test_no_backchannel_call_on_refused_logout(op: LiveProvider, browser: Browser,
                                               hint: str) -> None:
    with backchannel_receiver() as (url, received):
        client, tokens = logged_in(op, browser, backchannel_logout_uri=url + "/bc")
        header, payload, signature = tokens["id_token"].split(".")
        none_header = b64url(b'{"alg":"none"}')
        bad = (f"{header}.{payload}.{signature[:-4]}AAAA" if hint == "modified"
               else f"{none_header}.{payload}.")
        assert_error_page(logout(browser, id_token_hint=bad,
                                 post_logout_redirect_uri=LOGGED_OUT))
    assert received == []
    assert session_alive(op, browser, client)


def test_backchannel_unreachable_does_not_block_logout(op: LiveProvider, browser: Browser
                                                       ) -> None:
    with backchannel_receiver() as (url, _):
        dead = url  # the receiver is shut down when the block ends
    client, tokens = logged_in(op, browser, backchannel_logout_uri=dead + "/bc")
    started = time.monotonic()
    resp = logout(browser, id_token_hint=tokens["id_token"],
                  post_logout_redirect_uri=LOGGED_OUT, state="x")
    assert time.monotonic() - started < op.settings.backchannel_timeout + 5
    assert assert_redirected_to(resp, LOGGED_OUT) == {"state": "x"}
    assert not session_alive(op, browser, client)
