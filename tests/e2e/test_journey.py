"""The whole journey of one person, in a real browser on a phone-sized screen, with a numbered
screenshot of every step (tests/artifacts/e2e/<test>/):

1. the demo agency asks for a verified identity (essential IAL 2.3 and verified claims); at the
   provider the person proves who they are through their bank over the SANDBOX NDID node
   (approving in the simulated bank app, in a second tab), registers a passkey on the device
   (the DevTools virtual authenticator), consents to giving the national ID, and is back at the
   agency with acr ial-2.3/aal-2.2 and the verified claims;
2. logs out at the agency (and so at the provider);
3. logs in again with the passkey only: no ID typed, no bank;
4. withdraws the agency's consent on the provider's account page, and the agency's refresh
   token stops working (invalid_grant).

Every tab is watched: a Content Security Policy violation or an uncaught script error anywhere
fails the test, and so does a provider or bank page wider than the phone's screen. The
console, and any page too wide, are written next to the screenshots (console.txt, layout.txt).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import BrowserLog, Demo, Screens
from tests.e2e.virtual_authenticator import VirtualAuthenticator, add_platform_authenticator

CITIZEN_ID = "3100600123450"
TYPED_ID = "3-1006-00123-45-0"  # as printed on the card; the provider takes it with dashes
BANK_A = "sandbox_bank_a"
PASSKEY_NAME = "โทรศัพท์ของฉัน"
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30_000  # ms: generous upper bounds, never asserted as timings


def claim_cell(page: Any, name: str) -> str:
    """The text the agency shows for one ID token claim (its first table)."""
    row = page.locator("table.claims").first.locator(
        "tr", has=page.locator("th code", has_text=re.compile(rf"^{re.escape(name)}$")))
    expect(row).to_have_count(1)
    return str(row.locator("td").inner_text())


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the phone's screen (0 when it fits)."""
    return int(page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"))


class Journey:
    """The screenshots of one journey, each with a check that the page fits the screen: the
    provider's and the bank app's pages must; the demo agency's developer page is a known
    exception, noted as a warning (and in layout.txt) rather than failing the journey."""

    def __init__(self, screens: Screens, agency: str) -> None:
        self.screens = screens
        self.agency = agency
        self.too_wide: list[str] = []
        self.agency_too_wide: list[str] = []

    def shot(self, page: Any, step: str) -> None:
        path = self.screens.shot(page, step)
        extra = overflow(page)
        if extra:
            where = self.agency_too_wide if page.url.startswith(self.agency) else self.too_wide
            where.append(f"{path.relative_to(ROOT)}: {extra}px wider than the screen")

    def report(self) -> None:
        notes = self.too_wide + self.agency_too_wide
        (self.screens.folder / "layout.txt").write_text("\n".join(notes) + "\n")
        for note in self.agency_too_wide:
            warnings.warn(f"demo agency page too wide for a phone: {note}", stacklevel=2)


def submit(page: Any, button: Any) -> None:
    """Press a form's button and wait for the page it leads to (often the same URL)."""
    with page.expect_navigation():
        button.click()


def open_in_new_tab(page: Any, link: Any) -> Any:
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def test_verified_identity_passkey_and_withdrawal_in_a_real_browser(
        demo_ndid: Demo, page: Any, screens: Screens, browser_log: BrowserLog,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sandbox.agency")
    demo = demo_ndid
    assert demo.ndid is not None
    journey = Journey(screens, demo.agency)
    # The device answers only when the person acts (presence is switched on just before
    # pressing a passkey button), so the pages are shot as a person sees them before acting.
    device = add_platform_authenticator(page, presence=False)

    verify_and_register(demo, page, journey, device)
    log_out(demo, page, journey)
    log_in_with_passkey_only(demo, page, journey, device)
    refusal_shown = withdraw_and_refresh_fails(demo, page, journey, caplog)

    (screens.folder / "console.txt").write_text("\n".join(browser_log.messages) + "\n")
    assert browser_log.csp_violations() == []
    assert browser_log.errors == []
    journey.report()
    assert journey.too_wide == []
    assert all(p.stat().st_size > 0 for p in screens.taken)
    if not refusal_shown:
        pytest.xfail("sandbox/agency.py drops the login on invalid_grant, and its home page "
                     "then shows no refresh error (the notice is only rendered when logged "
                     "in): the person sees a logged-out home page without a reason")


def verify_and_register(demo: Demo, page: Any, journey: Journey,
                        device: VirtualAuthenticator) -> None:
    """Step 1: agency → provider → bank over NDID → passkey → consent → agency at IAL 2.3."""
    op, node = demo.op, demo.ndid
    assert node is not None
    page.goto(demo.agency + "/")
    journey.shot(page, "agency-home")
    page.locator("details summary").click()
    verified_link = page.locator('a[href$="/login?verified=1"]')
    expect(verified_link).to_be_visible()
    journey.shot(page, "agency-ask-verified-identity")
    verified_link.click()

    page.wait_for_url(f"{op.base}/interaction/**")
    expect(page.locator("#ndid-title")).to_be_visible()
    expect(page.locator("p.message[role=note]")).to_contain_text("2.3")
    journey.shot(page, "provider-login")
    page.locator('a[href$="/ndid"]').click()

    page.wait_for_url("**/ndid")
    page.fill("#citizen-id", TYPED_ID)
    journey.shot(page, "ndid-citizen-id")
    page.locator('form[action$="/ndid"] button[type=submit]').click()

    page.wait_for_url("**/ndid/banks")
    bank = page.locator(f'input[name=bank][value="{BANK_A}"]')
    expect(bank).to_be_visible()
    bank.check()
    journey.shot(page, "ndid-bank-list")
    page.locator('form[action$="/ndid/request"] button[type=submit]').click()

    page.wait_for_url("**/ndid/wait")
    expect(page.locator("[data-ndid-status]")).to_be_visible()
    journey.shot(page, "ndid-waiting")
    assert CITIZEN_ID not in page.url

    bank_tab = open_in_new_tab(page, page.locator(f'a[href="{node.base}/bank/{BANK_A}"]'))
    approve = bank_tab.locator("button[name=decision][value=accept]")
    expect(approve).to_have_count(1)
    expect(bank_tab.locator("dd").filter(has_text="3450")).to_be_visible()  # masked ID
    journey.shot(bank_tab, "bank-app-request")
    approve.click()
    bank_tab.wait_for_url("**?done=accept")
    journey.shot(bank_tab, "bank-app-approved")
    bank_tab.close()

    # The waiting page reloads itself (Refresh header) and moves on once the bank said yes.
    page.wait_for_url("**/passkey/offer", timeout=WAIT)
    register = page.locator("[data-passkey=register] [data-passkey-start]")
    expect(register).to_be_visible()
    page.fill("[data-passkey-name]", PASSKEY_NAME)
    journey.shot(page, "passkey-offer")
    device.presence(True)  # the person unlocks the phone when it asks
    register.click()

    allow = page.locator("button[name=decision][value=allow]")
    expect(allow).to_be_visible(timeout=WAIT)
    device.presence(False)
    [credential] = device.credentials()
    assert credential["rpId"] == "localhost" and credential["isResidentCredential"]
    citizen_line = page.locator(f'li[data-claims~="{op.base}/claims/th_citizen_id"]')
    expect(citizen_line).to_be_visible()
    journey.shot(page, "consent-with-national-id")
    allow.click()

    page.wait_for_url(demo.agency + "/")
    expect(page.locator("h1")).to_contain_text("You are logged in")
    journey.shot(page, "agency-verified-identity")
    assert claim_cell(page, "acr").strip() == f"{op.base}/acr/ial-2.3/aal-2.2"
    verified = json.loads(claim_cell(page, "verified_claims"))
    assert verified["claims"][f"{op.base}/claims/th_citizen_id"] == CITIZEN_ID
    assert verified["verification"]["assurance_level"] == "2.3"
    assert verified["verification"]["trust_framework"] == f"{op.base}/tf/th-digital-id"
    assert json.loads(claim_cell(page, "amr")) == ["fed"]


def log_out(demo: Demo, page: Any, journey: Journey) -> None:
    """Step 2: log out at the agency, which logs out at the provider too."""
    page.locator('form[action$="/logout"] button[type=submit]').click()
    page.wait_for_url(demo.agency + "/logged-out**")
    journey.shot(page, "agency-logged-out")
    page.goto(demo.agency + "/")
    expect(page.locator('a.button.primary[href$="/login"]')).to_be_visible()


def log_in_with_passkey_only(demo: Demo, page: Any, journey: Journey,
                             device: VirtualAuthenticator) -> None:
    """Step 3: the passkey alone (its button), nothing typed, no bank."""
    op, node = demo.op, demo.ndid
    assert node is not None
    asked_banks = len(node.node.requests)
    page.locator('a.button.primary[href$="/login"]').click()
    page.wait_for_url(f"{op.base}/interaction/**")
    button = page.locator("[data-passkey=login] [data-passkey-start]")
    expect(button).to_be_visible()
    journey.shot(page, "provider-login-passkey")
    device.presence(True)
    button.click()

    page.wait_for_url(lambda url: url.startswith(demo.agency) or "/consent" in url,
                      timeout=WAIT)
    if not page.url.startswith(demo.agency):
        journey.shot(page, "consent-again")
        page.locator("button[name=decision][value=allow]").click()
        page.wait_for_url(demo.agency + "/")
    expect(page.locator("h1")).to_contain_text("You are logged in")
    journey.shot(page, "agency-passkey-login")
    assert claim_cell(page, "acr").strip() == f"{op.base}/acr/ial-2.3/aal-2.2"
    amr = json.loads(claim_cell(page, "amr"))
    assert "fed" not in amr and ("user" in amr or "mfa" in amr), amr
    [credential] = device.credentials()
    assert credential["signCount"] >= 1
    assert len(node.node.requests) == asked_banks  # no bank was asked this time
    device.presence(False)


def withdraw_and_refresh_fails(demo: Demo, page: Any, journey: Journey,
                               caplog: pytest.LogCaptureFixture) -> bool:
    """Step 4: the refresh token works, the person withdraws consent at the provider, and it
    no longer does. Returns whether the agency's page says so."""
    refresh = page.locator('form[action$="/refresh"] button[type=submit]')
    submit(page, refresh)
    expect(page.locator(".notice")).to_contain_text("Tokens refreshed")
    journey.shot(page, "agency-refresh-works")

    account = "/account"
    shown = page.goto(demo.op.base + account)
    if shown is None or shown.status == 404:  # the account page is not built (yet)
        account = "/consents"
        page.goto(demo.op.base + account)
    withdraw_form = page.locator('form[action$="/consents/demo-agency/withdraw"]')
    withdraw = withdraw_form.locator("button[type=submit]")
    expect(withdraw).to_be_visible()
    journey.shot(page, "provider" + account.replace("/", "-"))
    submit(page, withdraw)
    expect(withdraw_form).to_have_count(0)
    expect(page.locator("[role=status]").first).to_be_visible()
    journey.shot(page, "provider-consent-withdrawn")

    page.goto(demo.agency + "/")
    caplog.clear()
    submit(page, refresh)
    journey.shot(page, "agency-refresh-refused")
    assert any("refresh failed (invalid_grant)" in r.getMessage() for r in caplog.records)
    notice = page.locator(".notice.error")
    if notice.count() == 0:
        return False
    expect(notice).to_contain_text("invalid_grant")
    return True


def test_the_watch_sees_csp_violations_and_overflow(demo: Demo, page: Any,
                                                    browser_log: BrowserLog) -> None:
    """The journey's watch must not pass for want of looking: an inline script on a provider
    page (its CSP is script-src 'self') is reported, and so is a page wider than the screen."""
    page.goto(demo.op.base + "/consents")
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.ran = true";
        document.body.appendChild(s);
        const wide = document.createElement("div");
        wide.style.width = "2000px";
        wide.textContent = "x";
        document.body.appendChild(wide);
    }""")
    for _ in range(100):  # the console event arrives on its own; an upper bound only
        if browser_log.csp_violations():
            break
        page.wait_for_timeout(100)
    assert browser_log.csp_violations(), browser_log.messages
    assert page.evaluate("() => window.ran === undefined")
    assert overflow(page) > 0
