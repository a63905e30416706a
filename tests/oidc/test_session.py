"""The SSO session: a login always starts a new session under a new handle."""

from __future__ import annotations

from idp.authn import session as sso
from tests.support.live import Browser, LiveProvider, location_params


def test_login_replaces_the_session_handle(op: LiveProvider, browser: Browser) -> None:
    """Session fixation: whoever holds the handle from before a login must not ride on the
    session the login creates, even when the code is issued straight from the login step."""
    client = op.register()
    op.code_flow(browser, client)  # somchai consents; session H1
    old_handle = browser.http.cookies.get(sso.COOKIE)
    attacker = Browser(op.base)
    attacker.http.cookies.set(sso.COOKIE, old_handle or "")

    url, _ = op.auth_url(client, prompt="login")
    browser.go(url)
    got = location_params(browser.submit("/login", persona="somchai"))  # no consent page
    assert "code" in got
    assert browser.http.cookies.get(sso.COOKIE) != old_handle

    url, _ = op.auth_url(client, prompt="none")
    assert location_params(attacker.go(url))["error"] == "login_required"


def test_fresh_login_records_the_agency_for_backchannel_logout(op: LiveProvider,
                                                               browser: Browser) -> None:
    client = op.register()
    op.code_flow(browser, client)
    url, _ = op.auth_url(client, prompt="login")
    browser.go(url)
    location_params(browser.submit("/login", persona="somchai"))
    handle = browser.http.cookies.get(sso.COOKIE)
    session = sso.load(op.app.extensions["idp"].store, handle)
    assert session is not None and client["client_id"] in session.clients
