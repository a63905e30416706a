"""Passkeys over real HTTP, with a software authenticator standing in for browser and device:
registration by proven people only, login with nothing typed, the AAL each kind of
authenticator gives, step-up, the offer after a proofing login, the person's list, and every
refusal (replayed or expired challenge, wrong origin or rp id, no user verification, clones,
rate limits). Runs on SQLite + in-process store and on PostgreSQL + Redis."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Blueprint, request
from sqlalchemy import select

from idp import ratelimit
from idp.authn import flow, passkeys
from idp.authn.views import _load, person_for_persona
from idp.db import AuditEvent, Authenticator
from idp.oidc.tokens import digest
from idp.provider import current_provider
from idp.settings import Settings
from idp.store import EphemeralStore, MemoryStore
from kyc.assurance import aal_for, amr_for
from sandbox.personas import get_persona
from tests.support.authenticator import AttestationCA, SoftAuthenticator, attestation_ca
from tests.support.live import Browser, LiveProvider, location_params, serve
from tests.support.ndid import NdidNode, ndid_node, wait_until  # noqa: F401 (fixture)

# --- helpers ---------------------------------------------------------------------------------


def attr(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, f"no {name} on page:\n{html[:3000]}"
    return unescape(found[1])


def post_json(browser: Browser, url: str, body: dict[str, Any], csrf: str | None,
              ) -> requests.Response:
    headers = {"Accept": "application/json"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return browser.http.post(browser.base + url, json=body, headers=headers, timeout=10,
                             allow_redirects=False)


def id_claims(token_response: dict[str, Any]) -> dict[str, Any]:
    payload = token_response["id_token"].split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def audit_events(lp: LiveProvider, kind: str) -> list[AuditEvent]:
    with lp.app.extensions["idp"].db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.type == kind)))


def stored_authenticators(lp: LiveProvider) -> list[Authenticator]:
    with lp.app.extensions["idp"].db.session() as s:
        return list(s.scalars(select(Authenticator).order_by(Authenticator.id)))


def acr(lp: LiveProvider, ial: str, aal: str) -> str:
    return f"{lp.base}/acr/ial-{ial}/aal-{aal}"


def essential(lp: LiveProvider, ial: str, aal: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True,
                                            "values": [acr(lp, ial, aal)]}}})


def authenticator(lp: LiveProvider, **kw: Any) -> SoftAuthenticator:
    return SoftAuthenticator(origin=lp.base, rp_id="127.0.0.1", **kw)


class Ceremony:
    """A person's browser using passkeys against the live provider."""

    def __init__(self, lp: LiveProvider, browser: Browser | None = None) -> None:
        self.lp = lp
        self.browser = browser or Browser(lp.base)

    # registration from /account/passkeys (needs a session in this browser)
    def account_page(self) -> requests.Response:
        return self.browser.go("/account/passkeys")

    def register_options(self, prefix: str = "/account/passkeys") -> dict[str, Any]:
        page = self.account_page() if prefix == "/account/passkeys" else self.browser.last
        assert page is not None
        resp = post_json(self.browser, prefix + "/options", {}, attr(page.text, "data-csrf"))
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["publicKey"])

    def register_verify(self, credential: dict[str, Any], prefix: str = "/account/passkeys",
                        name: str | None = None) -> requests.Response:
        assert self.browser.last is not None
        body: dict[str, Any] = {"credential": credential}
        if name is not None:
            body["name"] = name
        return post_json(self.browser, prefix + "/verify", body,
                         attr(self.browser.last.text, "data-csrf"))

    def register(self, device: SoftAuthenticator, **create: Any) -> requests.Response:
        options = self.register_options()
        return self.register_verify(device.create(options, **create))

    # login from the login page of an authorization request
    def start(self, client: dict[str, Any], **params: str) -> tuple[str, str]:
        url, verifier = self.lp.auth_url(client, **params)
        page = self.browser.go(url)
        assert 'data-passkey="login"' in page.text, page.text[:2000]
        return attr(page.text, "data-options-url"), verifier

    def login_options(self, options_url: str) -> dict[str, Any]:
        assert self.browser.last is not None
        resp = post_json(self.browser, options_url, {}, attr(self.browser.last.text,
                                                              "data-csrf"))
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["publicKey"])

    def login_verify(self, options_url: str, credential: dict[str, Any],
                     ) -> requests.Response:
        assert self.browser.last is not None
        verify_url = options_url.replace("/options", "/verify")
        return post_json(self.browser, verify_url, {"credential": credential},
                         attr(self.browser.last.text, "data-csrf"))

    def follow(self, resp: requests.Response, consent: bool = True) -> dict[str, str]:
        """Follow a JSON {"redirect"} answer through the provider to the agency."""
        assert resp.status_code == 200, resp.text
        target = resp.json()["redirect"]
        if target.startswith("http") and not target.startswith(self.lp.base):
            return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        page = self.browser.go(target)
        if page.status_code == 200 and "/consent" in page.text and consent:
            page = self.browser.submit("/consent", decision="allow")
        return location_params(page)

    def login(self, client: dict[str, Any], device: SoftAuthenticator, **params: str,
              ) -> tuple[dict[str, str], str]:
        options_url, verifier = self.start(client, **params)
        options = self.login_options(options_url)
        resp = self.login_verify(options_url, device.get(options))
        return self.follow(resp), verifier


