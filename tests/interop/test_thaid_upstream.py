"""Proving identity through an independent, ThaID-style upstream OpenID provider.

thaid.mjs runs oidc-provider (panva's certified Node.js OpenID Provider) configured like DOPA's
ThaID: scopes named after claims (pid, name, given_name_en, ..., ial), `ial` a string, PKCE
required, our client registered with our one callback URL. This test is the person's browser
across three sites: the agency (only its redirect URI), our provider, and the upstream, whose
development login and consent pages it fills in.

Covered: a first login creates the person (Thai and English names, proofing event "oidc:thaid",
acr ial-2.3 with the configured AAL); a second login links to the same person (same sub at the
agency); the citizen ID of an existing person (sandbox persona malee) links to her; and the
failures (cancelled at the upstream, a replayed or tampered state, a tampered code, no citizen
ID) each show a page and write no person and no proofing event.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from werkzeug.serving import make_server

from idp import persons
from idp.app import create_app
from idp.db import FederatedLink, Person, ProofingRecord
from idp.settings import Settings
from idp.store import EphemeralStore
from kyc.identifiers import TH_CITIZEN_ID
from tests.support.live import REDIRECT, Browser, LiveProvider, forms_of, location_params

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
THAID = HERE / "thaid.mjs"
CALLBACK = "/federation/oidc/callback"
CONFIGURED_AAL = "2.2"
SOMSRI_PID = "1345951597671"
MALEE_PID = "1234567890121"

THAID_SCOPES = ["openid", "pid", "name", "given_name", "family_name", "name_en",
                "given_name_en", "family_name_en", "title", "title_en", "birthdate", "gender",
                "address", "ial"]
THAID_CLAIMS = {
    "pid": "th_citizen_id", "given_name": "given_name#th", "given_name_en": "given_name",
    "family_name": "family_name#th", "family_name_en": "family_name", "name": "name#th",
    "name_en": "name", "title": "title#th", "title_en": "title", "birthdate": "birthdate",
    "gender": "gender", "address": "address",
}


@dataclass
class Upstream:
    issuer: str
    process: subprocess.Popen[str]
    stderr: IO[str]


def start_thaid(node: str, client_id: str, client_secret: str, redirect_uri: str,
                mode: str = "") -> Upstream:
    """Start thaid.mjs and wait for its issuer line, then for its discovery to answer."""
    if not (HERE / "node_modules" / "oidc-provider" / "package.json").is_file():
        pytest.fail("tests/interop/node_modules is missing oidc-provider: run `./dev test` "
                    "(or `cd tests/interop && npm ci`)", pytrace=False)
    args = [node, str(THAID), client_id, client_secret, redirect_uri, *([mode] if mode else [])]
    # stderr goes to a file, not a pipe: a pipe nobody reads would block the peer once full.
    err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
    proc = subprocess.Popen(args, cwd=HERE, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    stdout = proc.stdout
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    if not line or not line[0].strip():
        proc.kill()
        proc.communicate(timeout=10)
        err.seek(0)
        pytest.fail(f"thaid.mjs did not start\n--- stderr ---\n{err.read()}", pytrace=False)
    issuer = json.loads(line[0])["issuer"]
    for _ in range(100):
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                return Upstream(issuer, proc, err)
        except requests.RequestException:
            pass
        threading.Event().wait(0.1)
    proc.kill()
    pytest.fail("thaid.mjs discovery never answered", pytrace=False)


def stop(upstream: Upstream) -> None:
    if upstream.process.returncode is not None:
        return
    upstream.process.terminate()
    try:
        upstream.process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        upstream.process.kill()
        upstream.process.communicate(timeout=10)
    upstream.stderr.close()


def upstreams_file(path: Path, issuer: str, client_id: str, client_secret: str) -> Path:
    path.write_text(json.dumps([{
        "name": "thaid",
        "display_name": {"th": "ไทยดี (ThaID)", "en": "ThaID"},
        "discovery_url": f"{issuer}/.well-known/openid-configuration",
        "client_id": client_id,
        "client_secret": client_secret,
        "scopes": THAID_SCOPES,
        "claims": THAID_CLAIMS,
        "ial": {"claim": "ial", "max": "2.3"},
        "aal": CONFIGURED_AAL,
        "evidence": "id_card_chip",
    }], ensure_ascii=False), encoding="utf-8")
    return path


@contextmanager
def provider_with_thaid(settings: Settings, store: EphemeralStore, node: str, tmp: Path,
                        mode: str = "") -> Iterator[tuple[LiveProvider, Upstream]]:
    """Our provider over HTTP with the upstream configured. The port is bound first, so the
    upstream can register our exact callback URL before our app reads the upstreams file."""
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{server.server_port}"
    client_id, client_secret = "idp-" + secrets.token_hex(4), secrets.token_urlsafe(32)
    upstream = start_thaid(node, client_id, client_secret, base + CALLBACK, mode)
    try:
        path = upstreams_file(tmp / "upstreams.json", upstream.issuer, client_id, client_secret)
        settings = replace(settings, issuer=base, upstreams_file=str(path))
        app = create_app(settings, store)
        server.app = app
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveProvider(base=base, settings=settings, app=app), upstream
        finally:
            server.shutdown()
    finally:
        stop(upstream)


@pytest.fixture
def thaid(settings: Settings, store: EphemeralStore, node: str, tmp_path: Path
          ) -> Iterator[tuple[LiveProvider, Upstream]]:
    with provider_with_thaid(settings, store, node, tmp_path) as pair:
        yield pair


# --- the person's browser, across our provider and the upstream ------------------------------


@dataclass
class Trip:
    """A browser that follows redirects across sites until a page or the agency, and keeps
    the URLs of our callback it passed through (to replay or tamper with them)."""

    browser: Browser
    callbacks: list[str]
    visited: list[str]

    def travel(self, resp: requests.Response, stop_at_callback: bool = False
               ) -> requests.Response:
        while resp.status_code in (301, 302, 303, 307):
            url = urljoin(resp.url, resp.headers["Location"])
            self.visited.append(url)
            if url.startswith(REDIRECT):
                break
            if CALLBACK in url:
                self.callbacks.append(url)
                if stop_at_callback:
                    break
            resp = self.browser.http.get(url, allow_redirects=False, timeout=15)
        self.browser.last = resp
        return resp

    def go(self, url: str, stop_at_callback: bool = False) -> requests.Response:
        return self.travel(self.browser.http.get(url, allow_redirects=False, timeout=15),
                           stop_at_callback)

    def submit(self, action_contains: str, stop_at_callback: bool = False,
               **fields: str) -> requests.Response:
        page = self.browser.last
        assert page is not None
        for form in forms_of(page.text):
            if action_contains in form["action"]:
                data = {**form["fields"], **fields}
                url = urljoin(page.url, form["action"])
                resp = self.browser.http.request(form["method"].upper(), url, data=data,
                                                 allow_redirects=False, timeout=15)
                return self.travel(resp, stop_at_callback)
        raise AssertionError(f"no form with {action_contains!r} on {page.url}:\n"
                             f"{page.text[:2000]}")


def new_trip(op: LiveProvider) -> Trip:
    return Trip(Browser(op.base), [], [])


def to_upstream_login(op: LiveProvider, trip: Trip, client: dict[str, Any],
                      **params: str) -> str:
    """From the agency to the upstream's login page; returns our PKCE verifier."""
    url, verifier = op.auth_url(client, **params)
    resp = trip.go(url)
    assert resp.status_code == 200 and "/upstream/thaid" in resp.text, resp.text[:2000]
    resp = trip.submit("/upstream/thaid")
    assert resp.url.startswith(upstream_of(op)), resp.url
    assert 'name="login"' in resp.text, resp.text[:1000]
    return verifier


