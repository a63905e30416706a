"""Logging in by proving identity through a bank over NDID, end to end over real HTTP: an agency,
the provider, the SANDBOX NDID node (its simulated bank app plays the person), and the node's
callbacks into the provider. Every unhappy path must end on a clear page with no person and no
proofing event created; callbacks that come twice, out of order or early must give exactly one
login; the national ID must never reach a log, a URL, a database column in clear, or the store
in clear."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet

from federation.ndid import CreatedRequest, login_outcome
from idp import ndid
from idp.db import AuditEvent, Base, Identifier, Person, ProofingRecord
from idp.settings import Settings
from idp.store import EphemeralStore, MemoryStore, RedisStore
from kyc.assurance import Assurance
from kyc.thai_id import normalize_thai_id
from tests.support.encryption import encrypted_metadata, encryption_key, is_jwe, open_nested
from tests.support.ida import assert_valid
from tests.support.live import Browser, LiveProvider, forms_of, location_params, serve
from tests.support.ndid import NdidNode, ndid_node, wait_until  # noqa: F401 (fixture)

CITIZEN_ID = "3100600123450"
TYPED_ID = "3-1006-00123-45-0"
BAD_DIGIT_ID = "3100600123451"
MALEE_ID = "1234567890121"
MANUAL_ID = "1101700230708"
ACCEPT_ID = "1999999999018"
REJECT_ID = "1999999999026"
TIMEOUT_ID = "1999999999034"
ERRORED_ID = "1999999999042"
DUPLICATE_REF_ID = "1999999999051"
INVALID_ID_ID = "1999999999069"
DUPLICATE_CB_ID = "1999999999077"
REORDER_CB_ID = "1999999999085"
EARLY_CB_ID = "1999999999093"
NOT_REGISTERED_ID = "1999999999107"
BANK_A, BANK_B, BANK_C = "sandbox_bank_a", "sandbox_bank_b", "sandbox_bank_c"


def test_ids_used_here_are_valid() -> None:
    for number in (CITIZEN_ID, MALEE_ID, MANUAL_ID, ACCEPT_ID, NOT_REGISTERED_ID):
        assert normalize_thai_id(number) == number
    assert normalize_thai_id(TYPED_ID) == CITIZEN_ID
    assert normalize_thai_id(BAD_DIGIT_ID) is None


# --------------------------------------------------------------------------------------------
# Fixtures and steps


@pytest.fixture
def node(ndid_node: Callable[..., NdidNode]) -> NdidNode:  # noqa: F811
    return ndid_node()


@pytest.fixture
def op(settings: Settings, store: EphemeralStore, node: NdidNode) -> Iterator[LiveProvider]:
    with serve(node.settings(settings), store) as live:
        yield live


@pytest.fixture
def browser(op: LiveProvider) -> Browser:
    return Browser(op.base)


def acr(op: LiveProvider, ial: str, aal: str) -> str:
    return f"{op.base}/acr/ial-{ial}/aal-{aal}"


def essential(value: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, "values": [value]}}})


def open_login(op: LiveProvider, browser: Browser, client: dict[str, Any],
               wanted: str | None = None, verified_claims: dict[str, Any] | None = None,
               ) -> tuple[requests.Response, str, str]:
    """The agency sends the person to log in; returns the login page, interaction id and
    PKCE verifier."""
    params = {"claims": essential(wanted)} if wanted else {}
    if verified_claims is not None:
        asked = json.loads(params.get("claims", "{}"))
        asked.setdefault("id_token", {})["verified_claims"] = verified_claims
        params["claims"] = json.dumps(asked)
    url, verifier = op.auth_url(client, **params)
    page = browser.go(url)
    assert page.status_code == 200, page.text[:500]
    interaction_id = urlsplit(page.url).path.split("/")[2]
    return page, interaction_id, verifier


def enter_id(browser: Browser, interaction_id: str, typed: str) -> requests.Response:
    page = browser.go(f"/interaction/{interaction_id}/ndid")
    assert page.status_code == 200
    return browser.submit(f"/interaction/{interaction_id}/ndid", citizen_id=typed)


def bank_ids(page: requests.Response) -> list[str]:
    for form in forms_of(page.text):
        if form["action"].endswith("/ndid/request"):
            return list(form["choices"].get("bank", []))
    return []


def is_waiting(page: requests.Response) -> bool:
    return page.status_code == 200 and "/ndid/cancel" in page.text


def outcome_of(page: requests.Response) -> str | None:
    m = re.search(r'data-ndid-outcome="([a-z_]+)"', page.text)
    return m.group(1) if m else None


def wait_for_end(browser: Browser, interaction_id: str) -> requests.Response:
    """Reload the waiting page (as its Refresh header does) until it is something else."""
    def done() -> requests.Response | None:
        page = browser.go(f"/interaction/{interaction_id}/ndid/wait")
        return None if is_waiting(page) else page
    return wait_until(done, timeout=10)


def approve_at_bank(node: NdidNode, bank: str = BANK_A, decision: str = "accept"
                    ) -> requests.Response:
    """The person, in the (simulated) bank app, approves the waiting request."""
    person = Browser(node.base)
    wait_until(lambda: node.node.pending_for(bank))
    person.go(f"/bank/{bank}")
    return person.submit("/requests/", decision=decision)


def only_request(node: NdidNode) -> Any:
    assert len(node.node.requests) == 1
    return next(iter(node.node.requests.values()))


def finish(op: LiveProvider, browser: Browser, client: dict[str, Any], page: requests.Response,
           verifier: str) -> dict[str, Any]:
    """From the page after login (a passkey offer, consent, or straight to the agency) to
    the tokens."""
    if page.status_code == 200 and "/passkey/continue" in page.text:
        page = browser.submit("/passkey/continue")  # "not now"
    if page.status_code == 200 and "/consent" in page.text:
        page = browser.submit("/consent", decision="allow")
    got = location_params(page)
    assert "code" in got, got
    resp = op.token(client, grant_type="authorization_code", code=got["code"],
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def id_token_claims(op: LiveProvider, token: str) -> dict[str, Any]:
    jwks = KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=5).json())
    return dict(jwt.decode(token, jwks, algorithms=["ES256", "RS256"]).claims)


def counts(op: LiveProvider) -> tuple[int, int, int]:
    """(persons, proofing events, identifiers)."""
    with op.app.extensions["idp"].db.session() as s:
        return (s.scalar(sa.select(sa.func.count()).select_from(Person)) or 0,
                s.scalar(sa.select(sa.func.count()).select_from(ProofingRecord)) or 0,
                s.scalar(sa.select(sa.func.count()).select_from(Identifier)) or 0)


def audit_types(op: LiveProvider) -> list[str]:
    with op.app.extensions["idp"].db.session() as s:
        return list(s.scalars(sa.select(AuditEvent.type).order_by(AuditEvent.seq)))


def every_db_value(op: LiveProvider) -> list[str]:
    out = []
    with op.app.extensions["idp"].db.session() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(sa.select(table)):
                out += [json.dumps(v, default=str) if isinstance(v, dict | list) else str(v)
                        for v in row]
    return out


def every_store_value(store: EphemeralStore) -> list[str]:
    if isinstance(store, MemoryStore):
        with store._lock:
            return [key + " " + raw for key, (_, raw) in store._data.items()]
    assert isinstance(store, RedisStore)
    out = []
    for key in store._r.scan_iter(match=store._p + "*"):
        raw = store._r.get(key)
        out.append(f"{key!r} {raw!r}")
    return out


# --------------------------------------------------------------------------------------------
# The whole journey


def test_full_login_through_ndid_at_ial_2_3(op: LiveProvider, browser: Browser, node: NdidNode,
                                            store: EphemeralStore,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    urls: list[str] = []
    browser.http.hooks["response"].append(lambda r, *a, **k: urls.append(r.url))
    # The national ID travels only encrypted (IDP_NATIONAL_ID_NEEDS_ENCRYPTION): the agency
    # registers its key agreement key and decrypts the ID token with it.
    enc_key = encryption_key()
    client = op.register(**encrypted_metadata(enc_key, id_token=True, userinfo=False))
    citizen_id_claim = f"{op.base}/claims/th_citizen_id"
    login, interaction_id, verifier = open_login(
        op, browser, client, acr(op, "2.3", "2.2"), verified_claims={
            "verification": {"trust_framework": None, "assurance_level": None,
                             "time": None, "evidence": None},
            "claims": {citizen_id_claim: None}})
    assert f"/interaction/{interaction_id}/ndid" in login.text

    banks = enter_id(browser, interaction_id, TYPED_ID)
    assert banks.status_code == 200 and banks.url.endswith("/ndid/banks")
    assert bank_ids(banks) == [BANK_A, BANK_C]  # Bank B proves at most IAL 2.1
    assert "Sandbox Bank A" in banks.text or "ธนาคารทดสอบ เอ" in banks.text
    assert "Sandbox Bank B" not in banks.text and "ธนาคารทดสอบ บี" not in banks.text

    waiting = browser.submit("/ndid/request", bank=BANK_A)
    assert is_waiting(waiting) and waiting.url.endswith("/ndid/wait")
    assert waiting.headers["Refresh"]
    sent = only_request(node)
    assert (sent.mode, sent.idp_id_list, sent.bypass) == (2, [BANK_A], False)
    assert (str(sent.min_ial), str(sent.min_aal), sent.min_idp) == ("2.3", "2.2", 1)
    assert sent.request_timeout == op.settings.ndid_request_timeout
    assert "Test agency" in sent.request_message and "หน่วยงานทดสอบ" in sent.request_message
    assert CITIZEN_ID not in sent.request_message

    assert approve_at_bank(node).status_code == 200
    page = wait_for_end(browser, interaction_id)
    tokens = finish(op, browser, client, page, verifier)
    assert is_jwe(tokens["id_token"]) and CITIZEN_ID not in tokens["id_token"]
    claims = open_nested(tokens["id_token"], enc_key, op.base)
    assert claims["acr"] == acr(op, "2.3", "2.2")
    assert claims["amr"] == ["fed"]
    verified = assert_valid(claims["verified_claims"])
    assert verified["claims"] == {citizen_id_claim: CITIZEN_ID}
    verification = verified["verification"]
    assert verification["trust_framework"] == f"{op.base}/tf/th-digital-id"
    assert verification["assurance_level"] == "2.3"
    [evidence] = verification["evidence"]
    assert evidence["type"] == "electronic_record"
    assert evidence["record"]["type"] == "bank_kyc"
    assert evidence["check_details"][0]["check_id"] == sent.request_id

    with op.app.extensions["idp"].db.session() as s:
        events = list(s.scalars(sa.select(ProofingRecord)))
        assert len(events) == 1
        event = events[0]
        assert (event.source, event.ial, event.aal) == ("ndid", "2.3", "2.2")
        assert event.verification_process == sent.request_id
        assert event.trail["request_id"] == sent.request_id
        assert event.trail["initial_salt"] == sent.initial_salt
        assert event.trail["request_message"] == sent.request_message
        assert event.trail["signature"] and event.trail["block_height"]
        assert (event.trail["idp_id"], event.trail["mode"]) == (BANK_A, 2)
        assert event.evidence[0]["check_details"][0]["check_id"] == sent.request_id
        ident = s.get(Identifier, event.identifier_id)
        assert ident is not None and ident.person_id == event.person_id
        protector = op.app.extensions["idp"].identifiers
        assert ident.lookup_hash == protector.lookup_hash("th_citizen_id", CITIZEN_ID)
        assert protector.unseal("th_citizen_id", ident.sealed) == CITIZEN_ID
    assert counts(op) == (1, 1, 1)
    types = audit_types(op)
    assert types.count("ndid.request_created") == 1 and types.count("ndid.accepted") == 1
    assert types.count("login.success") == 1

    # The number was typed into one form and went to the node; it is nowhere else in clear.
    for value in every_db_value(op):
        assert CITIZEN_ID not in value and TYPED_ID not in value
    for value in every_store_value(store):
        assert CITIZEN_ID not in value
    assert urls and not any(CITIZEN_ID in u for u in urls)
    assert not any(CITIZEN_ID in c.value for c in browser.http.cookies if c.value)
    assert caplog.records
    for record in caplog.records:
        assert CITIZEN_ID not in record.getMessage(), record.name


@pytest.mark.parametrize("mode", [1, 3])
def test_other_modes(settings: Settings, store: EphemeralStore, node: NdidNode,
                     mode: int) -> None:
    with serve(node.settings(settings, ndid_mode=mode), store) as live:
        browser = Browser(live.base)
        tokens, _ = login_by_script(live, browser, ACCEPT_ID)
        assert id_token_claims(live, tokens["id_token"])["acr"] == acr(live, "2.3", "2.2")
        sent = only_request(node)
        assert sent.mode == mode and sent.idp_id_list == [BANK_A]
        assert sent.bypass is False  # mode 1 sends no bypass_identity_check at all
        assert counts(live) == (1, 1, 1)


def test_pages_speak_the_agencys_language_with_no_inline_code(op: LiveProvider,
                                                               browser: Browser,
                                                               node: NdidNode) -> None:
    client = op.register()
    url, _ = op.auth_url(client, ui_locales="en")
    interaction_id = urlsplit(browser.go(url).url).path.split("/")[2]
    form = browser.go(f"/interaction/{interaction_id}/ndid")
    banks = browser.submit(f"/interaction/{interaction_id}/ndid", citizen_id=MANUAL_ID)
    waiting = browser.submit("/ndid/request", bank=BANK_B)  # no level asked: IAL 2.1 will do
    for page, heading in ((form, "Enter your citizen ID number"), (banks, "Choose your bank"),
                          (waiting, "Approve the request in your bank app")):
        assert page.status_code == 200 and heading in page.text
        assert '<html lang="en">' in page.text
        assert "<script" not in page.text and "style=" not in page.text
        assert 'name="csrf_token"' in page.text
    assert "IAL 2.1" in banks.text and bank_ids(banks) == [BANK_A, BANK_B, BANK_C]
    sent = only_request(node)
    assert (str(sent.min_ial), str(sent.min_aal)) == ("2.1", "2.1")


def test_login_page_offers_ndid_only_when_it_is_on(settings: Settings, store: EphemeralStore,
                                                   node: NdidNode) -> None:
    with serve(settings, store) as off:
        client = off.register()
        page, interaction_id, _ = open_login(off, Browser(off.base), client)
        assert f"/interaction/{interaction_id}/ndid" not in page.text
        assert Browser(off.base).go(f"/interaction/{interaction_id}/ndid").status_code == 404
    with serve(node.settings(settings), store) as on:
        client = on.register()
        page, interaction_id, _ = open_login(on, Browser(on.base), client)
        assert f"/interaction/{interaction_id}/ndid" in page.text


# --------------------------------------------------------------------------------------------
# Unhappy paths: the right page, nobody created


def start_at_bank(op: LiveProvider, browser: Browser, citizen_id: str, bank: str = BANK_A
                  ) -> tuple[requests.Response, str]:
    client = op.register()
    _, interaction_id, _ = open_login(op, browser, client, acr(op, "2.3", "2.2"))
    banks = enter_id(browser, interaction_id, citizen_id)
    assert bank in bank_ids(banks), banks.text[:1000]
    return browser.submit("/ndid/request", bank=bank), interaction_id


@pytest.mark.parametrize(("citizen_id", "outcome", "audit_type"), [
    (REJECT_ID, "ndid_rejected", "ndid.rejected"),
    (ERRORED_ID, "ndid_errored", "ndid.errored"),
    (TIMEOUT_ID, "ndid_timed_out", "ndid.timed_out"),
])
def test_bank_outcomes_that_log_nobody_in(op: LiveProvider, browser: Browser, node: NdidNode,
                                          citizen_id: str, outcome: str,
                                          audit_type: str) -> None:
    waiting, interaction_id = start_at_bank(op, browser, citizen_id)
    assert is_waiting(waiting) or outcome_of(waiting) == outcome
    if citizen_id == TIMEOUT_ID:
        node.clock.advance(op.settings.ndid_request_timeout + 1)  # the node's clock, not ours
    page = wait_for_end(browser, interaction_id)
    assert page.status_code == 200
    assert outcome_of(page) == outcome
    # Reloading shows the same page and records the outcome once.
    assert outcome_of(browser.go(f"/interaction/{interaction_id}/ndid/wait")) == outcome
    assert counts(op) == (0, 0, 0)
    assert audit_types(op).count(audit_type) == 1
    assert "login.success" not in audit_types(op)
    if citizen_id == REJECT_ID:
        # The refused request is closed at the node, and another bank can be tried.
        wait_until(lambda: only_request(node).closed)
        assert f"/interaction/{interaction_id}/ndid/banks" in page.text


@pytest.mark.parametrize(("citizen_id", "outcome", "status"), [
    (DUPLICATE_REF_ID, "ndid_duplicate", 409),
    (INVALID_ID_ID, "ndid_invalid_id", 400),
])
def test_create_call_errors(op: LiveProvider, browser: Browser, node: NdidNode,
                            citizen_id: str, outcome: str, status: int) -> None:
    page, _ = start_at_bank(op, browser, citizen_id)
    assert page.status_code == status
    assert outcome_of(page) == outcome
    assert counts(op) == (0, 0, 0)
    assert node.node.requests == {}
    assert "ndid.request_failed" in audit_types(op)


def test_not_registered_anywhere(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    _, interaction_id, _ = open_login(op, browser, client, acr(op, "2.3", "2.2"))
    page = enter_id(browser, interaction_id, NOT_REGISTERED_ID)
    assert page.status_code == 200 and bank_ids(page) == []
    assert outcome_of(page) == "ndid_not_registered"
    assert f"/interaction/{interaction_id}/abort" in page.text
    assert counts(op) == (0, 0, 0)


def test_node_unreachable(settings: Settings, store: EphemeralStore) -> None:
    with serve(replace(settings, ndid_url="http://127.0.0.1:9"), store) as dead:
        browser = Browser(dead.base)
        client = dead.register()
        _, interaction_id, _ = open_login(dead, browser, client)
        page = enter_id(browser, interaction_id, CITIZEN_ID)
        assert page.status_code == 503 and outcome_of(page) == "ndid_unavailable"
        assert counts(dead) == (0, 0, 0)


def test_cancel_closes_the_request_and_returns_to_login(op: LiveProvider, browser: Browser,
                                                        node: NdidNode) -> None:
    waiting, interaction_id = start_at_bank(op, browser, MANUAL_ID)
    assert is_waiting(waiting)
    page = browser.submit("/ndid/cancel")
    assert page.status_code == 200
    assert page.url.endswith(f"/interaction/{interaction_id}")
    assert f"/interaction/{interaction_id}/ndid" in page.text  # the login page again
    wait_until(lambda: only_request(node).closed)
    # Too late for the bank: the request is closed, and nobody is logged in.
    assert node.node.pending_for(BANK_A) == []
    assert browser.go(f"/interaction/{interaction_id}/ndid/wait").url.endswith(
        f"/interaction/{interaction_id}")
    assert counts(op) == (0, 0, 0)
    assert "ndid.cancelled" in audit_types(op)


def test_back_to_the_agency_after_a_refusal_is_access_denied(op: LiveProvider,
                                                              browser: Browser) -> None:
    _, interaction_id = start_at_bank(op, browser, REJECT_ID)
    page = wait_for_end(browser, interaction_id)
    assert outcome_of(page) == "ndid_rejected"
    got = location_params(browser.submit("/abort"))
    assert got["error"] == "access_denied" and got["iss"] == op.base
    assert browser.go(f"/interaction/{interaction_id}").status_code == 400  # it is over


def test_invalid_check_digit_never_reaches_the_node(op: LiveProvider, browser: Browser,
                                                    node: NdidNode) -> None:
    seen: list[str] = []
    app = node.server.app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ.get("PATH_INFO", ""))
        return app(environ, start_response)

    node.server.app = recording
    client = op.register()
    _, interaction_id, _ = open_login(op, browser, client, acr(op, "2.3", "2.2"))
    page = enter_id(browser, interaction_id, BAD_DIGIT_ID)
    assert page.status_code == 400
    assert "check digit" in page.text or "เลขตรวจสอบ" in page.text
    assert 'name="citizen_id"' in page.text
    assert seen == []
    page = enter_id(browser, interaction_id, "12345")
    assert page.status_code == 400 and seen == []
    assert counts(op) == (0, 0, 0)


# --------------------------------------------------------------------------------------------
# Callbacks that come twice, out of order, early; and the endpoint itself


def login_by_script(op: LiveProvider, browser: Browser, citizen_id: str
                    ) -> tuple[dict[str, Any], str]:
    client = op.register()
    _, interaction_id, verifier = open_login(op, browser, client, acr(op, "2.3", "2.2"))
    enter_id(browser, interaction_id, citizen_id)
    page = browser.submit("/ndid/request", bank=BANK_A)
    if is_waiting(page):
        page = wait_for_end(browser, interaction_id)
    return finish(op, browser, client, page, verifier), interaction_id


@pytest.mark.parametrize("citizen_id", [DUPLICATE_CB_ID, REORDER_CB_ID, EARLY_CB_ID])
def test_misdelivered_callbacks_give_one_login(op: LiveProvider, browser: Browser,
                                               node: NdidNode, citizen_id: str) -> None:
    tokens, _ = login_by_script(op, browser, citizen_id)
    assert id_token_claims(op, tokens["id_token"])["acr"] == acr(op, "2.3", "2.2")
    assert counts(op) == (1, 1, 1)
    types = audit_types(op)
    assert types.count("ndid.accepted") == 1 and types.count("login.success") == 1


def test_concurrent_refreshes_complete_once(op: LiveProvider, browser: Browser,
                                            node: NdidNode) -> None:
    waiting, interaction_id = start_at_bank(op, browser, MANUAL_ID)
    assert is_waiting(waiting)
    approve_at_bank(node)
    wait_until(lambda: only_request(node).closed)
    store = op.app.extensions["idp"].store
    attempt_ref = ndid.load_journey(store, interaction_id)
    assert attempt_ref is not None and attempt_ref.attempt
    attempt = ndid.load_attempt(store, attempt_ref.attempt)
    assert attempt is not None
    wait_until(lambda: any(b.get("closed") for b in
                           ndid.stored_callbacks(store, attempt["request_id"])))
    cookies = browser.http.cookies.get_dict()
    answers: list[int] = []

    def refresh() -> None:
        r = requests.get(f"{op.base}/interaction/{interaction_id}/ndid/wait", cookies=cookies,
                         allow_redirects=False, timeout=10)
        answers.append(r.status_code)

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 and all(a in (302, 303) for a in answers), answers
    assert counts(op) == (1, 1, 1)
    types = audit_types(op)
    assert types.count("ndid.accepted") == 1 and types.count("login.success") == 1


def callback_url(op: LiveProvider, token: str | None = None) -> str:
    return f"{op.base}/federation/ndid/callback/{token or ndid.callback_token(op.settings)}"


def test_callback_endpoint_refuses_wrong_token_and_bad_bodies(op: LiveProvider) -> None:
    good = {"node_id": "rp", "type": "request_status", "request_id": "a" * 64,
            "status": "pending", "block_height": "chain:5", "response_list": []}
    wrong = requests.post(callback_url(op, "x" * 64), json=good, timeout=5)
    unknown = requests.post(f"{op.base}/federation/ndid/nothing-here", json=good, timeout=5)
    assert wrong.status_code == 404 == unknown.status_code
    assert wrong.text == unknown.text  # no hint that the path exists
    token = ndid.callback_token(op.settings)
    assert token is not None
    assert requests.post(callback_url(op, token[:-1]), json=good, timeout=5).status_code == 404

    url = callback_url(op)
    bodies: list[bytes] = [
        b"", b"not json", b"[1, 2]", b'"text"', b"{}", b'{"type": "request_status"}',
        json.dumps(dict(good, request_id="")).encode(),
        json.dumps(dict(good, request_id="../../x y")).encode(),
        json.dumps(dict(good, block_height="no-height")).encode(),
        json.dumps(dict(good, status=5)).encode(),
        json.dumps({"type": "create_request_result", "request_id": "b" * 64}).encode(),
        b'{"type": "request_status", "request_id": "' + b"c" * 64 + b'", "x": NaN}',
        b'{"type": "request_status", "request_id": "' + b"c" * 64 + b'", "x": 1e999}',
        b"[" * 5000 + b"]" * 5000,
        b"\xff\xfe{}",
    ]
    for body in bodies:
        resp = requests.post(url, data=body, timeout=5,
                             headers={"Content-Type": "application/json"})
        assert resp.status_code == 400, (body[:40], resp.status_code)
        assert resp.json()["error"] == "invalid_request"
    too_big = requests.post(url, data=b'{"a": "' + b"x" * 200_000 + b'"}', timeout=5,
                            headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    # A request we never made is accepted and ignored; so is a callback type we do not use.
    assert requests.post(url, json=good, timeout=5).status_code == 204
    assert requests.post(url, json=dict(good, type="idp_response"), timeout=5
                         ).status_code == 204
    assert requests.get(url, timeout=5).status_code == 405


def test_replayed_callbacks_change_nothing(op: LiveProvider, browser: Browser,
                                           node: NdidNode) -> None:
    tokens, _ = login_by_script(op, browser, ACCEPT_ID)
    sub = id_token_claims(op, tokens["id_token"])["sub"]
    store = op.app.extensions["idp"].store
    request_id = only_request(node).request_id
    kept = ndid.stored_callbacks(store, request_id)
    assert kept and any(b["type"] == "create_request_result" for b in kept)
    for body in kept + kept:
        assert requests.post(callback_url(op), json=body, timeout=5).status_code == 204
    assert ndid.stored_callbacks(store, request_id) == kept
    assert counts(op) == (1, 1, 1)
    assert audit_types(op).count("ndid.accepted") == 1
    assert sub


# --------------------------------------------------------------------------------------------
# Step-up, and no bank reaching the level


def test_step_up_from_ial_1_1_keeps_the_subject(op: LiveProvider, browser: Browser,
                                                node: NdidNode) -> None:
    client = op.register()
    first = op.code_flow(browser, client, persona="malee")
    before = id_token_claims(op, first["id_token"])
    assert before["acr"] == acr(op, "1.1", "1")

    wanted = acr(op, "2.3", "2.2")
    login, interaction_id, verifier = open_login(op, browser, client, wanted)
    assert f"/interaction/{interaction_id}/ndid" in login.text
    refused = browser.submit("/login", persona="malee")
    assert refused.status_code == 400  # level_too_low: the persona picker cannot step her up

    banks = enter_id(browser, interaction_id, MALEE_ID)
    assert BANK_A in bank_ids(banks)
    waiting = browser.submit("/ndid/request", bank=BANK_A)
    assert is_waiting(waiting)
    approve_at_bank(node)
    tokens = finish(op, browser, client, wait_for_end(browser, interaction_id), verifier)
    after = id_token_claims(op, tokens["id_token"])
    assert after["acr"] == wanted
    assert after["sub"] == before["sub"]
    with op.app.extensions["idp"].db.session() as s:
        malee = s.scalars(sa.select(Person).where(Person.sandbox_persona == "malee")).one()
        sources = sorted(s.scalars(sa.select(ProofingRecord.source).where(
            ProofingRecord.person_id == malee.id)))
        assert "ndid" in sources
        assert s.scalar(sa.select(sa.func.count()).select_from(Person)) == 1


def test_no_bank_reaches_the_level(settings: Settings, store: EphemeralStore,
                                   ndid_node: Callable[..., NdidNode]) -> None:  # noqa: F811
    from sandbox.ndid.node import DEFAULT_BANKS

    node = ndid_node(banks=[b for b in DEFAULT_BANKS if b["node_id"] != BANK_C])
    with serve(node.settings(settings), store) as live:
        browser = Browser(live.base)
        client = live.register()
        _, interaction_id, _ = open_login(live, browser, client, acr(live, "3", "3"))
        page = enter_id(browser, interaction_id, CITIZEN_ID)
        assert page.status_code == 200 and bank_ids(page) == []
        assert outcome_of(page) == "ndid_no_bank" and "IAL 3" in page.text
        got = location_params(browser.submit("/abort"))
        assert got["error"] == "unmet_authentication_requirements"
        assert got["iss"] == live.base and got["state"]
        assert browser.go(f"/interaction/{interaction_id}").status_code == 400
        assert node.node.requests == {}
        assert counts(live) == (0, 0, 0)


def test_abort_needs_a_known_reason_and_csrf(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    _, interaction_id, _ = open_login(op, browser, client)
    assert browser.go(f"/interaction/{interaction_id}/abort", "POST",
                      {"reason": "cancel"}).status_code == 400  # no CSRF token
    page = browser.go(f"/interaction/{interaction_id}/ndid")
    token = forms_of(page.text)[0]["fields"]["csrf_token"]
    assert browser.go(f"/interaction/{interaction_id}/abort", "POST",
                      {"reason": "other", "csrf_token": token}).status_code == 400
    resp = browser.go(f"/interaction/{interaction_id}/abort", "POST",
                      {"reason": "cancel", "csrf_token": token})
    assert resp.status_code == 303
    assert location_params(resp)["error"] == "access_denied"


def test_ndid_pages_need_a_live_interaction(op: LiveProvider, browser: Browser) -> None:
    for path in ("/ndid", "/ndid/banks", "/ndid/wait"):
        assert browser.go(f"/interaction/{'n' * 40}{path}").status_code == 400


# --------------------------------------------------------------------------------------------
# The shared state itself (idp.ndid), without HTTP: early callbacks, racing writers


RID = "f" * 64


def status_body(height: int, status: str = "pending", **extra: Any) -> dict[str, Any]:
    answers = [{"idp_id": BANK_A, "ial": 2.3, "aal": 2.2, "status": "accept", "signature": "s",
                "valid_signature": True, "valid_ial": True}] if status == "completed" else []
    return {"node_id": "rp", "type": "request_status", "request_id": RID, "mode": 2,
            "min_ial": 2.3, "min_aal": 2.2, "status": status, "closed": False,
            "timed_out": False, "block_height": f"chain:{height}", "response_list": answers,
            **extra}


class EarlyNode:
    """A node whose callbacks all arrive before its create call returns, the status first."""

    def __init__(self, settings: Settings, store: EphemeralStore) -> None:
        self.settings, self.store = settings, store

    def create_request(self, namespace: str, identifier: str, **kw: Any) -> CreatedRequest:
        assert ndid.receive_callback(self.settings, self.store, status_body(7)) == "stored"
        created = {"node_id": "rp", "type": "create_request_result", "success": True,
                   "reference_id": kw["reference_id"], "request_id": RID,
                   "creation_block_height": "chain:7"}
        assert ndid.receive_callback(self.settings, self.store, created) == "stored"
        return CreatedRequest(RID, "salt")


def begin(settings: Settings, store: EphemeralStore) -> str:
    return ndid.start_request(
        settings, store, EarlyNode(settings, store),  # type: ignore[arg-type]
        interaction_id="i" * 43, citizen_id=MANUAL_ID,
        bank={"node_id": BANK_A, "name_th": "เอ", "name_en": "A"},
        levels=Assurance(Decimal("2.3"), Decimal("2.2")),
        message="m")


def test_callbacks_before_the_create_call_returns_are_kept(settings: Settings,
                                                            store: EphemeralStore) -> None:
    settings = replace(settings, ndid_url="http://node.invalid")
    ref = begin(settings, store)
    attempt = ndid.load_attempt(store, ref)
    assert attempt is not None and attempt["request_id"] == RID
    state = ndid.request_state(store, ref, attempt)
    assert state["request_status"]["status"] == "pending"
    assert state["create_request_result"]["success"] is True
    assert login_outcome(state).result == "pending"
    # Newer first, then older, then both again: the state only moves forward.
    for body in (status_body(9, "completed", closed=True), status_body(8, "completed"),
                 status_body(9, "completed", closed=True), status_body(7)):
        ndid.receive_callback(settings, store, body)
    assert len(ndid.stored_callbacks(store, RID)) == 4
    outcome = login_outcome(ndid.request_state(store, ref, attempt))
    assert outcome.result == "accepted" and outcome.answer is not None
    assert str(outcome.answer.ial) == "2.3"
    assert ndid.begin_completion(settings, store, ref)
    assert not ndid.begin_completion(settings, store, ref)


def test_early_callbacks_outlive_their_short_first_ttl(settings: Settings) -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    settings = replace(settings, ndid_url="http://node.invalid")
    ref = begin(settings, store)
    now[0] += ndid.ORPHAN_TTL + 1
    attempt = ndid.load_attempt(store, ref)
    assert attempt is not None
    assert ndid.request_state(store, ref, attempt)["request_status"] is not None


def test_unplaceable_callbacks_are_dropped_after_a_while(settings: Settings) -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    ndid.receive_callback(settings, store, status_body(3))
    assert ndid.stored_callbacks(store, RID)
    now[0] += ndid.ORPHAN_TTL + 1
    assert ndid.stored_callbacks(store, RID) == []


def test_racing_writers_lose_nothing(settings: Settings, store: EphemeralStore) -> None:
    bodies = [status_body(h) for h in range(10, 22)]
    results: list[str] = []

    def post(body: dict[str, Any]) -> None:
        results.append(ndid.receive_callback(settings, store, body))

    threads = [threading.Thread(target=post, args=(b,)) for b in bodies + bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate"] * 12 + ["stored"] * 12
    kept = ndid.stored_callbacks(store, RID)
    assert sorted(b["block_height"] for b in kept) == sorted(b["block_height"] for b in bodies)
    for h in range(22, 22 + ndid.MAX_CALLBACKS):
        ndid.receive_callback(settings, store, status_body(h))
    assert len(ndid.stored_callbacks(store, RID)) == ndid.MAX_CALLBACKS  # bounded
