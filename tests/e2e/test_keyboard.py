"""Keyboard only: a person who cannot use a pointer logs in, consents and reaches the agency,
then reaches every section of the account page, using Tab, Space and Enter; the element with
focus is always visibly outlined."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Demo, Screens

MAX_TABS = 60


def tab_to(page: Any, selector: str) -> None:
    """Press Tab until the element matching `selector` has focus (as a person would)."""
    target = page.locator(selector).first
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            outline = page.evaluate(
                "() => { const s = getComputedStyle(document.activeElement);"
                " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0"
                " || s.boxShadow !== 'none'; }")
            assert outline, f"{selector} has focus but no visible focus style"
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_login_consent_and_account_with_the_keyboard_only(demo: Demo, page: Any,
                                                          screens: Screens) -> None:
    page.goto(demo.agency + "/")
    tab_to(page, "a.button.primary")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.op.base}/interaction/**")
    tab_to(page, "input[name=persona][value=somchai]")
    page.keyboard.press("Space")
    tab_to(page, "form.persona-form button[type=submit]")
    screens.shot(page, "login-focus-on-continue")
    page.keyboard.press("Enter")
    page.wait_for_url("**/interaction/**")
    tab_to(page, "button[name=decision][value=allow]")
    screens.shot(page, "consent-focus-on-allow")
    page.keyboard.press("Enter")
    page.wait_for_url(demo.agency + "/")
    assert "acr/ial-2.3/aal-2.2" in page.content()

    page.goto(demo.op.base + "/account")
    for section in ("passkeys", "consents", "activity", "proofing"):
        assert page.locator(f"#{section}").count() == 1, section
    tab_to(page, "form[action^='/consents/'] button[type=submit]")
    screens.shot(page, "account-focus-on-withdraw")
