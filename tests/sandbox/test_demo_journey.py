"""The demo as a person uses it: the demo agency site logs in with the real provider, shows
what it received, refreshes, and logs out (RP-initiated, then back-channel to the agency)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from werkzeug.serving import make_server

from idp.demo import demo_decryption_key, ensure_demo_client
from idp.settings import Settings
from idp.store import EphemeralStore
from sandbox.agency import create_agency_app
from tests.support.live import LiveProvider, forms_of, serve


@pytest.fixture
def demo(settings: Settings, store: EphemeralStore, tmp_path: Path
         ) -> Iterator[tuple[LiveProvider, str]]:
    agency_server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    agency_base = f"http://127.0.0.1:{agency_server.server_port}"
    with serve(settings, store) as op:
        secret = ensure_demo_client(op.settings.database_url, agency_base,
                                    tmp_path / "demo-agency.json")
        # the national ID travels only encrypted: the agency decrypts with its own key
        agency_server.app = create_agency_app(
            op.base, "demo-agency", secret, agency_base,
            decryption_key=demo_decryption_key(tmp_path / "demo-agency.json"))
        threading.Thread(target=agency_server.serve_forever, daemon=True).start()
        try:
            yield op, agency_base
        finally:
            agency_server.shutdown()


def walk(http: requests.Session, url: str, method: str = "GET",
         data: dict[str, str] | None = None) -> requests.Response:
    """Follow redirects across the agency and the provider, as a browser does."""
    resp = http.request(method, url, data=data, allow_redirects=False, timeout=10)
    for _ in range(20):
        if resp.status_code not in (301, 302, 303):
            return resp
        url = urljoin(url, resp.headers["Location"])
        resp = http.get(url, allow_redirects=False, timeout=10)
    raise AssertionError("redirect loop")


def submit(http: requests.Session, page: requests.Response, action: str,
           **choices: str) -> requests.Response:
    for form in forms_of(page.text):
        if action in form["action"]:
            return walk(http, urljoin(page.url, form["action"]), "POST",
                        dict(form["fields"], **choices))
    raise AssertionError(f"no form {action!r} on {page.url}")


def test_demo_agency_journey(demo: tuple[LiveProvider, str]) -> None:
    op, agency = demo
    http = requests.Session()
    home = walk(http, agency + "/")
    assert home.status_code == 200
    page = walk(http, agency + "/login")
    assert "/interaction/" in page.url
    page = submit(http, page, "/login", persona="somchai")
    page = submit(http, page, "/consent", decision="allow")
    assert page.url.startswith(agency)
    assert page.status_code == 200
    assert f"{op.base}/acr/ial-2.3/aal-2.2" in page.text  # the ID token's acr, shown
    assert "Somchai" in page.text or "สมชาย" in page.text  # userinfo, shown

    refreshed = submit(http, page, "/refresh")
    assert refreshed.status_code == 200 and refreshed.url.startswith(agency)

    out = submit(http, refreshed, "/logout")
    assert out.url.startswith(agency + "/logged-out")
    # The provider session is gone: a new login asks for a person again.
    again = walk(http, agency + "/login")
    assert "/interaction/" in again.url and 'name="persona"' in again.text


def test_demo_agency_verified_identity_shows_the_national_id(
        demo: tuple[LiveProvider, str]) -> None:
    """Asking for a verified identity: the national ID travels only encrypted, and the demo
    agency (registered with its encryption key) decrypts the ID token and userinfo to show it."""
    op, agency = demo
    http = requests.Session()
    page = walk(http, agency + "/login?verified=1")
    page = submit(http, page, "/login", persona="somchai")
    assert f"{op.base}/claims/th_citizen_id" in page.text  # offered on the consent page
    page = submit(http, page, "/consent", decision="allow")
    assert page.url.startswith(agency) and page.status_code == 200, page.text[:500]
    assert "1345951597671" in page.text
    refreshed = submit(http, page, "/refresh")  # a refreshed ID token is decrypted too
    assert refreshed.status_code == 200 and "invalid_id_token" not in refreshed.text


def test_backchannel_logout_reaches_the_demo_agency(demo: tuple[LiveProvider, str]) -> None:
    op, agency = demo
    http = requests.Session()
    page = walk(http, agency + "/login")
    page = submit(http, page, "/login", persona="malee")
    page = submit(http, page, "/consent", decision="allow")
    assert 'action="/logout"' in page.text  # logged in at the agency
    # Log out at the provider directly (as from another agency): confirm on its page.
    confirm = walk(http, op.base + "/logout")
    done = submit(http, confirm, "/logout", confirm="yes")
    assert done.status_code == 200
    # The back channel told the agency, which dropped its session.
    home = walk(http, agency + "/")
    assert 'action="/logout"' not in home.text
