"""Fetching JSON a client publishes (its `jwks_uri`, its `sector_identifier_uri`): https only
(loopback http for development), bounded in size and time, never following redirects."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

MAX_BYTES = 64 * 1024
JWKS_TTL = 300
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class FetchError(ValueError):
    """The document could not be had or is not what it should be; the message says which."""


def fetch_json(uri: str, timeout: float = 3.0) -> Any:
    if not uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise FetchError("the URI must use https")
    try:
        with requests.get(uri, timeout=timeout, stream=True, allow_redirects=False) as resp:
            if resp.status_code != 200:
                raise FetchError(f"the URI answered HTTP {resp.status_code}")
            body = resp.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise FetchError("the URI could not be fetched") from exc
    if len(body) > MAX_BYTES:
        raise FetchError("the document is too large")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FetchError("the document is not JSON") from exc


def fetch_jwks(uri: str) -> dict[str, Any]:
    """A client's JWKS, cached briefly so each token request does not fetch it again."""
    hit = _jwks_cache.get(uri)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    data = fetch_json(uri)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise FetchError("the JWKS has no keys")
    _jwks_cache[uri] = (time.monotonic() + JWKS_TTL, data)
    return data


def fetch_sector_uris(uri: str) -> list[str]:
    """OIDC Registration 5: the sector identifier is a JSON array of redirect URIs."""
    data = fetch_json(uri)
    if not isinstance(data, list) or not all(isinstance(u, str) for u in data):
        raise FetchError("the sector identifier document must be a JSON array of URIs")
    return data
