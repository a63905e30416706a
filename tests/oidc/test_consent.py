"""Consent is remembered per agency and scope, and withdrawing it stops the agency's tokens."""

from __future__ import annotations

import requests

from tests.support.live import Browser, LiveProvider, location_params


def test_consent_is_remembered_per_client_and_scope(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    op.code_flow(browser, client, scope="openid profile")
    url, _ = op.auth_url(client, scope="openid profile")
    assert "code" in location_params(browser.go(url))  # no consent page the second time
    url, _ = op.auth_url(client, scope="openid profile email")
    page = browser.go(url)
    assert page.status_code == 200 and "/consent" in page.text  # a new scope asks again
    other = op.register()
    page = browser.go(op.auth_url(other, scope="openid")[0])
    assert page.status_code == 200 and "/consent" in page.text  # another agency asks again


def test_prompt_consent_asks_again(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    op.code_flow(browser, client)
    page = browser.go(op.auth_url(client, prompt="consent")[0])
    assert page.status_code == 200 and "/consent" in page.text


def test_denied_consent_returns_access_denied(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    browser.go(op.auth_url(client, state="s1")[0])
    browser.submit("/login", persona="somchai")
    got = location_params(browser.submit("/consent", decision="deny"))
    assert got["error"] == "access_denied"
    assert got["state"] == "s1" and got["iss"] == op.base


def test_withdrawing_consent_revokes_the_agencys_tokens(op: LiveProvider,
                                                       browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope="openid profile offline_access")
    page = browser.go("/consents")
    assert page.status_code == 200
    assert "Test agency" in page.text or "หน่วยงานทดสอบ" in page.text
    done = browser.submit(f"/consents/{client['client_id']}/withdraw")
    assert done.status_code == 200
    assert "/withdraw" not in done.text  # the agency is gone from the list
    refreshed = op.token(client, grant_type="refresh_token",
                         refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    info = requests.get(f"{op.base}/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401
    # The next login asks for consent again.
    page = browser.go(op.auth_url(client, scope="openid profile")[0])
    assert "/consent" in page.text


def test_consents_page_needs_a_login(op: LiveProvider) -> None:
    resp = requests.get(f"{op.base}/consents", timeout=5)
    assert resp.status_code == 401


def test_withdraw_needs_csrf(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client)
    resp = browser.http.post(f"{op.base}/consents/{client['client_id']}/withdraw", timeout=5)
    assert resp.status_code == 400
    info = requests.get(f"{op.base}/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
