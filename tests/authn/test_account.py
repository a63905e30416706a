"""The account page (`/account`) and recovery, over real HTTP: the four sections show this
person's data and nothing of anyone else's; passkeys are renamed and removed from it; withdrawing
an agency there revokes its refresh token; activity is the person's own, newest first, a page at
a time, in words; proofing lists source, level, date and expiry. Recovery: a person who lost
their passkey proves again through NDID, registers a new one and removes the old; a session
weaker than the account's strongest passkey, or too old, cannot add one. `/account/login` logs in
to the page itself. Runs on SQLite + in-process store and on PostgreSQL + Redis."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from idp import audit, persons
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.views import person_for_persona
from idp.db import AuditEvent, Authenticator, Person, utcnow
from idp.i18n import THAILAND_TIME
from idp.settings import Settings
from idp.store import EphemeralStore
from kyc.proofing import ProofingEvent, id_card_chip_evidence, ndid_bank_evidence
from sandbox.personas import get_persona
from tests.federation.test_ndid_login import (
    BANK_A,
    BANK_B,
    CITIZEN_ID,
    approve_at_bank,
    bank_ids,
    enter_id,
    is_waiting,
    wait_for_end,
)
from tests.support.authenticator import SoftAuthenticator
from tests.support.live import Browser, LiveProvider, forms_of, location_params, serve
from tests.support.ndid import NdidNode, ndid_node  # noqa: F401 (fixture)

SOMCHAI_ID = "1345951597671"  # the sandbox persona's citizen ID: never on the page

# --- helpers ---------------------------------------------------------------------------------


def attr(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, f"no {name} on page:\n{html[:3000]}"
    return unescape(found[1])


def visible(html: str) -> str:
    """The text a person reads: the <main> part, tags and attributes removed."""
    main = html.split("<main", 1)[-1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def post_json(browser: Browser, url: str, body: dict[str, Any], csrf: str,
              ) -> requests.Response:
    return browser.http.post(browser.base + url, json=body, timeout=10, allow_redirects=False,
                             headers={"Accept": "application/json", "X-CSRF-Token": csrf})


def device(lp: LiveProvider, **kw: Any) -> SoftAuthenticator:
    return SoftAuthenticator(origin=lp.base, rp_id="127.0.0.1", **kw)


def account(browser: Browser, lang: str = "en", **params: str) -> requests.Response:
    query = "&".join(f"{k}={v}" for k, v in {"lang": lang, **params}.items())
    return browser.go(f"/account?{query}")


def persona_login(browser: Browser, persona: str) -> requests.Response:
    """Log in to the account page itself as a sandbox persona."""
    page = browser.go("/account/login")
    assert page.status_code == 200 and "/interaction/" in page.url
    return browser.submit("/login", persona=persona)


def register_here(browser: Browser, key: SoftAuthenticator, name: str | None = None,
                  ) -> requests.Response:
    """Add a passkey from the account page, as its script does."""
    page = account(browser)
    options_url, verify_url = attr(page.text, "data-options-url"), attr(page.text,
                                                                          "data-verify-url")
    csrf = attr(page.text, "data-csrf")
    resp = post_json(browser, options_url, {}, csrf)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = {"credential": key.create(resp.json()["publicKey"])}
    if name:
        body["name"] = name
    return post_json(browser, verify_url, body, csrf)


def options_refusal(browser: Browser) -> requests.Response:
    """Ask for registration options directly (as a script would, whatever the page says)."""
    return post_json(browser, "/account/passkeys/options", {}, csrf_of(browser))


def csrf_of(browser: Browser) -> str:
    """The browser's CSRF token (from the login page, which always carries it; opening it
    changes nothing until a method is chosen)."""
    return attr(browser.go("/account/login").text, "data-csrf")


def follow_json(browser: Browser, resp: requests.Response) -> requests.Response:
    assert resp.status_code == 200, resp.text
    return browser.go(resp.json()["redirect"])


def passkey_login(lp: LiveProvider, client: dict[str, Any], key: SoftAuthenticator,
                  ) -> requests.Response:
    """A fresh browser logs in to an agency with the passkey alone; the verify answer."""
    browser = Browser(lp.base)
    url, _ = lp.auth_url(client)
    page = browser.go(url)
    options_url = attr(page.text, "data-options-url")
    csrf = attr(page.text, "data-csrf")
    options = post_json(browser, options_url, {}, csrf).json()["publicKey"]
    return post_json(browser, options_url.replace("/options", "/verify"),
                     {"credential": key.get(options)}, csrf)


def passkey_login_tokens(lp: LiveProvider, client: dict[str, Any], key: SoftAuthenticator,
                         ) -> dict[str, Any]:
    browser = Browser(lp.base)
    url, verifier = lp.auth_url(client)
    page = browser.go(url)
    options_url, csrf = attr(page.text, "data-options-url"), attr(page.text, "data-csrf")
    options = post_json(browser, options_url, {}, csrf).json()["publicKey"]
    resp = post_json(browser, options_url.replace("/options", "/verify"),
                     {"credential": key.get(options)}, csrf)
    assert resp.status_code == 200, resp.text
    page = browser.go(resp.json()["redirect"])
    if page.status_code == 200 and "/consent" in page.text:
        page = browser.submit("/consent", decision="allow")
    got = location_params(page)
    tokens = lp.token(client, grant_type="authorization_code", code=got["code"],
                      redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert tokens.status_code == 200, tokens.text
    return dict(tokens.json())


def person_id_of(lp: LiveProvider, persona: str) -> str:
    found = get_persona(persona)
    assert found is not None
    return person_for_persona(lp.app.extensions["idp"], found)


def stored(lp: LiveProvider) -> list[Authenticator]:
    with lp.app.extensions["idp"].db.session() as s:
        return list(s.scalars(select(Authenticator).order_by(Authenticator.id)))


def age_session(browser: Browser, store: EphemeralStore, seconds: int) -> None:
    """Make this browser's login `seconds` older (as if the person had been away)."""
    handle = browser.http.cookies.get(sso.COOKIE)
    current = sso.load(store, handle)
    assert handle and current
    current.auth_time -= seconds
    sso.save(store, handle, current, 3600)


