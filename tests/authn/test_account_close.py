"""Closing an account from /account, over real HTTP: it needs the confirmation box and a login
at most 10 minutes old; then the signing certificate is revoked (OCSP says revoked,
cessationOfOperation), the agency loses access at once (its access and refresh tokens stop
working), the passkeys are gone, this browser and every other browser of the person are logged
out, and the audit trail says so in counts. The person can log in again later to a fresh
account. Runs on SQLite + in-process store and on PostgreSQL + Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from idp import signing_credentials as creds
from idp.db import AuditEvent, ConsentGrant
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import EphemeralStore
from kyc.assurance import Assurance
from sandbox.personas import get_persona
from tests.authn.test_account import (
    account,
    age_session,
    device,
    person_id_of,
    persona_login,
    register_here,
    stored,
    upstreams_file,
)
from tests.support.live import Browser, LiveProvider, forms_of, serve


@pytest.fixture
def lp(settings: Settings, store: EphemeralStore, tmp_path: Path) -> Iterator[LiveProvider]:
    from dataclasses import replace

    with serve(replace(settings, upstreams_file=upstreams_file(tmp_path)), store) as provider:
        yield provider


def _close(browser: Browser, confirm: bool = True) -> requests.Response:
    page = account(browser)
    [form] = [f for f in forms_of(page.text) if f["action"] == "/account/close"]
    fields = dict(form["fields"])
    if confirm:
        fields["confirm"] = "yes"
    return browser.go("/account/close?lang=en", "POST", fields)


def test_closing_ends_everything_active_everywhere(lp: LiveProvider) -> None:
    p = lp.app.extensions["idp"]
    client = lp.register(**{"client_name#en": "Revenue Department"})
    person_id = person_id_of(lp, "somchai")
    other_browser = Browser(lp.base)
    persona_login(other_browser, "somchai")
    browser = Browser(lp.base)
    tokens = lp.code_flow(browser, client, "somchai", scope="openid profile offline_access")
    persona_login(browser, "somchai")
    assert register_here(browser, device(lp)).status_code == 200
    persona = get_persona("somchai")
    assert persona is not None
    with lp.app.app_context():
        pki = current_pki()
    info = creds.issue_credential(p, pki, person_id, Assurance(
        Decimal(persona.ial), Decimal(persona.aal)).acr(p.issuer))

    assert "close_error=confirm_needed" in _close(browser, confirm=False).url
    done = _close(browser)
    assert done.status_code == 200 and "Your account is closed" in done.text
    assert "Signing certificates revoked: 1" in done.text

    status = pki.status("citizen", int(info.serial, 16))
    assert status is not None and (status.status, status.reason) == \
        ("revoked", "cessationOfOperation")
    userinfo = requests.get(f"{lp.base}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    refresh = lp.token(client, grant_type="refresh_token",
                       refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert stored(lp) == []
    with p.db.session() as s:
        assert all(c.withdrawn_at is not None for c in s.scalars(
            select(ConsentGrant).where(ConsentGrant.person_id == person_id)))
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.type == "account.closed"))
        assert event.person_id == person_id
        assert event.data["certificates"] == 1 and event.data["passkeys"] == 1
        assert event.data["agencies"] == 1

    # logged out here and in the other browser
    assert account(browser).status_code == 401
    assert account(other_browser).status_code == 401
    # a new login later starts a fresh account: nothing of the old one is active (login times
    # are whole seconds, so "later" means from the next second on)
    time.sleep(1.1)
    persona_login(other_browser, "somchai")
    page = account(other_browser)
    assert page.status_code == 200
    assert f"/consents/{client['client_id']}/withdraw" not in page.text  # no agency now
    assert "You closed your account" in page.text  # the history stays, with the closure
    assert creds.active_credential(pki, person_id) is None


def test_closing_needs_a_recent_login(lp: LiveProvider, store: EphemeralStore) -> None:
    browser = Browser(lp.base)
    persona_login(browser, "somchai")
    age_session(browser, store, 11 * 60)
    refused = _close(browser)
    assert "close_error=login_again" in refused.url
    assert "log in again (within 10 minutes)" in refused.text
    assert account(browser).status_code == 200  # nothing was closed