def upstream_of(op: LiveProvider) -> str:
    registry = op.app.extensions["idp_upstreams"]
    return str(registry.get("thaid").config.issuer)


def upstream_login(trip: Trip, account: str, stop_at_callback: bool = False
                   ) -> requests.Response:
    """Log in at the upstream (any password) and consent there."""
    resp = trip.submit("/interaction/", login=account, password="any")
    if 'value="consent"' in resp.text:
        resp = trip.submit("/interaction/", stop_at_callback=stop_at_callback)
    return resp


def past_passkey_offer(trip: Trip, resp: requests.Response) -> requests.Response:
    """After a proofing login, the provider may offer to register a passkey: not now."""
    if resp.status_code == 200 and "/passkey/continue" in resp.text:
        return trip.submit("/passkey/continue")
    return resp


def thaid_login(op: LiveProvider, client: dict[str, Any], account: str,
                trip: Trip | None = None) -> tuple[dict[str, Any], Trip]:
    """The whole journey; returns our ID token's claims (verified) and the browser."""
    trip = trip or new_trip(op)
    verifier = to_upstream_login(op, trip, client)
    resp = past_passkey_offer(trip, upstream_login(trip, account))
    if resp.status_code == 200 and "/consent" in resp.text:
        resp = trip.submit("/consent", decision="allow")
    got = location_params(resp)
    assert "code" in got, got
    tokens = op.token(client, grant_type="authorization_code", code=got["code"],
                      redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert tokens.status_code == 200, tokens.text
    return verify_id_token(op, tokens.json()["id_token"], client), trip


def verify_id_token(op: LiveProvider, token: str, client: dict[str, Any]) -> dict[str, Any]:
    jwks = KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=10).json())
    claims = dict(jwt.decode(token, jwks, algorithms=["ES256", "RS256"]).claims)
    assert claims["iss"] == op.base and claims["aud"] == client["client_id"]
    return claims