def upstreams_file(tmp_path: Path) -> str:
    """One configured upstream, so proofing through it is named as people know it."""
    path = tmp_path / "upstreams.json"
    path.write_text(json.dumps([{
        "name": "thaid", "display_name": {"th": "ไทยดี (ThaID)", "en": "ThaID"},
        "discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration",
        "client_id": "us", "client_secret": "not-used-here", "scopes": ["openid"],
        "claims": {"pid": "th_citizen_id"}, "aal": "2.2", "evidence": "id_card_chip"}]))
    return str(path)


@pytest.fixture
def lp(settings: Settings, store: EphemeralStore, tmp_path: Path) -> Iterator[LiveProvider]:
    with serve(replace(settings, upstreams_file=upstreams_file(tmp_path)), store) as provider:
        yield provider


# --- logging in to the page ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["th", "en"])
def test_not_logged_in_is_a_401_page_with_a_way_to_log_in(lp: LiveProvider, lang: str) -> None:
    resp = requests.get(f"{lp.base}/account?lang={lang}", timeout=10, allow_redirects=False)
    assert resp.status_code == 401
    assert "Location" not in resp.headers
    assert f'<html lang="{lang}">' in resp.text
    assert 'href="/account/login"' in resp.text
    assert ("Log in to see your account" in resp.text) == (lang == "en")
    assert ("เข้าสู่ระบบเพื่อดูบัญชีของคุณ" in resp.text) == (lang == "th")


def test_account_login_ends_back_on_the_account_page_without_a_code(lp: LiveProvider) -> None:
    browser = Browser(lp.base)
    page = browser.go("/account/login?lang=en")
    assert "/interaction/" in page.url
    assert "My Digital ID account" in page.text  # named where an agency would be
    assert 'data-passkey="login"' in page.text  # every login method is offered
    done = browser.submit("/login", persona="somchai")
    assert done.status_code == 200 and urlsplit(done.url).path == "/account"
    assert "Somchai" in done.text
    with lp.app.extensions["idp"].db.session() as s:
        [login] = s.scalars(select(AuditEvent).where(AuditEvent.type == "login.success"))
        assert login.client_id == flow.ACCOUNT_CLIENT_ID
    assert "Logged in to your account page with a sandbox test persona" in visible(done.text)
    # the same session then serves agencies (single sign-on): straight to consent
    client = lp.register()
    got, _ = lp.login(browser, client)  # no login page: the session is used
    assert "code" in got


