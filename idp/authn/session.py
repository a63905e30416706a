"""The SSO session: server-side state in the ephemeral store, referenced by a secure cookie.

The cookie holds a random handle; the store key is its SHA-256, so a leaked store dump does not
yield live cookies. The `sid` claim sent to agencies is a separate random value, never the handle.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.oidc.tokens import digest, new_secret
from idp.store import EphemeralStore

COOKIE = "idp_session"


@dataclass
class SsoSession:
    person_id: str
    auth_time: int
    acr: str
    amr: list[str]
    sid: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    clients: list[str] = field(default_factory=list)
    proofing_ial: str | None = None
    """The IAL proven by the proofing this login did (NDID, an upstream), else None; the
    passkey recovery rule reads it (`idp.authn.passkeys.registration_refusal`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(handle: str) -> str:
    return "session:" + digest(handle)


def start(store: EphemeralStore, person_id: str, acr: str, amr: list[str],
          ttl: int, proofing_ial: str | None = None) -> tuple[str, SsoSession]:
    """Start a new session (a new login always gets a new handle: no session fixation)."""
    handle = new_secret()
    session = SsoSession(person_id=person_id, auth_time=int(time.time()), acr=acr, amr=amr,
                         proofing_ial=proofing_ial)
    store.put(_key(handle), session.to_dict(), ttl)
    return handle, session


def load(store: EphemeralStore, handle: str | None) -> SsoSession | None:
    if not handle or len(handle) > 100:
        return None
    data = store.get(_key(handle))
    return SsoSession(**data) if data else None


def save(store: EphemeralStore, handle: str, session: SsoSession, ttl: int) -> None:
    store.put(_key(handle), session.to_dict(), ttl)


def end(store: EphemeralStore, handle: str | None) -> SsoSession | None:
    """End the session, and delete every store key it owns (see `own`)."""
    if not handle or len(handle) > 100:
        return None
    data = store.take(_key(handle))
    if not data:
        return None
    session = SsoSession(**data)
    _release(store, session.sid)
    return session


# --- what a session owns ---------------------------------------------------------------------
# Some things a person leaves with us live exactly as long as their session: documents kept
# on the signing page until they log out, for one. Each is registered under a numbered slot
# (`incr` hands out slot numbers atomically, so concurrent requests never overwrite each
# other's registration); ending the session deletes every registered key. The TTLs still bound
# everything when a session simply expires.


def _owned(sid: str) -> str:
    return "session-owned:" + digest(sid)


def own(store: EphemeralStore, sid: str, key: str, ttl: int) -> None:
    """Delete `key` when the session `sid` ends (logout, or a new login in this browser)."""
    slot = store.incr(_owned(sid), ttl)
    store.put(f"{_owned(sid)}:{slot}", {"key": key}, ttl)


def _release(store: EphemeralStore, sid: str) -> None:
    slots = store.incr(_owned(sid), 1) - 1  # the next slot number, less this call's own
    for slot in range(1, slots + 1):
        item = store.take(f"{_owned(sid)}:{slot}")
        if item and isinstance(item.get("key"), str):
            store.delete(item["key"])
    store.delete(_owned(sid))
