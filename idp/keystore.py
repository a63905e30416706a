"""Token signing keys in the database: the glue between keys.lifecycle (what to do), the key
backend (where private keys live) and the `signing_key` table (what is stored: a KeyRef and the
public JWK, never a private key).

Every state change is made under a lock (so two nodes starting at once do not both rotate) and
recorded in the audit trail in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.db import Database, SigningKey, as_utc, lock_writers, utcnow
from idp.settings import Settings
from keys import lifecycle
from keys.backend import KeyBackend, KeyBackendError, KeyRef
from keys.jws import public_jwk
from keys.jws import thumbprint as key_thumbprint
from keys.lifecycle import KeyState, Transition
from keys.tokens import SUPPORTED_ALGS, KeyRing, RingKey

ADVISORY_LOCK_ID = 0x6964_702E_6B65_7973
"""PostgreSQL advisory lock key ("idp.keys" in ASCII) that serialises key ring changes."""


class KeyStoreError(RuntimeError):
    """A signing key cannot be used as stored (wrong backend, key and record disagree)."""


# --- settings ---------------------------------------------------------------------------------


def max_age(settings: Settings) -> timedelta:
    return timedelta(days=settings.key_rotation_days)


def token_lifetime(settings: Settings) -> timedelta:
    return lifecycle.max_token_lifetime(settings.id_token_ttl)


def algorithms(backend: KeyBackend) -> list[str]:
    """The supported algorithms this backend can hold keys for (an HSM may lack Ed25519)."""
    supports = getattr(backend, "supports", None)
    return [alg for alg in SUPPORTED_ALGS if supports is None or supports(alg)]


# --- reading ----------------------------------------------------------------------------------


def state_of(row: SigningKey) -> KeyState:
    created = as_utc(row.created_at)
    assert created is not None
    return KeyState(kid=row.kid, alg=row.alg, state=row.state, created_at=created,
                    activated_at=as_utc(row.activated_at), retired_at=as_utc(row.retired_at),
                    removed_at=as_utc(row.removed_at))


def _rows(s: Session, include_removed: bool = False) -> list[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
    if not include_removed:
        query = query.where(SigningKey.state != lifecycle.REMOVED)
    return list(s.scalars(query))


def list_keys(db: Database) -> list[dict[str, Any]]:
    """Every key record, oldest first, as data fit for printing: no key material."""
    with db.session() as s:
        return [{"kid": r.kid, "alg": r.alg, "state": r.state,
                 "backend": (r.key_ref or {}).get("backend"),
                 "created_at": as_utc(r.created_at), "activated_at": as_utc(r.activated_at),
                 "retired_at": as_utc(r.retired_at), "removed_at": as_utc(r.removed_at)}
                for r in _rows(s, include_removed=True)]


def _lock(s: Session) -> None:
    """Serialise writers of the key ring."""
    lock_writers(s, ADVISORY_LOCK_ID, "UPDATE signing_key SET kid = kid WHERE 0 = 1")


# --- writing ----------------------------------------------------------------------------------


def _label(alg: str) -> str:
    return f"idp-token-signing-{alg}-{secrets.token_hex(8)}"


def _seal_legacy(s: Session, backend: KeyBackend, row: SigningKey) -> None:
    """Move a private JWK stored by an older version into the backend and forget it here."""
    assert row.private_jwk is not None
    key = KeySet.import_key_set({"keys": [row.private_jwk]}).keys[0]
    private_key = key.private_key
    if private_key is None:
        raise KeyStoreError(f"signing key {row.kid}: the stored JWK has no private part")
    ref = backend.import_key(private_key, row.alg, _label(row.alg))  # type: ignore[arg-type]
    row.key_ref = ref.to_dict()
    row.public_jwk = public_jwk(ref, row.kid)
    row.private_jwk = None
    if row.state == lifecycle.ACTIVE and row.activated_at is None:
        row.activated_at = row.created_at
    audit.record(s, "key.sealed", kid=row.kid, alg=row.alg, backend=backend.name)


def _create(s: Session, backend: KeyBackend, t: Transition, now: datetime) -> SigningKey:
    ref = backend.generate(t.alg, _label(t.alg))
    kid = key_thumbprint(ref)
    row = SigningKey(kid=kid, alg=t.alg, state=t.state, key_ref=ref.to_dict(),
                     public_jwk=public_jwk(ref, kid), private_jwk=None, created_at=now,
                     activated_at=now if t.state == lifecycle.ACTIVE else None)
    s.add(row)
    s.flush()
    audit.record(s, "key.created", kid=kid, alg=t.alg, state=t.state, reason=t.reason)
    if t.state == lifecycle.ACTIVE:
        audit.record(s, "key.activated", kid=kid, alg=t.alg, reason=t.reason)
    return row


def _apply(s: Session, backend: KeyBackend, rows: dict[str, SigningKey],
           steps: Iterable[Transition], now: datetime) -> list[Transition]:
    """Make the transitions; returns them with the kids of keys created filled in."""
    done: list[Transition] = []
    for t in steps:
        if t.action == "create":
            row = _create(s, backend, t, now)
            rows[row.kid] = row
            done.append(replace(t, kid=row.kid))
            continue
        assert t.kid is not None
        row = rows[t.kid]
        if (row.state, t.state) not in lifecycle.ALLOWED:
            raise KeyStoreError(f"signing key {row.kid} cannot go from {row.state} to {t.state}")
        row.state = t.state
        if t.action == "activate":
            row.activated_at = now
            audit.record(s, "key.activated", kid=row.kid, alg=row.alg, reason=t.reason)
        elif t.action == "retire":
            row.retired_at = now
            audit.record(s, "key.retired", kid=row.kid, alg=row.alg, reason=t.reason)
        elif t.action == "remove":
            _destroy(backend, row)
            row.removed_at = now
            row.key_ref = None
            audit.record(s, "key.removed", kid=row.kid, alg=row.alg, reason=t.reason)
        else:
            raise KeyStoreError(f"unknown key transition {t.action!r}")
        done.append(t)
    s.flush()
    return done


def _destroy(backend: KeyBackend, row: SigningKey) -> None:
    if not row.key_ref:
        return
    ref = KeyRef.from_dict(row.key_ref)
    if ref.backend != backend.name:
        return  # held by another backend; its record is cleared all the same
    with suppress(KeyBackendError):  # already gone; the record no longer points at it either
        backend.destroy(ref)


def _change(db: Database, backend: KeyBackend,
            plan: Callable[[list[KeyState]], list[Transition]], now: datetime,
            ) -> list[Transition]:
    """Under the key ring lock: seal legacy rows, plan over the current rows, apply."""
    with db.session() as s:
        _lock(s)
        rows = _rows(s, include_removed=True)
        for row in rows:
            if row.key_ref is not None and row.state != "removed":
                _check_held(backend, row)
            if row.private_jwk is not None:
                _seal_legacy(s, backend, row)
        steps = plan([state_of(r) for r in rows])
        return _apply(s, backend, {r.kid: r for r in rows}, steps, now)


# --- the key ring -----------------------------------------------------------------------------


def _check_held(backend: KeyBackend, row: SigningKey) -> None:
    """Stop before planning anything when the configured backend cannot use the keys on
    record: a wrong KEK (or token) would otherwise seal new keys that the others cannot use."""
    ref = KeyRef.from_dict(row.key_ref or {})
    if ref.backend != backend.name:
        raise KeyStoreError(f"signing key {row.kid} is held by the {ref.backend} backend, but "
                            f"IDP_KEY_BACKEND is {backend.name}")
    try:
        backend.check(ref)
    except KeyBackendError as exc:
        raise KeyStoreError(f"signing key {row.kid}: {exc}; check IDP_KEK / IDP_KEK_FILE "
                            "(or the PKCS#11 token settings)") from None


def _ring_key(row: SigningKey, backend: KeyBackend) -> RingKey:
    if not row.key_ref or not row.public_jwk:
        raise KeyStoreError(f"signing key {row.kid} has no key reference")
    _check_held(backend, row)
    ref = KeyRef.from_dict(row.key_ref)
    if public_jwk(ref, row.kid) != row.public_jwk:
        raise KeyStoreError(f"signing key {row.kid}: the key reference does not match the "
                            "published key")
    return RingKey(kid=row.kid, alg=row.alg, state=row.state, key_ref=ref,
                   public_jwk=dict(row.public_jwk))


def sync(db: Database, backend: KeyBackend, settings: Settings,
         now: datetime | None = None) -> list[RingKey]:
    """Bring the stored keys up to date (first run, legacy rows, due rotations, removals) and
    return the published ones. Takes the lock only when something has to change."""
    now = now or utcnow()

    def plan(states: list[KeyState]) -> list[Transition]:
        return lifecycle.plan_maintenance(states, algorithms(backend), now, max_age(settings),
                                          token_lifetime(settings))

    with db.session() as s:
        rows = _rows(s)
        pending = plan([state_of(r) for r in rows]) or any(r.private_jwk for r in rows)
    if pending:
        _change(db, backend, plan, now)
    with db.session() as s:
        published = [r for r in _rows(s) if r.state in lifecycle.PUBLISHED_STATES]
        order = {k.kid: i for i, k in enumerate(lifecycle.published(map(state_of, published)))}
        published.sort(key=lambda r: order[r.kid])
        return [_ring_key(r, backend) for r in published]


def load_ring(db: Database, backend: KeyBackend, settings: Settings,
              now: datetime | None = None) -> KeyRing:
    """The provider's key ring. Creates an active and a next key per supported algorithm on
    first run, seals legacy rows, applies due rotations and removals; the ring then reloads
    itself (applying the same) every keys.tokens.RELOAD_SECONDS."""
    return KeyRing(backend, sync(db, backend, settings, now),
                   reload=lambda: sync(db, backend, settings))


def rotate(db: Database, backend: KeyBackend, alg: str,
           now: datetime | None = None) -> list[Transition]:
    """Rotate `alg` now: its next key becomes active, the active key retires, a new next key
    is made. Returns the transitions made."""
    _check_alg(alg)
    at = now or utcnow()
    return _change(db, backend, lambda ks: lifecycle.plan_rotation(ks, alg, at), at)


def rotate_due(db: Database, backend: KeyBackend, settings: Settings,
               algs: Iterable[str] | None = None,
               now: datetime | None = None) -> list[Transition]:
    """What loading the ring does, now: rotation of keys older than IDP_KEY_ROTATION_DAYS and
    missing keys (for `algs`, default all the backend can hold), and removal of retired keys
    whose tokens have all expired."""
    algs = algorithms(backend) if algs is None else list(algs)
    for alg in algs:
        _check_alg(alg)
    at = now or utcnow()
    return _change(db, backend, lambda ks: lifecycle.plan_maintenance(
        ks, algs, at, max_age(settings), token_lifetime(settings)), at)


def _check_alg(alg: str) -> None:
    if alg not in SUPPORTED_ALGS:
        raise ValueError(f"unsupported signing algorithm {alg!r}; supported: "
                         f"{', '.join(SUPPORTED_ALGS)}")


def retire(db: Database, backend: KeyBackend, kid: str,
           now: datetime | None = None) -> list[Transition]:
    """Withdraw one key by hand (an active key is rotated out, a next key replaced)."""
    at = now or utcnow()
    return _change(db, backend, lambda ks: lifecycle.plan_retire(ks, kid, at), at)