def tokens_for(lp: LiveProvider, client: dict[str, Any], got: dict[str, str],
               verifier: str) -> dict[str, Any]:
    assert "code" in got, got
    resp = lp.token(client, grant_type="authorization_code", code=got["code"],
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.fixture
def lp(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(settings, store) as provider:
        yield provider


@pytest.fixture
def client(lp: LiveProvider) -> dict[str, Any]:
    return lp.register()


def registered(lp: LiveProvider, client: dict[str, Any], persona: str = "somchai",
               **device: Any) -> tuple[Ceremony, SoftAuthenticator]:
    """A persona logged in (sandbox) who registered a passkey from their account page."""
    person = Ceremony(lp)
    lp.login(person.browser, client, persona)
    key = authenticator(lp, **device)
    resp = person.register(key)
    assert resp.status_code == 200, resp.text
    assert resp.json()["redirect"] == "/account/passkeys?added=1"
    return person, key


# --- registration and login ------------------------------------------------------------------


def test_a_proven_person_registers_and_then_logs_in_with_the_passkey_alone(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    person, key = registered(lp, client)
    page = person.account_page()
    assert page.status_code == 200
    [row] = stored_authenticators(lp)
    assert (row.method, row.aal, row.backup_eligible, row.backup_state) == \
        ("passkey", "2.2", True, True)
    assert f'data-passkey-id="{row.id}"' in page.text
    assert row.transports == ["hybrid", "internal"]
    assert audit_events(lp, "passkey.registered")[0].data["method"] == "passkey"

    fresh = Ceremony(lp)  # another browser: no session, nothing typed
    options_url, verifier = fresh.start(client)
    options = fresh.login_options(options_url)
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "127.0.0.1"
    got = fresh.follow(fresh.login_verify(options_url, key.get(options)))
    claims = id_claims(tokens_for(lp, client, got, verifier))
    assert claims["acr"] == acr(lp, "2.3", "2.2")
    assert claims["amr"] == ["swk", "user", "mfa"]
    [login] = [e for e in audit_events(lp, "login.success") if e.data["method"] == "passkey"]
    assert login.person_id == row.person_id


def test_registration_options_ask_for_a_discoverable_user_verified_credential(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    person, key = registered(lp, client)
    options = person.register_options()
    selection = options["authenticatorSelection"]
    assert selection["residentKey"] == "required"
    assert selection["userVerification"] == "required"
    assert options["attestation"] == "none"  # no allow list configured
    assert options["rp"]["id"] == "127.0.0.1"
    assert [c["id"] for c in options["excludeCredentials"]] == \
        [passkeys.b64url(key.credentials[0].credential_id)]
    assert options["user"]["name"] in ("สมชาย ใจดี", "Somchai Jaidee")
    assert "1345951597671" not in json.dumps(options)
    # the user handle is the same for every registration of the person, and not their id
    again = person.register_options()
    assert again["user"]["id"] == options["user"]["id"]
    [row] = stored_authenticators(lp)
    assert passkeys.b64url(row.person_id.encode()) != options["user"]["id"]


def test_a_device_bound_passkey_gives_hwk(lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client, backup_eligible=False, backup_state=False)
    [row] = stored_authenticators(lp)
    assert (row.method, row.aal) == ("passkey-device-bound", "2.2")
    got, verifier = Ceremony(lp).login(client, key)
    claims = id_claims(tokens_for(lp, client, got, verifier))
    assert claims["acr"] == acr(lp, "2.3", "2.2")
    assert claims["amr"] == ["hwk", "user", "mfa"]


def test_a_passkey_that_does_not_count_signatures_keeps_working(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client, counting=False)
    for _ in range(2):
        got, _verifier = Ceremony(lp).login(client, key)
        assert "code" in got


def test_user_verification_is_required_to_register(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    person = Ceremony(lp)
    lp.login(person.browser, client, "somchai")
    key = authenticator(lp)
    resp = person.register_verify(key.create(person.register_options(), uv=False))
    assert resp.status_code == 400
    assert resp.json()["error"] == "passkey_uv_required"
    assert stored_authenticators(lp) == []
    [event] = audit_events(lp, "passkey.registration_failed")
    assert event.data["reason"] == "user_verification"


@pytest.mark.parametrize("change", [{"origin": "https://evil.example"},
                                    {"rp_id": "evil.example"}])
def test_registration_from_another_site_is_refused(
        lp: LiveProvider, client: dict[str, Any], change: dict[str, Any]) -> None:
    person = Ceremony(lp)
    lp.login(person.browser, client, "somchai")
    resp = person.register_verify(authenticator(lp).create(person.register_options(),
                                                            **change))
    assert resp.status_code == 400 and resp.json()["error"] == "passkey_invalid"
    assert stored_authenticators(lp) == []


def test_a_person_with_ial_1_1_cannot_register(lp: LiveProvider,
                                               client: dict[str, Any]) -> None:
    person = Ceremony(lp)
    lp.login(person.browser, client, "malee")
    page = person.account_page()
    assert page.status_code == 200
    assert "IAL 2.1" in page.text and 'data-passkey="register"' not in page.text
    person.start(client, prompt="login")  # any page with the session's CSRF token
    assert person.browser.last is not None
    csrf = attr(person.browser.last.text, "data-csrf")
    resp = post_json(person.browser, "/account/passkeys/options", {}, csrf)
    assert resp.status_code == 403
    body = resp.json()
    assert body["error"] == "passkey_ial_too_low"
    assert "IAL 2.1" in body["message"] and "IAL 1.1" in body["message"]
    resp = post_json(person.browser, "/account/passkeys/verify", {"credential": {}}, csrf)
    assert resp.status_code == 403


def test_registration_needs_a_session_and_the_csrf_token(lp: LiveProvider,
                                                         client: dict[str, Any]) -> None:
    nobody = Ceremony(lp)
    assert nobody.account_page().status_code == 401
    person = Ceremony(lp)
    lp.login(person.browser, client, "somchai")
    person.account_page()
    assert post_json(person.browser, "/account/passkeys/options", {}, None).status_code == 400
    assert post_json(person.browser, "/account/passkeys/options", {},
                     "not-the-token").status_code == 400
    # someone else's session cannot finish a ceremony this session started
    options = person.register_options()
    other = Ceremony(lp)
    lp.login(other.browser, client, "wichai")
    other.account_page()
    resp = other.register_verify(authenticator(lp).create(options))
    assert resp.json()["error"] == "passkey_challenge_expired"
    assert stored_authenticators(lp) == []


def test_a_registration_answer_works_once(lp: LiveProvider, client: dict[str, Any]) -> None:
    person = Ceremony(lp)
    lp.login(person.browser, client, "somchai")
    credential = authenticator(lp).create(person.register_options())
    assert person.register_verify(credential).status_code == 200
    person.account_page()
    again = person.register_verify(credential)
    assert again.status_code == 400
    assert again.json()["error"] == "passkey_challenge_expired"
    assert len(stored_authenticators(lp)) == 1


# --- the AAL of security keys ---------------------------------------------------------------


MODEL = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")


@pytest.fixture
def secure_lp(settings: Settings, store: EphemeralStore, tmp_path: Path,
              ) -> Iterator[tuple[LiveProvider, AttestationCA]]:
    ca = attestation_ca(MODEL)
    (tmp_path / "vendor-root.pem").write_bytes(ca.root_pem)
    allow = tmp_path / "allow.json"
    allow.write_text(json.dumps({"security_keys": [
        {"aaguid": str(MODEL), "name": "Test Key 5", "roots": ["vendor-root.pem"]}]}))
    with serve(replace(settings, passkey_allow_list=str(allow)), store) as provider:
        yield provider, ca


def test_an_attested_security_key_from_the_allow_list_reaches_aal_3(
        secure_lp: tuple[LiveProvider, AttestationCA]) -> None:
    lp, ca = secure_lp
    client = lp.register()
    person = Ceremony(lp)
    lp.login(person.browser, client, "wichai")
    options = person.register_options()
    assert options["attestation"] == "direct"
    key = authenticator(lp, aaguid=MODEL, backup_eligible=False, backup_state=False,
                        attestation="packed-full", ca=ca, attachment="cross-platform",
                        transports=["usb", "nfc"])
    resp = person.register_verify(key.create(options), name="My key")
    assert resp.status_code == 200, resp.text
    [row] = stored_authenticators(lp)
    assert (row.method, row.aal, row.aaguid, row.name) == \
        ("security-key", "3", str(MODEL), "My key")
    got, verifier = Ceremony(lp).login(client, key, claims=essential(lp, "3", "3"))
    claims = id_claims(tokens_for(lp, client, got, verifier))
    assert claims["acr"] == acr(lp, "3", "3")
    assert claims["amr"] == ["hwk", "user", "mfa"]


@pytest.mark.parametrize("case", ["self-attestation", "unlisted-model", "other-root",
                                  "backup-eligible", "certificate-for-another-model"])
def test_anything_short_of_a_listed_attestation_stays_at_aal_2_2(
        secure_lp: tuple[LiveProvider, AttestationCA], case: str) -> None:
    lp, ca = secure_lp
    client = lp.register()
    person = Ceremony(lp)
    lp.login(person.browser, client, "wichai")
    device: dict[str, Any] = {"aaguid": MODEL, "backup_eligible": False,
                              "backup_state": False, "attestation": "packed-full", "ca": ca}
    if case == "self-attestation":
        device.update(attestation="packed-self", ca=None)
    elif case == "unlisted-model":
        other = uuid.uuid4()
        device.update(aaguid=other, ca=attestation_ca(other))
    elif case == "other-root":
        device.update(ca=attestation_ca(MODEL))
    elif case == "backup-eligible":
        device.update(backup_eligible=True)
    else:  # a certificate under the listed root, but issued for another model
        device.update(ca=ca.for_model(uuid.uuid4()))
    resp = person.register_verify(authenticator(lp, **device).create(
        person.register_options()))
    assert resp.status_code == 200, resp.text
    [row] = stored_authenticators(lp)
    assert row.aal == "2.2"
    assert row.method == ("passkey" if case == "backup-eligible" else "passkey-device-bound")


def test_a_broken_allow_list_stops_the_start(settings: Settings, store: EphemeralStore,
                                             tmp_path: Path) -> None:
    allow = tmp_path / "allow.json"
    allow.write_text(json.dumps({"security_keys": [{"aaguid": str(MODEL), "roots": []}]}))
    with pytest.raises(passkeys.AllowListError, match="roots"), \
            serve(replace(settings, passkey_allow_list=str(allow)), store):
        pass


@pytest.mark.parametrize(("data", "expected"), [
    ({}, "security_keys"),
    ({"security_keys": [{"aaguid": "nope", "roots": ["x"]}]}, "UUID"),
    ({"security_keys": [{"aaguid": str(uuid.UUID(int=0)), "roots": ["x"]}]}, "all-zero"),
    ({"security_keys": [{"aaguid": str(MODEL), "roots": ["missing.pem"]}]}, "cannot read"),
    ({"security_keys": [{"aaguid": str(MODEL), "roots": ["-----BEGIN junk"]}]},
     "no PEM certificate"),
])
def test_allow_list_problems_are_named(tmp_path: Path, data: Any, expected: str) -> None:
    with pytest.raises(passkeys.AllowListError, match=expected):
        passkeys.parse_allow_list(data, tmp_path)


# --- refusals at login -----------------------------------------------------------------------


def test_a_replayed_assertion_is_refused(lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client)
    person = Ceremony(lp)
    options_url, _ = person.start(lp.register())  # an agency not yet consented to
    assertion = key.get(person.login_options(options_url))
    first = person.login_verify(options_url, assertion)
    assert first.status_code == 200
    # the interaction lives on (the consent page comes next): replay the very same answer
    again = person.login_verify(options_url, assertion)
    assert again.status_code == 400
    assert again.json()["error"] == "passkey_challenge_expired"


def test_an_expired_challenge_is_refused(lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client)
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    options = person.login_options(options_url)
    store = lp.app.extensions["idp"].store
    record_key = "webauthn:" + digest(options["challenge"])
    record = store.get(record_key)
    assert record is not None and record["purpose"] == "login"
    record["expires_at"] -= passkeys.CHALLENGE_TTL + 1
    store.put(record_key, record, 60)
    resp = person.login_verify(options_url, key.get(options))
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "passkey_challenge_expired"
    assert body["message"]


def test_a_challenge_works_only_for_its_own_interaction(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client)
    person = Ceremony(lp)
    first_url, _ = person.start(client)
    options = person.login_options(first_url)
    second_url, _ = person.start(client)
    resp = person.login_verify(second_url, key.get(options))
    assert resp.json()["error"] == "passkey_challenge_expired"


@pytest.mark.parametrize(("change", "error", "reason"), [
    ({"origin": "https://evil.example"}, "passkey_invalid", "origin"),
    ({"origin": "http://127.0.0.1:1"}, "passkey_invalid", "origin"),
    ({"rp_id": "evil.example"}, "passkey_invalid", "rp_id"),
    ({"uv": False}, "passkey_uv_required", "user_verification"),
    ({"up": False}, "passkey_invalid", "user_presence"),
    ({"user_handle": b"someone else"}, "passkey_invalid", "user_handle"),
])
def test_bad_assertions_are_refused_and_audited(
        lp: LiveProvider, client: dict[str, Any], change: dict[str, Any], error: str,
        reason: str) -> None:
    _, key = registered(lp, client)
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    resp = person.login_verify(options_url, key.get(person.login_options(options_url),
                                                     **change))
    assert resp.status_code == 400
    assert resp.json()["error"] == error
    [event] = audit_events(lp, "passkey.login_failed")
    assert event.data["reason"] == reason
    assert event.person_id == stored_authenticators(lp)[0].person_id
    assert "idp_session" not in person.browser.http.cookies


def test_a_cloned_authenticator_is_refused_and_audited(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client)
    stolen = key.clone()
    for _ in range(2):  # the owner logs in twice: the count is now 2
        got, _verifier = Ceremony(lp).login(client, key)
        assert "code" in got
    thief = Ceremony(lp)
    options_url, _ = thief.start(client)
    resp = thief.login_verify(options_url, stolen.get(thief.login_options(options_url)))
    assert resp.status_code == 400
    assert resp.json()["error"] == "passkey_clone_suspected"
    [event] = audit_events(lp, "passkey.clone_suspected")
    assert event.data["reason"] == "sign_count"
    assert stored_authenticators(lp)[0].sign_count == 2


def test_a_device_bound_key_that_turns_backup_eligible_is_refused(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client, backup_eligible=False, backup_state=False)
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    resp = person.login_verify(options_url, key.get(person.login_options(options_url),
                                                    be=True, bs=True))
    assert resp.json()["error"] == "passkey_flags_changed"
    [event] = audit_events(lp, "passkey.clone_suspected")
    assert event.data["reason"] == "backup_eligible_changed"


def test_the_backup_state_is_recorded(lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client, backup_state=False)
    assert stored_authenticators(lp)[0].backup_state is False
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    resp = person.login_verify(options_url, key.get(person.login_options(options_url),
                                                    bs=True))
    assert "code" in person.follow(resp)
    row = stored_authenticators(lp)[0]
    assert row.backup_state is True and row.last_used_at is not None


def test_an_unknown_passkey_is_refused(lp: LiveProvider, client: dict[str, Any]) -> None:
    stranger = authenticator(lp)
    stranger.create({"pubKeyCredParams": [{"alg": -7, "type": "public-key"}],
                     "rp": {"id": "127.0.0.1", "name": "x"},
                     "user": {"id": passkeys.b64url(b"h"), "name": "x"},
                     "challenge": passkeys.b64url(b"c")})
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    resp = person.login_verify(options_url, stranger.get(person.login_options(options_url)))
    assert resp.status_code == 400 and resp.json()["error"] == "passkey_unknown"


@pytest.mark.parametrize("body", [{}, {"credential": "x"}, {"credential": {"id": "!"}},
                                  {"credential": {"id": "abc", "response": {}}}])
def test_malformed_answers_are_refused_without_a_500(
        lp: LiveProvider, client: dict[str, Any], body: dict[str, Any]) -> None:
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    assert person.browser.last is not None
    resp = post_json(person.browser, options_url.replace("/options", "/verify"), body,
                     attr(person.browser.last.text, "data-csrf"))
    assert resp.status_code == 400
    assert resp.json()["error"] == "passkey_bad_request"


def test_login_options_need_the_csrf_token(lp: LiveProvider, client: dict[str, Any]) -> None:
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    assert post_json(person.browser, options_url, {}, None).status_code == 400
    assert post_json(person.browser, options_url, {}, "forged").status_code == 400


# --- rate limits ------------------------------------------------------------------------------


def test_attempts_per_address_are_limited(lp: LiveProvider, client: dict[str, Any]) -> None:
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    verify_url = options_url.replace("/options", "/verify")
    assert person.browser.last is not None
    csrf = attr(person.browser.last.text, "data-csrf")
    limit = ratelimit.PASSKEY_LOGIN_PER_ADDRESS.limit
    statuses = [post_json(person.browser, verify_url, {}, csrf).status_code
                for _ in range(limit)]
    assert set(statuses) == {400}
    over = post_json(person.browser, verify_url, {}, csrf)
    assert over.status_code == 429
    assert 0 < int(over.headers["Retry-After"]) <= ratelimit.PASSKEY_LOGIN_PER_ADDRESS.window
    assert over.json()["error"] == "too_many_requests"
    assert "wait" in over.json()["error_description"]
    page = person.browser.http.post(lp.base + verify_url, headers={"Accept": "text/html"},
                                    timeout=10)
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "รอประมาณ" in page.text or "wait about" in page.text


def test_attempts_per_account_are_limited(lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client)
    person = Ceremony(lp)
    options_url, _ = person.start(client)
    for _ in range(ratelimit.PASSKEY_LOGIN_PER_ACCOUNT.limit):
        resp = person.login_verify(options_url,
                                   key.get(person.login_options(options_url), uv=False))
        assert resp.json()["error"] == "passkey_uv_required"
    # now even a good answer for this person waits, with a message saying how long
    resp = person.login_verify(options_url, key.get(person.login_options(options_url)))
    assert resp.status_code == 429
    assert resp.headers["Retry-After"].isdigit()
    assert resp.json()["message"]


def test_fixed_windows_count_and_reset() -> None:
    store = MemoryStore()
    limit = ratelimit.Limit("test", 3, 60)
    secret = ratelimit.limiter_key("k")
    assert [ratelimit.hit(store, secret, limit, "10.0.0.1", now=120.0)
            for _ in range(3)] == [None] * 3
    assert ratelimit.hit(store, secret, limit, "10.0.0.1", now=150.0) == 30
    assert ratelimit.hit(store, secret, limit, "10.0.0.2", now=150.0) is None
    assert ratelimit.hit(store, secret, limit, "10.0.0.1", now=180.0) is None
    # who is counted never appears in clear in a key
    assert not [k for k in store._data if "10.0.0" in k]


# --- step-up -----------------------------------------------------------------------------------


def test_step_up_from_a_weaker_session_to_the_passkey(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    person, key = registered(lp, client, persona="boonmee")  # persona login: AAL 2.1
    options_url, verifier = person.start(client, claims=essential(lp, "2.3", "2.2"))
    page = person.browser.last
    assert page is not None
    # the passkey method comes first on the login page
    assert page.text.index('data-passkey="login"') < page.text.index('name="persona"')
    options = person.login_options(options_url)
    assert [c["id"] for c in options["allowCredentials"]] == \
        [passkeys.b64url(key.credentials[0].credential_id)]
    got = person.follow(person.login_verify(options_url, key.get(options)))
    claims = id_claims(tokens_for(lp, client, got, verifier))
    assert claims["acr"] == acr(lp, "2.3", "2.2")
    assert claims["amr"] == ["swk", "user", "mfa"]


def test_a_passkey_below_the_level_demanded_says_so(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    person, key = registered(lp, client, persona="boonmee")
    options_url, _ = person.start(client, claims=essential(lp, "2.3", "3"))
    options = person.login_options(options_url)
    assert options["allowCredentials"] == []  # none of theirs reaches AAL 3
    resp = person.login_verify(options_url, key.get(options))
    assert resp.status_code == 400
    assert resp.json()["error"] == "passkey_level_too_low_aal"
    assert "AAL 3" in resp.json()["error_description"]


def test_an_identity_level_below_the_one_demanded_says_so(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    _, key = registered(lp, client, persona="john")  # IAL 2.1
    person = Ceremony(lp)
    options_url, _ = person.start(client, claims=essential(lp, "2.3", "2.2"))
    resp = person.login_verify(options_url, key.get(person.login_options(options_url)))
    assert resp.json()["error"] == "passkey_level_too_low_ial"


# --- the offer after a proofing login ----------------------------------------------------------


def proofing_stand_in(lp: LiveProvider) -> None:
    """A stand-in proofing method for these tests (the NDID pages are another module's): it
    proves the sandbox persona named in the form and ends, as NDID does, in complete_login
    with method "ndid". Registered before the app serves its first request."""
    bp = Blueprint("test_proofing", __name__)

    @bp.post("/interaction/<interaction_id>/test-proofing")
    def proof(interaction_id: str) -> Any:
        p = current_provider()
        loaded = _load(p, interaction_id)
        assert loaded is not None
        _, req, client = loaded
        persona = get_persona(request.form["persona"])
        assert persona is not None
        person_id = person_for_persona(p, persona)
        return flow.complete_login(p, interaction_id, req, client, person_id,
                                   Decimal(persona.aal), amr_for("ndid"), "ndid")

    lp.app.register_blueprint(bp)


@pytest.fixture
def proofing_lp(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(settings, store) as provider:
        proofing_stand_in(provider)
        yield provider


def proof(lp: LiveProvider, person: Ceremony, client: dict[str, Any], persona: str,
          **params: str) -> tuple[requests.Response, str]:
    options_url, verifier = person.start(client, **params)
    resp = person.browser.go(options_url.replace("/passkey/options", "/test-proofing"),
                             "POST", {"persona": persona})
    return resp, verifier


def test_after_a_proofing_login_a_passkey_is_offered_and_registered(
        proofing_lp: LiveProvider) -> None:
    lp = proofing_lp
    client = lp.register()
    person = Ceremony(lp)
    page, verifier = proof(lp, person, client, "somchai")
    assert page.status_code == 200 and "/passkey/offer" in page.url
    assert 'data-passkey="register"' in page.text
    assert "/passkey/continue" in page.text  # "Not now" is a plain form
    prefix = attr(page.text, "data-options-url").rsplit("/", 1)[0]
    options = person.register_options(prefix)
    key = authenticator(lp)
    resp = person.register_verify(key.create(options), prefix)
    assert resp.status_code == 200, resp.text
    got = person.follow(resp)
    tokens_for(lp, client, got, verifier)
    [row] = stored_authenticators(lp)
    assert row.method == "passkey"
    [event] = audit_events(lp, "passkey.registered")
    assert event.client_id == client["client_id"]
    # next time: the passkey alone
    got, verifier = Ceremony(lp).login(client, key)
    assert id_claims(tokens_for(lp, client, got, verifier))["acr"] == acr(lp, "2.3", "2.2")


def test_not_now_continues_the_request(proofing_lp: LiveProvider) -> None:
    lp = proofing_lp
    client = lp.register()
    person = Ceremony(lp)
    page, verifier = proof(lp, person, client, "somchai")
    assert "/passkey/offer" in page.url
    resp = person.browser.submit("/passkey/continue")
    if resp.status_code == 200 and "/consent" in resp.text:
        resp = person.browser.submit("/consent", decision="allow")
    tokens_for(lp, client, location_params(resp), verifier)
    assert stored_authenticators(lp) == []


def test_no_offer_to_someone_who_has_a_passkey_or_is_not_proven(
        proofing_lp: LiveProvider) -> None:
    lp = proofing_lp
    client = lp.register()
    person = Ceremony(lp)
    lp.login(person.browser, client, "somchai")  # a sandbox login is not a proofing login
    assert person.register(authenticator(lp)).status_code == 200
    page, _ = proof(lp, Ceremony(lp), client, "somchai")
    assert "/passkey/offer" not in page.url
    page, _ = proof(lp, Ceremony(lp), client, "malee")
    assert "/passkey/offer" not in page.url


def test_the_offer_page_needs_its_interaction_and_session(proofing_lp: LiveProvider) -> None:
    lp = proofing_lp
    client = lp.register()
    person = Ceremony(lp)
    page, _ = proof(lp, person, client, "somchai")
    assert Browser(lp.base).go(page.url).status_code == 400
    assert person.browser.go("/interaction/nope/passkey/offer").status_code == 400


def test_the_offer_after_a_real_ndid_login(settings: Settings, store: EphemeralStore,
                                           ndid_node: Callable[..., NdidNode],  # noqa: F811
                                           ) -> None:
    """The same, through the SANDBOX NDID node and its simulated bank app."""
    node = ndid_node()
    with serve(node.settings(settings), store) as lp:
        client = lp.register()
        person = Ceremony(lp)
        options_url, verifier = person.start(client)
        interaction = options_url.split("/")[2]
        person.browser.go(f"/interaction/{interaction}/ndid")
        banks = person.browser.submit(f"/interaction/{interaction}/ndid",
                                      citizen_id="3100600123450")
        bank = re.findall(r'name="bank" value="([^"]+)"', banks.text)[0]
        person.browser.submit("/ndid/request", bank=bank)
        app = Browser(node.base)  # the person approves in the (simulated) bank app
        wait_until(lambda: node.node.pending_for(bank))
        app.go(f"/bank/{bank}")
        app.submit("/requests/", decision="accept")

        def offered() -> requests.Response | None:
            page = person.browser.go(f"/interaction/{interaction}/ndid/wait")
            return page if "/passkey/offer" in page.url else None

        page = wait_until(offered, timeout=10)
        prefix = attr(page.text, "data-options-url").rsplit("/", 1)[0]
        key = authenticator(lp)
        resp = person.register_verify(key.create(person.register_options(prefix)), prefix)
        tokens_for(lp, client, person.follow(resp), verifier)
        got, verifier = Ceremony(lp).login(client, key)
        claims = id_claims(tokens_for(lp, client, got, verifier))
        assert claims["amr"] == ["swk", "user", "mfa"]


# --- the person's passkeys ---------------------------------------------------------------------


def test_rename_and_remove(lp: LiveProvider, client: dict[str, Any]) -> None:
    person, key = registered(lp, client)
    [row] = stored_authenticators(lp)
    person.account_page()
    person.browser.submit(f"/account/passkeys/{row.id}/rename", name="  My   phone ")
    assert "My phone" in person.account_page().text
    assert stored_authenticators(lp)[0].name == "My phone"
    person.browser.submit(f"/account/passkeys/{row.id}/rename", name="")
    assert stored_authenticators(lp)[0].name == "My phone"
    assert person.browser.last is not None
    assert "1 ถึง 100" in person.browser.last.text or "1 to 100" in person.browser.last.text

    other = Ceremony(lp)
    lp.login(other.browser, client, "wichai")
    csrf = attr(other.account_page().text, "data-csrf")
    for action in ("remove", "rename"):
        stolen = other.browser.http.post(f"{lp.base}/account/passkeys/{row.id}/{action}",
                                         data={"csrf_token": csrf, "name": "mine"},
                                         timeout=10, allow_redirects=False)
        assert stolen.status_code == 404
    assert [r.name for r in stored_authenticators(lp)] == ["My phone"]

    person.account_page()
    person.browser.submit(f"/account/passkeys/{row.id}/remove")
    assert stored_authenticators(lp) == []
    assert audit_events(lp, "passkey.removed")
    fresh = Ceremony(lp)
    options_url, _ = fresh.start(client)
    resp = fresh.login_verify(options_url, key.get(fresh.login_options(options_url)))
    assert resp.json()["error"] == "passkey_unknown"


def test_the_login_page_works_without_script_and_has_no_inline_script(
        lp: LiveProvider, client: dict[str, Any]) -> None:
    person = Ceremony(lp)
    person.start(client)
    assert person.browser.last is not None
    html = person.browser.last.text
    assert 'autocomplete="username webauthn"' in html
    assert '<script src="/static/passkey.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<noscript>" in html
    # the passkey button and field are hidden until the script shows them
    assert "data-passkey-ready hidden" in html and "data-passkey-autofill hidden" in html
    js = Browser(lp.base).go("/static/passkey.js")
    assert js.status_code == 200 and 'mediation = mediation' in js.text


def test_passkey_pages_are_in_thai_and_english(lp: LiveProvider, client: dict[str, Any],
                                              ) -> None:
    person, _ = registered(lp, client)
    th = person.browser.go("/account/passkeys?lang=th").text
    en = person.browser.go("/account/passkeys?lang=en").text
    assert "พาสคีย์ของคุณ" in th and "Your passkeys" in en


# --- the rules as plain functions ----------------------------------------------------------------


@pytest.mark.parametrize(("issuer", "rp_id", "origin"), [
    ("https://idp.example", "idp.example", "https://idp.example"),
    ("https://idp.example:443/tenant", "idp.example", "https://idp.example"),
    ("https://idp.example:8443", "idp.example", "https://idp.example:8443"),
    ("http://localhost:5000", "localhost", "http://localhost:5000"),
])
def test_the_relying_party_is_the_issuer(issuer: str, rp_id: str, origin: str) -> None:
    rp = passkeys.relying_party(issuer, "Digital ID")
    assert (rp.id, rp.origin) == (rp_id, origin)


@pytest.mark.parametrize(("stored", "new", "ok"), [
    (0, 0, True), (0, 1, True), (5, 6, True), (5, 5, False), (5, 4, False), (5, 0, False),
])
def test_the_sign_count_must_grow_when_either_side_counts(stored: int, new: int,
                                                          ok: bool) -> None:
    if ok:
        passkeys.check_sign_count(stored, new)
    else:
        with pytest.raises(passkeys.PasskeyError) as caught:
            passkeys.check_sign_count(stored, new)
        assert caught.value.audit == "passkey.clone_suspected"


def test_classification_and_levels() -> None:
    model = passkeys.AllowedModel(str(MODEL), "Key", (b"root",))
    assert passkeys.classify(True, None) == "passkey"
    assert passkeys.classify(True, model) == "passkey"
    assert passkeys.classify(False, None) == "passkey-device-bound"
    assert passkeys.classify(False, model) == "security-key"
    assert [str(aal_for(m)) for m in ("passkey", "passkey-device-bound",
                                               "security-key")] == ["2.2", "2.2", "3"]


def test_user_handles_are_stable_per_person_and_keyed() -> None:
    key = passkeys.handle_key("secret")
    assert passkeys.user_handle(key, "p1") == passkeys.user_handle(key, "p1")
    assert passkeys.user_handle(key, "p1") != passkeys.user_handle(key, "p2")
    assert passkeys.user_handle(passkeys.handle_key("other"), "p1") != \
        passkeys.user_handle(key, "p1")
    assert len(passkeys.user_handle(key, "p1")) == 32


@pytest.mark.parametrize(("value", "expected"), [
    ("  My   phone ", "My phone"), ("", None), ("x" * 101, None), ("a\x00b", None),
    (None, None), ("โทรศัพท์ของฉัน", "โทรศัพท์ของฉัน"),
])
def test_passkey_names(value: Any, expected: str | None) -> None:
    assert passkeys.clean_name(value) == expected
