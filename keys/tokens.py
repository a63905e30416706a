"""The key ring the provider signs tokens through, over keys held by a key backend.

The ring holds no private key: each key is a `KeyRef` plus its public JWK, and signing goes
through `KeyBackend.sign`. It signs with the active key of each algorithm, publishes and
verifies with every published key (next, active and retired; see keys.lifecycle), and can
reload itself from its source every so often, so a rotation made by another process (the
`idp keys` command, another node) reaches a running server without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from joserfc import jwt

from keys.backend import KeyBackend, KeyRef
from keys.jws import sign_compact, verify_compact
from keys.lifecycle import ACTIVE, PUBLISHED_STATES

SUPPORTED_ALGS = ("ES256", "PS256", "RS256", "EdDSA")
RELOAD_SECONDS = 30.0
"""How often a ring reloads from its source. Kept below keys.lifecycle.REMOVAL_MARGIN, so a
node that still signs with a key just retired elsewhere stops before that key is removed."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RingKey:
    """One published key: where the backend keeps it, and what the JWKS shows of it."""

    kid: str
    alg: str
    state: str  # next, active or retired
    key_ref: KeyRef
    public_jwk: dict[str, Any]
    public_key: PublicKeyTypes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.state not in PUBLISHED_STATES:
            raise ValueError(f"a key in state {self.state!r} is not published")
        if self.key_ref.alg != self.alg:
            raise ValueError(f"key {self.kid}: key reference is for {self.key_ref.alg}")
        object.__setattr__(self, "public_key", self.key_ref.public_key())


class KeySource(Protocol):
    @property
    def algorithms(self) -> list[str]: ...
    def sign_jwt(self, claims: dict[str, Any], alg: str, typ: str | None = None) -> str: ...
    def public_jwks(self) -> dict[str, Any]: ...
    def verify_jwt(self, token: str, algs: Iterable[str] | None = None) -> jwt.Token: ...


@dataclass(frozen=True)
class _Snapshot:
    keys: tuple[RingKey, ...]
    signing: dict[str, RingKey]
    verifying: dict[str, tuple[str, PublicKeyTypes]]
    jwks: dict[str, Any]

    @classmethod
    def of(cls, keys: Iterable[RingKey]) -> _Snapshot:
        keys = tuple(keys)
        signing: dict[str, RingKey] = {}
        for k in keys:
            if k.state == ACTIVE:
                if k.alg in signing:
                    raise ValueError(f"more than one active {k.alg} key")
                signing[k.alg] = k
        return cls(keys=keys, signing=signing,
                   verifying={k.kid: (k.alg, k.public_key) for k in keys},
                   jwks={"keys": [dict(k.public_jwk) for k in keys]})


class KeyRing:
    """Signs with the active key of each algorithm; publishes and verifies with every
    published key. With `reload`, refreshes its keys from it every `reload_seconds`."""

    def __init__(self, backend: KeyBackend, keys: Iterable[RingKey], *,
                 reload: Callable[[], Iterable[RingKey]] | None = None,
                 reload_seconds: float = RELOAD_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self._snapshot = _Snapshot.of(keys)
        self._reload = reload
        self._reload_seconds = reload_seconds
        self._clock = clock
        self._loaded_at = clock()
        self._lock = threading.Lock()

    # --- loading -------------------------------------------------------------------------

    def _current(self) -> _Snapshot:
        if self._reload is not None and self._clock() - self._loaded_at >= self._reload_seconds:
            self.refresh(force=False)
        return self._snapshot

    def refresh(self, force: bool = True) -> None:
        """Reload the keys from the source now (or, unless forced, if they are due). One
        thread reloads while the others go on with the keys they have; a failed reload keeps
        the keys loaded before and is tried again after the interval."""
        if self._reload is None:
            return
        if not self._lock.acquire(blocking=force):
            return
        try:
            if not force and self._clock() - self._loaded_at < self._reload_seconds:
                return
            try:
                self._snapshot = _Snapshot.of(self._reload())
            except Exception:  # a database or backend outage must not stop signing
                log.warning("reloading the signing keys failed; keeping the keys loaded before",
                            exc_info=True)
            self._loaded_at = self._clock()
        finally:
            self._lock.release()

    # --- the KeySource interface -----------------------------------------------------------

    @property
    def keys(self) -> tuple[RingKey, ...]:
        return self._current().keys

    @property
    def algorithms(self) -> list[str]:
        """Algorithms this ring can sign with (those with an active key)."""
        return sorted(self._current().signing, key=_alg_order)

    def sign_jwt(self, claims: dict[str, Any], alg: str, typ: str | None = None) -> str:
        key = self._current().signing.get(alg)
        if key is None:
            raise ValueError(f"no signing key for {alg}")
        return sign_compact(self.backend, key.key_ref, key.kid, claims, typ=typ or "JWT")

    def public_jwks(self) -> dict[str, Any]:
        jwks = self._current().jwks
        return {"keys": [dict(k) for k in jwks["keys"]]}

    def verify_jwt(self, token: str, algs: Iterable[str] | None = None) -> jwt.Token:
        """Verify a JWT signed with any published key (a token signed before a rotation
        still verifies); raises joserfc errors on any failure. Claims such as `exp` are the
        caller's to check."""
        snap = self._current()
        allowed = set(algs) if algs is not None else {k.alg for k in snap.keys}
        header, claims = verify_compact(token, snap.verifying, allowed)
        return jwt.Token(header, claims)


def _alg_order(alg: str) -> tuple[int, str]:
    return (SUPPORTED_ALGS.index(alg) if alg in SUPPORTED_ALGS else len(SUPPORTED_ALGS), alg)