# --- what the provider stored ---------------------------------------------------------------


def counts(op: LiveProvider) -> tuple[int, int, int]:
    with op.app.extensions["idp"].db.session() as s:
        return (s.scalar(select(func.count()).select_from(Person)) or 0,
                s.scalar(select(func.count()).select_from(ProofingRecord)) or 0,
                s.scalar(select(func.count()).select_from(FederatedLink)) or 0)


def person_by_pid(op: LiveProvider, pid: str) -> tuple[str, dict[str, Any], list[Any]]:
    p = op.app.extensions["idp"]
    with p.db.session() as s:
        person = persons.find_by_identifier(s, p.identifiers, TH_CITIZEN_ID, pid)
        assert person is not None
        return person.id, dict(person.claims), persons.proofing_events(s, p.identifiers,
                                                                        person.id)


def assert_nothing_written(op: LiveProvider, before: tuple[int, int, int]) -> None:
    assert counts(op) == before


# --- the tests ------------------------------------------------------------------------------


def test_login_page_offers_the_upstream_and_discovery_is_used(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    """Our request to the upstream: the code flow with PKCE S256, state, nonce, the scopes
    configured and our one callback URL, at the authorization endpoint discovery named."""
    op, upstream = thaid
    client = op.register()
    trip = new_trip(op)
    to_upstream_login(op, trip, client)
    auth = next(u for u in trip.visited if u.startswith(upstream.issuer + "/auth?"))
    sent = {k: v[0] for k, v in parse_qs(urlsplit(auth).query).items()}
    assert sent["response_type"] == "code"
    assert sent["redirect_uri"] == op.base + CALLBACK
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert len(sent["state"]) >= 43 and len(sent["nonce"]) >= 43
    assert sent["scope"].split() == THAID_SCOPES


def test_first_login_creates_the_person_and_second_links_to_it(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    before = counts(op)

    first, _ = thaid_login(op, client, "somsri")
    assert first["acr"] == f"{op.base}/acr/ial-2.3/aal-{CONFIGURED_AAL}"
    assert first["amr"] == ["fed"]
    person_id, claims, events = person_by_pid(op, SOMSRI_PID)
    assert claims["given_name#th"] == "สมศรี" and claims["family_name#th"] == "ใจดี"
    assert claims["given_name"] == "Somsri" and claims["family_name"] == "Jaidee"
    assert claims["name"] == "Mrs. Somsri Jaidee" and claims["name#th"] == "นางสมศรี ใจดี"
    assert claims["title"] == "Mrs." and claims["title#th"] == "นาง"
    assert claims["birthdate"] == "1985-04-12" and claims["gender"] == "female"
    assert claims["address"]["formatted"].startswith("99 ")
    assert TH_CITIZEN_ID not in claims  # the ID lives only as an identifier row
    assert len(events) == 1
    event = events[0]
    assert event.source == "oidc:thaid"
    assert str(event.ial) == "2.3" and str(event.aal) == CONFIGURED_AAL
    assert event.claims[TH_CITIZEN_ID] == SOMSRI_PID
    assert event.claims["given_name"] == "Somsri"
    assert event.evidence and event.evidence[0]["document_details"]["type"] == "idcard"
    assert event.verification_process
    assert counts(op) == (before[0] + 1, before[1] + 1, before[2] + 1)

    # A second login, from another browser: the same person, the same sub at the agency.
    second, _ = thaid_login(op, client, "somsri")
    assert second["sub"] == first["sub"]
    again_id, _, again_events = person_by_pid(op, SOMSRI_PID)
    assert again_id == person_id
    assert [e.source for e in again_events] == ["oidc:thaid", "oidc:thaid"]
    assert len({e.verification_process for e in again_events}) == 2
    assert counts(op) == (before[0] + 1, before[1] + 2, before[2] + 1)


def test_citizen_id_of_an_existing_person_links_to_her(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    # Malee first logs in as the sandbox persona: her person exists, unproofed (IAL 1.1).
    browser = Browser(op.base)
    got, verifier = op.login(browser, client, persona="malee")
    tokens = op.token(client, grant_type="authorization_code", code=got["code"],
                      redirect_uri=client["redirect_uri"], code_verifier=verifier).json()
    as_persona = verify_id_token(op, tokens["id_token"], client)
    assert "/acr/ial-1.1/" in as_persona["acr"]
    malee_id, _, _ = person_by_pid(op, MALEE_PID)
    before = counts(op)

    through_thaid, _ = thaid_login(op, client, "malee")
    assert through_thaid["sub"] == as_persona["sub"]
    assert through_thaid["acr"] == f"{op.base}/acr/ial-2.3/aal-{CONFIGURED_AAL}"
    linked_id, claims, events = person_by_pid(op, MALEE_PID)
    assert linked_id == malee_id
    assert "oidc:thaid" in [e.source for e in events]
    assert claims["given_name#th"] == "มาลี"
    assert counts(op) == (before[0], before[1] + 1, before[2] + 1)


def test_claims_in_the_id_token_need_no_userinfo(settings: Settings, store: EphemeralStore,
                                                 node: str, tmp_path: Path) -> None:
    with provider_with_thaid(settings, store, node, tmp_path, "claims-in-id-token") as (op, _):
        client = op.register()
        claims, _ = thaid_login(op, client, "somsri")
        assert claims["acr"].endswith(f"/ial-2.3/aal-{CONFIGURED_AAL}")
        _, held, _ = person_by_pid(op, SOMSRI_PID)
        assert held["family_name"] == "Jaidee"


def test_cancelled_at_the_upstream(thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    before = counts(op)
    trip = new_trip(op)
    to_upstream_login(op, trip, client, state="agency-state")
    page = trip.browser.last
    assert page is not None
    abort = next(a for a in _links(page.text) if "/abort" in a)
    resp = trip.go(urljoin(page.url, abort))
    assert resp.status_code == 200, resp.text[:1000]
    assert resp.url.startswith(op.base + CALLBACK)
    assert "access_denied" in resp.text
    assert "ยกเลิก" in resp.text  # Thai by default: "you cancelled"
    assert "/interaction/" in resp.text and "/upstream/thaid" in resp.text  # try again
    assert_nothing_written(op, before)

    # Back to the agency: it learns access_denied, with its state and our iss.
    resp = trip.submit("/abort")
    got = location_params(resp)
    assert got["error"] == "access_denied" and got["state"] == "agency-state"
    assert got["iss"] == op.base
    assert_nothing_written(op, before)


def test_cancelled_page_in_english(thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    trip = new_trip(op)
    to_upstream_login(op, trip, client, ui_locales="en")
    page = trip.browser.last
    assert page is not None
    abort = next(a for a in _links(page.text) if "/abort" in a)
    resp = trip.go(urljoin(page.url, abort))
    assert "You cancelled at ThaID" in resp.text


def test_replayed_state_is_refused(thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    _, trip = thaid_login(op, client, "somsri")
    after_first = counts(op)
    assert len(trip.callbacks) == 1
    resp = trip.go(trip.callbacks[0])
    assert resp.status_code == 400
    assert "invalid_request" in resp.text
    assert_nothing_written(op, after_first)


def test_tampered_state_is_refused_and_the_real_one_still_works(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    before = counts(op)
    trip = new_trip(op)
    to_upstream_login(op, trip, client)
    upstream_login(trip, "somsri", stop_at_callback=True)
    real = trip.callbacks[-1]
    for forged in (_with_param(real, "state", "forged-" + secrets.token_urlsafe(16)),
                   _with_param(real, "state", None)):
        resp = trip.go(forged)
        assert resp.status_code == 400, resp.text[:500]
        assert_nothing_written(op, before)
    resp = past_passkey_offer(trip, trip.go(real))
    assert resp.status_code == 200 and "/consent" in resp.text
    assert counts(op)[1] == before[1] + 1


def test_a_state_begun_in_another_browser_is_refused(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    before = counts(op)
    victim = new_trip(op)
    attacker = new_trip(op)
    to_upstream_login(op, attacker, client)
    upstream_login(attacker, "somsri", stop_at_callback=True)
    resp = victim.go(attacker.callbacks[-1])  # login CSRF: the attacker's answer, our browser
    assert resp.status_code == 400
    assert_nothing_written(op, before)


def test_tampered_code_is_refused_by_the_upstream(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    before = counts(op)
    trip = new_trip(op)
    to_upstream_login(op, trip, client)
    upstream_login(trip, "somsri", stop_at_callback=True)
    resp = trip.go(_with_param(trip.callbacks[-1], "code", "x" + secrets.token_urlsafe(30)))
    assert resp.status_code == 502, resp.text[:500]
    assert "upstream_refused" in resp.text
    assert SOMSRI_PID not in resp.text
    assert_nothing_written(op, before)


def test_no_citizen_id_no_person(thaid: tuple[LiveProvider, Upstream]) -> None:
    op, _ = thaid
    client = op.register()
    before = counts(op)
    trip = new_trip(op)
    to_upstream_login(op, trip, client, ui_locales="en")
    resp = upstream_login(trip, "nopid")
    assert resp.status_code == 403, resp.text[:500]
    assert "did not send your citizen ID" in resp.text
    assert_nothing_written(op, before)


def test_upstream_down_shows_a_page(settings: Settings, store: EphemeralStore, node: str,
                                    tmp_path: Path) -> None:
    with provider_with_thaid(settings, store, node, tmp_path) as (op, upstream):
        client = op.register()
        stop(upstream)
        trip = new_trip(op)
        url, _ = op.auth_url(client)
        trip.go(url)
        resp = trip.submit("/upstream/thaid")
        assert resp.status_code == 502
        assert "upstream_unavailable" in resp.text


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def _with_param(url: str, name: str, value: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if value is None:
        query.pop(name, None)
    else:
        query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_linked_account_sending_another_citizen_id_is_refused(
        thaid: tuple[LiveProvider, Upstream]) -> None:
    """The upstream account "somsri" is already linked to malee's person (as if its citizen ID
    had changed): we refuse rather than merge two people, and write nothing."""
    op, _ = thaid
    client = op.register()
    browser = Browser(op.base)
    op.login(browser, client, persona="malee")
    malee_id, _, _ = person_by_pid(op, MALEE_PID)
    p = op.app.extensions["idp"]
    with p.db.session() as s:
        persons.add_link(s, "thaid", "somsri", malee_id)
    before = counts(op)
    trip = new_trip(op)
    to_upstream_login(op, trip, client, ui_locales="en")
    resp = upstream_login(trip, "somsri")
    assert resp.status_code == 409, resp.text[:500]
    assert "does not match the account already linked" in resp.text
    assert SOMSRI_PID not in resp.text and MALEE_PID not in resp.text
    assert_nothing_written(op, before)
    with p.db.session() as s:
        assert persons.find_by_identifier(s, p.identifiers, TH_CITIZEN_ID, SOMSRI_PID) is None