def test_cancelling_the_account_login_does_not_loop(lp: LiveProvider) -> None:
    browser = Browser(lp.base)
    page = browser.go("/account/login?lang=en")
    assert "Back to My Digital ID account" in page.text
    back = browser.submit("/abort", reason="cancel")
    assert back.status_code == 401 and urlsplit(back.url).path == "/account"
    assert 'href="/account/login"' in back.text


def test_no_agency_can_use_the_account_client_id(lp: LiveProvider) -> None:
    url, _ = lp.auth_url({"client_id": flow.ACCOUNT_CLIENT_ID, "redirect_uri": "/account"})
    resp = requests.get(url, timeout=10, allow_redirects=False)
    assert resp.status_code == 400 and "Location" not in resp.headers


# --- the four sections -----------------------------------------------------------------------


def test_the_sections_show_this_persons_data_and_nothing_of_anothers(lp: LiveProvider) -> None:
    mine = lp.register(**{"client_name#en": "Revenue Department"})
    theirs = lp.register(**{"client_name#en": "Land Department"})
    somchai, wichai = Browser(lp.base), Browser(lp.base)
    lp.code_flow(somchai, mine, "somchai", scope="openid profile")
    assert register_here(somchai, device(lp), name="Somchai phone").status_code == 200
    lp.code_flow(wichai, theirs, "wichai", scope="openid email")
    assert register_here(wichai, device(lp), name="Wichai key").status_code == 200

    page = account(somchai)
    assert page.status_code == 200
    text = visible(page.text)
    # passkeys
    assert "Somchai phone" in text and "Passkey · Login level AAL 2.2" in text
    assert "Not used yet" in text
    # consents: the agency and exactly what it receives, with its withdraw form
    assert "Revenue Department" in text and "Your name, date of birth and gender" in text
    assert f'action="/consents/{mine["client_id"]}/withdraw"' in page.text
    # activity, in words
    assert "Allowed Revenue Department to receive your information" in text
    assert "Added a passkey (Somchai phone)" in text
    assert "Revenue Department received tokens to use your information" in text
    # proofing
    assert "Sandbox (a test persona, not a real proofing)" in text and "IAL 2.3" in text
    # and nothing of wichai's
    for other in ("Land Department", "Wichai", "วิชัย", "Wichai key", theirs["client_id"]):
        assert other not in page.text, other
    # no raw identifiers in what a person reads: no ids, no citizen ID, no client id
    somchai_id = person_id_of(lp, "somchai")
    for raw in (somchai_id, SOMCHAI_ID, mine["client_id"], flow.ACCOUNT_CLIENT_ID):
        assert raw not in text, raw
    assert SOMCHAI_ID not in page.text and somchai_id not in page.text


def test_rename_and_remove_from_the_account_page(lp: LiveProvider) -> None:
    browser = Browser(lp.base)
    persona_login(browser, "somchai")
    assert register_here(browser, device(lp)).status_code == 200
    [row] = stored(lp)
    page = account(browser)
    # the only passkey: removing it is allowed, and warned about
    assert "This is your only passkey" in page.text
    assert 'aria-describedby="passkey-remove-help passkey-last-warning"' in page.text
    renamed = browser.submit(f"/account/passkeys/{row.id}/rename", name="  My   phone ")
    assert urlsplit(renamed.url).path == "/account" and "renamed=1" in renamed.url
    assert "The passkey was renamed." in renamed.text and "My phone" in renamed.text
    bad = browser.submit(f"/account/passkeys/{row.id}/rename", name="")
    assert urlsplit(bad.url).path == "/account"
    assert "1 to 100 characters" in bad.text and stored(lp)[0].name == "My phone"

    assert register_here(browser, device(lp), name="Laptop").status_code == 200
    page = account(browser)
    assert "This is your only passkey" not in page.text
    removed = browser.submit(f"/account/passkeys/{row.id}/remove")
    assert urlsplit(removed.url).path == "/account" and "removed=1" in removed.url
    assert [r.name for r in stored(lp)] == ["Laptop"]
    text = visible(removed.text)
    assert "Removed a passkey (Passkey)" in text  # named by kind: it is gone
    assert "Renamed a passkey (My phone)" not in text  # the row is gone, so by kind too
    assert "Added a passkey (Laptop)" in text
    # the last one goes too: allowed
    [last] = stored(lp)
    account(browser)
    browser.submit(f"/account/passkeys/{last.id}/remove")
    assert stored(lp) == []
    assert "You have no passkeys yet." in account(browser).text


