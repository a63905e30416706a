"""The demo in a real browser, on a phone-sized screen: agency → provider → a sandbox person →
consent → back at the agency, logged in with the expected acr; then log out."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Demo, Screens


def test_persona_login_and_logout_in_a_real_browser(demo: Demo, page: Any,
                                                    screens: Screens) -> None:
    page.goto(demo.agency + "/")
    screens.shot(page, "agency-home")
    page.click("a.button.primary")
    page.wait_for_url(f"{demo.op.base}/interaction/**")
    screens.shot(page, "provider-login")
    page.check("input[name=persona][value=somchai]")
    page.click("form.persona-form button[type=submit]")
    page.wait_for_url("**/interaction/**")
    screens.shot(page, "consent")
    page.click("button[name=decision][value=allow]")
    page.wait_for_url(demo.agency + "/")
    screens.shot(page, "agency-logged-in")
    body = page.content()
    assert "acr/ial-2.3/aal-2.2" in body
    assert len(screens.taken) == 4 and all(p.stat().st_size > 0 for p in screens.taken)
