"""Fetching a client's `jwks_uri`: bounded in size and time, cached briefly."""

from __future__ import annotations

import time
from typing import Any

import requests

MAX_BYTES = 64 * 1024
TTL = 300
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class JwksFetchError(ValueError):
    pass


def fetch_jwks(uri: str, timeout: float = 3.0) -> dict[str, Any]:
    hit = _cache.get(uri)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    if not uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise JwksFetchError("jwks_uri must be https")
    try:
        with requests.get(uri, timeout=timeout, stream=True) as resp:
            resp.raise_for_status()
            body = resp.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise JwksFetchError("could not fetch the client's jwks_uri") from exc
    if len(body) > MAX_BYTES:
        raise JwksFetchError("the client's JWKS is too large")
    try:
        import json

        data = json.loads(body)
    except ValueError as exc:
        raise JwksFetchError("the client's JWKS is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksFetchError("the client's JWKS has no keys")
    _cache[uri] = (time.monotonic() + TTL, data)
    return data
