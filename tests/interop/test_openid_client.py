"""Interoperability with openid-client (panva's certified Node.js relying-party library).

rp.mjs is the agency's back end, built on openid-client; this test is the person's browser.
openid-client discovers the provider, builds an authorization URL with PKCE (S256), state and
nonce; the browser logs in as a sandbox persona and consents; openid-client then validates the
authorization response (state, RFC 9207 iss), redeems the code, validates the ES256 ID token,
fetches userinfo (checking its sub), and refreshes (validating any new ID token).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.support.live import REDIRECT, Browser, LiveProvider

pytestmark = pytest.mark.interop

RP = Path(__file__).resolve().parent / "rp.mjs"


def rp(node: str, *args: str, script: Path = RP) -> dict[str, Any]:
    """Run one step of a Node.js relying party; its stdout is one JSON document."""
    proc = subprocess.run([node, str(script), *args], capture_output=True, text=True,
                          timeout=90, check=False, cwd=script.parent)
    if proc.returncode != 0:
        pytest.fail(f"node {script.name} {args[0]} exited {proc.returncode}\n"
                    f"--- stderr ---\n{proc.stderr}\n--- stdout ---\n{proc.stdout}",
                    pytrace=False)
    return dict(json.loads(proc.stdout))


def callback_url(op: LiveProvider, browser: Browser, url: str) -> str:
    """Log in as a sandbox persona and consent; return where the provider sends the browser."""
    assert url.startswith(f"{op.base}/"), url
    resp = browser.go(url)
    assert "/interaction/" in resp.url, (resp.status_code, resp.url, resp.text[:1000])
    resp = browser.submit("/login", persona="somchai")
    if resp.status_code == 200 and "/consent" in resp.text:
        resp = browser.submit("/consent", decision="allow")
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:1000])
    location = urljoin(resp.url, resp.headers["Location"])
    assert location.startswith(REDIRECT + "?"), location
    return location


def test_openid_client_code_flow(op: LiveProvider, browser: Browser, node: str) -> None:
    client = op.register(id_token_signed_response_alg="ES256")
    creds = (op.base, client["client_id"], client["client_secret"])

    started = rp(node, "start", *creds, client["redirect_uri"])
    assert started["discovery"]["issuer"] == op.base
    assert started["discovery"]["supportsPKCE"] is True
    assert started["discovery"]["authorization_response_iss_parameter_supported"] is True

    callback = callback_url(op, browser, started["url"])
    done = rp(node, "finish", *creds, callback, started["state"], started["code_verifier"],
              started["nonce"])

    claims, userinfo, refresh = done["claims"], done["userinfo"], done["refresh"]
    assert done["id_token_header"]["alg"] == "ES256"
    assert claims["iss"] == op.base
    assert claims["aud"] in (client["client_id"], [client["client_id"]])
    assert claims["nonce"] == started["nonce"]
    assert claims["sub"] == userinfo["sub"]
    assert userinfo.get("name"), userinfo
    assert done["token"]["token_type"].lower() == "bearer"
    assert done["token"]["has_refresh_token"], done["token"]
    assert "offline_access" in (done["token"]["scope"] or "").split(), done["token"]

    # Refresh rotates both tokens; a refreshed ID token, if any, is about the same person.
    assert refresh["new_access_token"], refresh
    assert refresh["new_refresh_token"], refresh
    if refresh["claims"] is not None:
        assert refresh["claims"]["sub"] == claims["sub"]
        assert refresh["claims"]["iss"] == op.base
    assert done["userinfo_after_refresh"]["sub"] == claims["sub"]