def test_withdrawing_on_the_account_page_revokes_the_agencys_refresh_token(
        lp: LiveProvider) -> None:
    client = lp.register(**{"client_name#en": "Revenue Department"})
    browser = Browser(lp.base)
    tokens = lp.code_flow(browser, client, "somchai", scope="openid profile offline_access")
    refresh = lp.token(client, grant_type="refresh_token",
                       refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 200
    page = account(browser)
    [form] = [f for f in forms_of(page.text) if f["action"].endswith("/withdraw")]
    assert form["action"] == f"/consents/{client['client_id']}/withdraw"
    assert form["fields"]["return_to"] == "account"
    done = browser.submit("/withdraw")
    assert urlsplit(done.url).path == "/account" and "withdrawn=1" in done.url
    assert "Consent withdrawn" in done.text
    assert f"/consents/{client['client_id']}/withdraw" not in done.text
    assert "Withdrew your consent from Revenue Department; its tokens were revoked" in \
        visible(done.text)
    again = lp.token(client, grant_type="refresh_token",
                     refresh_token=refresh.json()["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_activity_is_the_persons_own_newest_first_a_page_at_a_time(lp: LiveProvider) -> None:
    browser = Browser(lp.base)
    persona_login(browser, "somchai")
    other = Browser(lp.base)
    persona_login(other, "wichai")
    somchai, wichai = person_id_of(lp, "somchai"), person_id_of(lp, "wichai")
    with lp.app.extensions["idp"].db.session() as s:
        for n in range(1, 26):
            audit.record(s, f"test.e{n:02d}", person_id=somchai)
            audit.record(s, "test.theirs", person_id=wichai)
        audit.record(s, "test.nobody")  # an event of no one
    first = account(browser)
    events = re.findall(r'data-event="([a-z0-9_.]+)"', first.text)
    assert events == [f"test.e{n:02d}" for n in range(25, 5, -1)]
    assert "Other activity (test.e25)" in visible(first.text)
    assert 'href="/account?page=2#activity"' in first.text
    assert "Newer activity" not in first.text
    second = account(browser, page="2")
    events = re.findall(r'data-event="([a-z0-9_.]+)"', second.text)
    assert events == [f"test.e{n:02d}" for n in range(5, 0, -1)] + ["login.success"]
    assert 'href="/account?page=1#activity"' in second.text
    assert "Older activity" not in second.text
    for page in (first, second):
        assert "test.theirs" not in page.text and "test.nobody" not in page.text
    for bad in ("0", "x", "1001", "99999", "-1"):
        resp = account(browser, page=bad)
        assert resp.status_code == 400, bad
        assert "activity pages are numbered 1 to 1000" in resp.text
    times = re.findall(r'<time datetime="([^"]+)">', first.text)
    assert times == sorted(times, reverse=True)


def test_proofing_lists_source_level_date_and_expiry(lp: LiveProvider) -> None:
    browser = Browser(lp.base)
    persona_login(browser, "somchai")
    somchai = person_id_of(lp, "somchai")
    now = utcnow()
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    p = lp.app.extensions["idp"]
    with p.db.session() as s:
        persons.record_proofing(s, p.identifiers, ProofingEvent(
            person_id=somchai, source="ndid", ial=Decimal("2.1"), aal=Decimal("2.1"),
            evidence=[ndid_bank_evidence("Sandbox Bank B", "sandbox_bank_b", "req-1", old)],
            claims={}, verification_process="req-1", time=old,
            expires_at=old + timedelta(days=365)))
        persons.record_proofing(s, p.identifiers, ProofingEvent(
            person_id=somchai, source="oidc:thaid", ial=Decimal("2.3"), aal=Decimal("2.2"),
            evidence=[id_card_chip_evidence(recent)], claims={},
            verification_process="ref-1", time=recent, expires_at=recent + timedelta(days=365)))
        audit.record(s, "ndid.accepted", person_id=somchai, request_id="req-1",
                     bank="sandbox_bank_b", ial="2.1", aal="2.1")
        audit.record(s, "upstream.accepted", person_id=somchai, source="oidc:thaid",
                     ial="2.3", aal="2.2")
    page = account(browser)
    section = page.text.split('id="proofing"', 1)[1]
    items = re.findall(r'<li data-ial="([^"]+)" data-expired="(yes|no)"', section)
    assert items == [("2.3", "no"), ("2.3", "no"), ("2.1", "yes")]  # newest first
    text = visible(section)
    assert "Bank over NDID (Sandbox Bank B)" in text
    assert "ThaID (identity provider)" in text
    assert "ID card chip read, card checked with DOPA, face compared" in text
    assert f"Proven on {old.astimezone(THAILAND_TIME):%Y-%m-%d}" in text
    assert f"Expired on {(old + timedelta(days=365)).astimezone(THAILAND_TIME):%Y-%m-%d}" in text
    assert f"Valid until {(recent + timedelta(days=365)).astimezone(THAILAND_TIME):%Y-%m-%d}" \
        in text
    # the level now: the newest of the highest unexpired (the sandbox event of this login)
    current = [visible("<" + item) for item in section.split("<li ")[1:]
               if "Your level now" in item]
    assert len(current) == 1 and current[0].startswith("Sandbox")
    assert "Expired" in visible("<" + section.split("<li ")[3])
    activity = visible(page.text.split('id="activity"', 1)[1].split('id="proofing"', 1)[0])
    assert "Proved your identity through Sandbox Bank B over NDID (IAL 2.1)" in activity
    assert "Proved your identity through ThaID (IAL 2.3)" in activity
    thai = visible(account(browser, lang="th").text)
    assert "ธนาคารผ่าน NDID (Sandbox Bank B)" in thai and "ไทยดี (ThaID)" in thai


# --- who may add a passkey: the recovery rule ------------------------------------------------


def test_a_session_weaker_than_the_strongest_passkey_cannot_add_one(lp: LiveProvider) -> None:
    first = Browser(lp.base)
    persona_login(first, "boonmee")  # AAL 2.1, IAL 2.3, no passkey yet: may add the first
    key = device(lp)
    assert register_here(first, key).status_code == 200

    later = Browser(lp.base)
    persona_login(later, "boonmee")  # AAL 2.1 again, now holding a 2.2 passkey
    page = account(later)
    assert 'data-passkey="register"' not in page.text
    assert 'data-refusal="passkey_session_too_weak"' in page.text
    assert "weaker way than your strongest passkey (AAL 2.2)" in page.text
    assert 'href="/account/login"' in page.text
    refused = options_refusal(later)
    assert refused.status_code == 403
    assert refused.json()["error"] == "passkey_session_too_weak"
    assert "AAL 2.2" in refused.json()["message"]
    resp = post_json(later, "/account/passkeys/verify?return=account", {"credential": {}},
                     csrf_of(later))
    assert resp.status_code == 403

    # logging in again with the passkey itself is strong enough
    relogin = later.go("/account/login")
    csrf, options_url = attr(relogin.text, "data-csrf"), attr(relogin.text, "data-options-url")
    options = post_json(later, options_url, {}, csrf).json()["publicKey"]
    done = follow_json(later, post_json(later, options_url.replace("/options", "/verify"),
                                        {"credential": key.get(options)}, csrf))
    assert urlsplit(done.url).path == "/account" and 'data-passkey="register"' in done.text
    assert register_here(later, device(lp)).status_code == 200
    assert len(stored(lp)) == 2


def test_adding_a_passkey_needs_a_recent_login(lp: LiveProvider, store: EphemeralStore) -> None:
    browser = Browser(lp.base)
    persona_login(browser, "somchai")
    age_session(browser, store, passkeys.REGISTRATION_MAX_AGE + 60)
    page = account(browser)
    assert 'data-refusal="passkey_login_again"' in page.text
    assert "within 10 minutes of logging in" in page.text
    assert 'href="/account/login"' in page.text
    refused = options_refusal(browser)
    assert (refused.status_code, refused.json()["error"]) == (403, "passkey_login_again")
    persona_login(browser, "somchai")  # logging in again gives a fresh session
    assert register_here(browser, device(lp)).status_code == 200


def test_an_unproven_person_is_told_to_prove_first(lp: LiveProvider) -> None:
    browser = Browser(lp.base)
    persona_login(browser, "malee")  # IAL 1.1
    page = account(browser)
    assert 'data-refusal="passkey_ial_too_low"' in page.text
    assert "IAL 2.1" in page.text and "IAL 1.1" in page.text
    assert "Your identity has not been proven yet" in page.text


@pytest.mark.parametrize(("case", "expected"), [
    # person IAL, session AAL, IAL this login proved, passkeys held, age: refusal
    (("2.3", "2.2", None, ["2.2"], 0), None),
    (("2.3", "2.1", None, [], 0), None),  # no passkey yet: any login of a proven person
    (("2.3", "2.1", None, ["2.2"], 0), "passkey_session_too_weak"),
    (("2.3", "2.2", None, ["2.2", "3"], 0), "passkey_session_too_weak"),
    (("2.3", "3", None, ["2.2", "3"], 0), None),
    (("2.3", "2.1", "2.3", ["3"], 0), None),  # proven again at the account's level: recovery
    (("2.3", "2.1", "2.1", ["2.2"], 0), "passkey_session_too_weak"),  # proven lower: no
    (("3", "2.2", "2.3", ["2.2"], 0), None),  # the session's AAL still reaches the passkeys
    (("2.3", "2.2", "2.3", ["2.2"], 601), "passkey_login_again"),
    (("1.1", "3", "1.1", [], 0), "passkey_ial_too_low"),
])
def test_the_registration_rule(case: tuple[Any, ...], expected: str | None) -> None:
    person_ial, session_aal, proofed, held, age = case
    refusal = passkeys.registration_refusal(
        person_ial=Decimal(person_ial), session_aal=Decimal(session_aal),
        proofing_ial=Decimal(proofed) if proofed else None,
        held=[Decimal(h) for h in held], age=age)
    assert (refusal.code if refusal else None) == expected


def test_only_the_proofing_a_login_just_made_counts(lp: LiveProvider) -> None:
    p = lp.app.extensions["idp"]
    somchai = person_id_of(lp, "somchai")  # also holds a sandbox event
    now = utcnow()
    with p.db.session() as s:
        persons.record_proofing(s, p.identifiers, ProofingEvent(
            person_id=somchai, source="oidc:thaid", ial=Decimal("2.3"), aal=Decimal("2.2"),
            evidence=[], claims={}, verification_process="ref-2", time=now))
    later = now + timedelta(seconds=passkeys.PROOFING_LOGIN_WINDOW + 5)
    with p.db.session() as s:
        assert passkeys.login_proofing_ial(s, somchai, "oidc:thaid") == Decimal("2.3")
        assert passkeys.login_proofing_ial(s, somchai, "ndid") is None  # no NDID event
        assert passkeys.login_proofing_ial(s, somchai, "passkey") is None  # not proofing
        assert passkeys.login_proofing_ial(s, somchai, "sandbox_persona") is None
        assert passkeys.login_proofing_ial(s, somchai, "oidc:thaid", now=later) is None


# --- recovery through NDID -------------------------------------------------------------------


@pytest.fixture
def ndid_lp(settings: Settings, store: EphemeralStore,
            ndid_node: Callable[..., NdidNode],  # noqa: F811
            ) -> Iterator[tuple[LiveProvider, NdidNode]]:
    node = ndid_node()
    with serve(node.settings(settings), store) as provider:
        yield provider, node


def ndid_account_login(browser: Browser, node: NdidNode, bank: str) -> requests.Response:
    """Log in to the account page by proving identity through `bank` over NDID."""
    page = browser.go("/account/login?lang=en")
    interaction_id = urlsplit(page.url).path.split("/")[2]
    banks = enter_id(browser, interaction_id, CITIZEN_ID)
    assert bank in bank_ids(banks), banks.text[:2000]
    assert is_waiting(browser.submit("/ndid/request", bank=bank))
    approve_at_bank(node, bank)
    return wait_for_end(browser, interaction_id)


def test_recovery_a_lost_passkey_is_replaced_after_proving_again_through_ndid(
        ndid_lp: tuple[LiveProvider, NdidNode]) -> None:
    lp, node = ndid_lp
    client = lp.register()
    # First time: proven at Bank B over NDID (IAL 2.1, AAL 2.1), offered a passkey right
    # away, and takes it (AAL 2.2).
    phone = Browser(lp.base)
    offer = ndid_account_login(phone, node, BANK_B)
    assert "/passkey/offer" in offer.url and "My Digital ID account" in offer.text
    prefix = attr(offer.text, "data-options-url").rsplit("/", 1)[0]
    csrf = attr(offer.text, "data-csrf")
    lost = device(lp)
    options = post_json(phone, prefix + "/options", {}, csrf).json()["publicKey"]
    done = follow_json(phone, post_json(phone, prefix + "/verify",
                                        {"credential": lost.create(options)}, csrf))
    assert urlsplit(done.url).path == "/account"
    [old] = stored(lp)

    # The phone is lost. On a new device: prove again through the bank, no passkey at hand.
    # The bank login (AAL 2.1) is weaker than the lost passkey (AAL 2.2), but it proved the
    # person again at the level the account holds (IAL 2.1): that is recovery.
    laptop = Browser(lp.base)
    page = ndid_account_login(laptop, node, BANK_B)
    assert urlsplit(page.url).path == "/account"  # no offer: they hold a passkey
    text = visible(page.text)
    assert "This login is at AAL 2.1" in text
    assert "Bank over NDID (Sandbox Bank B)" in text
    assert "Proved your identity through Sandbox Bank B over NDID (IAL 2.1)" in text
    assert 'data-passkey="register"' in page.text
    new = device(lp)
    added = register_here(laptop, new, name="Laptop")
    assert added.status_code == 200 and added.json()["redirect"] == "/account?added=1#passkeys"
    account(laptop)
    removed = laptop.submit(f"/account/passkeys/{old.id}/remove")
    assert "removed=1" in removed.url
    assert [r.name for r in stored(lp)] == ["Laptop"]

    # The new passkey logs in; the lost one no longer does.
    tokens = passkey_login_tokens(lp, client, new)
    assert "id_token" in tokens
    refused = passkey_login(lp, client, lost)
    assert refused.json()["error"] == "passkey_unknown"

    # Later the person is proven to IAL 2.3 at Bank A. From then on a Bank B login (IAL 2.1,
    # AAL 2.1) is weaker than the account on both counts and cannot add a passkey.
    assert 'data-passkey="register"' in ndid_account_login(Browser(lp.base), node, BANK_A).text
    weak = Browser(lp.base)
    page = ndid_account_login(weak, node, BANK_B)
    assert urlsplit(page.url).path == "/account"
    assert 'data-refusal="passkey_session_too_weak"' in page.text
    refused = options_refusal(weak)
    assert (refused.status_code, refused.json()["error"]) == (403, "passkey_session_too_weak")
    assert "IAL 2.3" in refused.json()["message"]
    with lp.app.extensions["idp"].db.session() as s:
        assert len(list(s.scalars(select(Person)))) == 1  # one person throughout


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_page_in_thai_and_english_works_without_script(lp: LiveProvider, lang: str) -> None:
    client = lp.register()
    browser = Browser(lp.base)
    lp.code_flow(browser, client, "somchai", scope="openid profile")
    assert register_here(browser, device(lp)).status_code == 200
    page = account(browser, lang=lang)
    html = page.text
    assert page.status_code == 200 and f'<html lang="{lang}">' in html
    assert "Content-Security-Policy" in page.headers
    # no inline script or style: scripts only as files, styles only from the sheet
    assert not re.search(r"<script(?![^>]*\ssrc=)", html) and "style=" not in html
    assert 'class="skip-link" href="#main"' in html and 'id="main"' in html
    if lang == "th":
        assert "บัญชีของฉัน" in html and "พาสคีย์ของฉัน" in html
        assert "My account" not in html
    else:
        assert "My account" in html and "My passkeys" in html
    # every form posts with the CSRF token; every visible field has a label
    forms = forms_of(html)
    assert forms and all("csrf_token" in f["fields"] for f in forms)
    for field_id in re.findall(r'<input id="([^"]+)"', html):
        assert f'<label for="{field_id}">' in html, field_id
    # the sections, reachable from the page's own links
    for section in ("passkeys", "consents", "activity", "proofing"):
        assert f'id="{section}"' in html and f'href="#{section}"' in html
    # withdraw buttons are real submit buttons in forms to the withdraw route
    assert re.search(r'<form method="post" action="/consents/[^"]+/withdraw">(?:(?!</form>).)*'
                     r'<button type="submit"', html, re.S)
