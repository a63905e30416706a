"""A provider served over real HTTP on a free loopback port, and a small browser for it.

Tests run over HTTP, as an agency and a person would: the browser follows redirects until it
leaves the provider (reaching the agency's redirect URI), and fills the forms it is shown.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from werkzeug.serving import make_server

from idp.app import create_app
from idp.clients import create_client
from idp.settings import Settings
from idp.store import EphemeralStore

REDIRECT = "https://agency.example/cb"


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": a.get("method", "get"),
                               "fields": {}, "choices": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            name, value = a["name"] or "", a.get("value") or ""
            kind = (a.get("type") or "").lower()
            if kind in ("radio", "checkbox"):
                self.forms[-1]["choices"].setdefault(name, []).append(value)
                if "checked" in a:
                    self.forms[-1]["fields"][name] = value
            elif kind == "submit" or tag == "button":
                self.forms[-1]["choices"].setdefault(name, []).append(value)
            else:
                self.forms[-1]["fields"][name] = value


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


@dataclass
class Browser:
    """A person's browser: keeps cookies, follows redirects inside the provider."""

    base: str
    http: requests.Session = field(default_factory=requests.Session)
    last: requests.Response | None = None

    def go(self, url: str, method: str = "GET", data: dict[str, str] | None = None,
           ) -> requests.Response:
        url = urljoin(self.base + "/", url)
        resp = self.http.request(method, url, data=data, allow_redirects=False, timeout=10)
        while resp.status_code in (301, 302, 303, 307) and resp.headers["Location"]:
            nxt = urljoin(url, resp.headers["Location"])
            if not nxt.startswith(self.base):
                break
            url = nxt
            resp = self.http.get(url, allow_redirects=False, timeout=10)
        self.last = resp
        return resp

    def submit(self, action_contains: str, **choices: str) -> requests.Response:
        assert self.last is not None
        for form in forms_of(self.last.text):
            if action_contains in form["action"]:
                data = dict(form["fields"])
                data.update(choices)
                return self.go(form["action"], form["method"].upper(), data)
        raise AssertionError(f"no form with action {action_contains!r} on page:\n"
                             f"{self.last.text[:2000]}")


def location_params(resp: requests.Response) -> dict[str, str]:
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:1000])
    loc = resp.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}


@dataclass
class LiveProvider:
    base: str
    settings: Settings
    app: Any

    def register(self, **meta: Any) -> dict[str, Any]:
        meta.setdefault("redirect_uris", [REDIRECT])
        meta.setdefault("client_name#en", "Test agency")
        meta.setdefault("client_name#th", "หน่วยงานทดสอบ")
        meta.setdefault("scope", "openid profile email phone address offline_access")
        meta.setdefault("grant_types", ["authorization_code", "refresh_token"])
        with self.app.extensions["idp"].db.session() as s:
            client, secret = create_client(s, meta)
            return {"client_id": client.client_id, "client_secret": secret,
                    "redirect_uri": client.redirect_uris[0] if client.redirect_uris else None}

    def auth_url(self, client: dict[str, Any], **params: str) -> tuple[str, str]:
        """An authorization URL with PKCE; returns it and the code verifier."""
        verifier, challenge = pkce_pair()
        q = {"response_type": "code", "client_id": client["client_id"],
             "redirect_uri": client["redirect_uri"], "scope": "openid offline_access",
             "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
             "code_challenge": challenge, "code_challenge_method": "S256"}
        q.update(params)
        q = {k: v for k, v in q.items() if v is not None}
        return f"{self.base}/authorize?{urlencode(q)}", verifier

    def token(self, client: dict[str, Any], auth: str = "basic", **data: str
              ) -> requests.Response:
        if auth == "basic":
            return requests.post(f"{self.base}/token", data=data, timeout=10,
                                 auth=(client["client_id"], client["client_secret"]))
        body = dict(data, client_id=client["client_id"], client_secret=client["client_secret"])
        return requests.post(f"{self.base}/token", data=body, timeout=10)

    def login(self, browser: Browser, client: dict[str, Any], persona: str = "somchai",
              consent: bool = True, **params: str) -> tuple[dict[str, str], str]:
        """Run the browser part of the code flow; returns the redirect parameters and the
        PKCE verifier."""
        url, verifier = self.auth_url(client, **params)
        resp = browser.go(url)
        if "/interaction/" in resp.url and "/login" in resp.text:
            resp = browser.submit("/login", persona=persona)
        if resp.status_code == 200 and "/consent" in resp.text and consent:
            resp = browser.submit("/consent", decision="allow")
        return location_params(resp), verifier

    def code_flow(self, browser: Browser, client: dict[str, Any], persona: str = "somchai",
                  **params: str) -> dict[str, Any]:
        got, verifier = self.login(browser, client, persona, True, **params)
        assert "code" in got, got
        resp = self.token(client, grant_type="authorization_code", code=got["code"],
                          redirect_uri=client["redirect_uri"], code_verifier=verifier)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


@contextmanager
def serve(settings: Settings, store: EphemeralStore,
          host_name: str = "127.0.0.1") -> Iterator[LiveProvider]:
    """The provider on a free loopback port. A real browser needs `host_name="localhost"`
    for passkeys: WebAuthn refuses an IP address as the relying party id."""
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    base = f"http://{host_name}:{server.server_port}"
    settings = replace(settings, issuer=base)
    app = create_app(settings, store)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveProvider(base=base, settings=settings, app=app)
    finally:
        server.shutdown()
