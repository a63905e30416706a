"""The provider's parts, built once per application from settings and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import current_app
from sqlalchemy import select

from idp.db import Client, Database, SigningKey, utcnow
from idp.oidc.subject import subject_for, subject_key
from idp.settings import Settings
from idp.store import EphemeralStore, open_store
from keys.tokens import SUPPORTED_ALGS, KeyRing, generate_private_jwk


@dataclass
class Provider:
    settings: Settings
    db: Database
    store: EphemeralStore
    keys: KeyRing

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @cached_property
    def _subject_key(self) -> bytes:
        return subject_key(self.settings.subject_key or self.settings.secret_key)

    def subject(self, client: Client, person_id: str) -> str:
        """The `sub` this client knows the person by (pairwise per sector unless public)."""
        return subject_for(client, person_id, self._subject_key)


def load_keyring(db: Database) -> KeyRing:
    """Load active signing keys, creating one per supported algorithm on first run."""
    with db.session() as s:
        rows = list(s.scalars(select(SigningKey).where(SigningKey.state == "active")))
        have = {r.alg for r in rows}
        for alg in SUPPORTED_ALGS:
            if alg not in have:
                jwk = generate_private_jwk(alg)
                row = SigningKey(kid=jwk["kid"], alg=alg, private_jwk=jwk, created_at=utcnow())
                s.add(row)
                rows.append(row)
        jwks = [r.private_jwk for r in sorted(rows, key=lambda r: r.created_at)]
    return KeyRing(jwks)


def build_provider(settings: Settings, store: EphemeralStore | None = None) -> Provider:
    db = Database(settings.database_url)
    return Provider(
        settings=settings,
        db=db,
        store=store if store is not None else open_store(settings.redis_url),
        keys=load_keyring(db),
    )


def current_provider() -> Provider:
    provider: Provider = current_app.extensions["idp"]
    return provider
