"""Fixed-window rate limits on attempts, counted in the ephemeral store.

Why fixed windows: one `incr` per attempt is atomic in Redis and in the in-process store, needs
no clock agreement between nodes beyond the window number, and the counter expires by itself.
A burst of twice the limit across a window edge is possible and accepted: these limits stop
guessing and flooding, not a patient person.

Who is counted (a person's id, a client address) never appears in a store key in clear: the key
holds a keyed hash of it, so a dump of the store names no one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from idp import i18n, web
from idp.store import EphemeralStore

# The longest `who` we hash; anything longer is cut (an address or an id is far shorter).
_MAX_WHO = 200


@dataclass(frozen=True)
class Limit:
    """At most `limit` attempts per `window` seconds for one `who` (a person, an address)."""

    name: str
    limit: int
    window: int


# Passkeys (WebAuthn). Options are cheap but each one holds a challenge in the store, so they
# are bounded per address too; verifications are what guessing or a cloned key would repeat.
PASSKEY_OPTIONS_PER_ADDRESS = Limit("passkey-options-ip", 60, 300)
PASSKEY_LOGIN_PER_ADDRESS = Limit("passkey-login-ip", 30, 300)
PASSKEY_LOGIN_PER_ACCOUNT = Limit("passkey-login-person", 10, 300)
PASSKEY_REGISTER_PER_ADDRESS = Limit("passkey-register-ip", 20, 3600)
PASSKEY_REGISTER_PER_ACCOUNT = Limit("passkey-register-person", 10, 3600)
# Verifying a document costs up to IDP_VERIFY_TIMEOUT seconds of a worker process.
VERIFY_PER_ADDRESS = Limit("verify-ip", 60, 300)


def who_key(secret: bytes, limit: Limit, who: str) -> str:
    """A keyed hash naming `who` under `limit`: what store keys hold instead of the name."""
    mac = hmac.new(secret, f"{limit.name}|{who[:_MAX_WHO]}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def limiter_key(secret_key: str) -> bytes:
    """The key for counter names, derived from the service secret under its own label."""
    return hmac.new(secret_key.encode(), b"idp/rate-limit/v1", hashlib.sha256).digest()


def hit(store: EphemeralStore, secret: bytes, limit: Limit, who: str,
        now: float | None = None) -> int | None:
    """Count one attempt by `who`; None while within the limit, else the seconds to wait
    (at least 1) until the window ends and attempts are allowed again."""
    now = time.time() if now is None else now
    return _wait(limit, store.incr(_counter(secret, limit, who, now), limit.window), now)


def hit_and_get(store: EphemeralStore, secret: bytes, limit: Limit, who: str, key: str,
                now: float | None = None) -> tuple[int | None, dict[str, Any] | None]:
    """`hit`, and the value under `key`, in one store round trip."""
    now = time.time() if now is None else now
    count, value = store.incr_and_get(_counter(secret, limit, who, now), limit.window, key)
    return _wait(limit, count, now), value


def _counter(secret: bytes, limit: Limit, who: str, now: float) -> str:
    return f"rl:{limit.name}:{int(now // limit.window)}:{who_key(secret, limit, who)}"


def _wait(limit: Limit, count: int, now: float) -> int | None:
    if count <= limit.limit:
        return None
    return max(1, math.ceil((int(now // limit.window) + 1) * limit.window - now))


def client_address() -> str:
    """The address a request came from. Behind a proxy, IDP_TRUSTED_PROXIES (the number of
    proxies) makes create_app apply Werkzeug's ProxyFix, which sets it from X-Forwarded-For;
    otherwise every person would share the proxy's address and its limits."""
    return request.remote_addr or "unknown"


def too_many(retry_after: int, as_json: bool | None = None) -> Response:
    """429 with Retry-After and a message in the person's language: a page for browsers,
    JSON (with `message` in that language too) for programs and our own scripts. `as_json`
    forces JSON for endpoints only programs call (/par), whatever their Accept header says."""
    minutes = max(1, math.ceil(retry_after / 60))
    if as_json or (as_json is None and web.wants_json()):
        locale = web.current_locale()
        body = {"error": "too_many_requests",
                "error_description": i18n.translate("rate_limited", "en", minutes=minutes),
                "message": i18n.translate("rate_limited", locale, minutes=minutes)}
        response = Response(json.dumps(body, ensure_ascii=False), status=429,
                            mimetype="application/json")
    else:
        response = web.error_page("too_many_requests", "rate_limited", 429, minutes=minutes)
    response.headers["Retry-After"] = str(retry_after)
    return response
