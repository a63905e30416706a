"""The login page as the end of the road: giving up sends the agency the standard error, and
when the agency demanded a level (essential acr) that error says the level was not met."""

from __future__ import annotations

import json

from tests.support.live import Browser, LiveProvider, location_params


def _essential(op: LiveProvider, ial: str, aal: str) -> str:
    return json.dumps({"id_token": {"acr": {
        "essential": True, "values": [f"{op.base}/acr/ial-{ial}/aal-{aal}"]}}})


def test_giving_up_is_access_denied(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    url, _ = op.auth_url(client, state="s1")
    browser.go(url)
    got = location_params(browser.submit("/abort"))
    assert (got["error"], got["state"], got["iss"]) == ("access_denied", "s1", op.base)


def test_giving_up_on_a_demanded_level_is_unmet_authentication_requirements(
        op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    url, _ = op.auth_url(client, state="s2", claims=_essential(op, "3", "3"))
    page = browser.go(url)
    assert "IAL 3" in page.text  # the page says what the agency needs
    # malee (IAL 1.1) cannot reach it: the picker refuses her and the page stays.
    refused = browser.submit("/login", persona="malee")
    assert refused.status_code == 400
    got = location_params(browser.submit("/abort"))
    assert got["error"] == "unmet_authentication_requirements" and got["state"] == "s2"
    # The interaction is over: going back to it is an expired page, not a second answer.
    assert browser.go(page.url).status_code == 400
