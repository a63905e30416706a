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
    if not handle or len(handle) > 100:
        return None
    data = store.take(_key(handle))
    return SsoSession(**data) if data else None
