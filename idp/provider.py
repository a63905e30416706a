"""The provider's parts, built once per application from settings and shared by every request."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from flask import current_app

from idp.client_cache import ClientCache
from idp.db import Client, Database
from idp.keystore import load_ring
from idp.oidc.subject import subject_for, subject_key
from idp.oidc.tally import AgencyTokenTally
from idp.persons import identifier_protector
from idp.settings import ROOT, Settings
from idp.store import EphemeralStore, open_store
from keys.backend import KeyBackend, KeyBackendError
from keys.software import SoftwareBackend, load_kek, new_kek
from keys.tokens import KeyRing
from kyc.identifiers import IdentifierProtector


@dataclass
class Provider:
    settings: Settings
    db: Database
    store: EphemeralStore
    keys: KeyRing
    backend: KeyBackend

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @cached_property
    def clients(self) -> ClientCache:
        """Client rows for the endpoints every agency request goes through (idp.client_cache)."""
        return ClientCache(self.db)

    @cached_property
    def agency_tokens(self) -> AgencyTokenTally:
        """Agency tokens counted for the audit trail (idp.oidc.tally)."""
        return AgencyTokenTally(self.db)

    @cached_property
    def _subject_key(self) -> bytes:
        return subject_key(self.settings.subject_key or self.settings.secret_key)

    @cached_property
    def identifiers(self) -> IdentifierProtector:
        """Keys for national ID lookup hashes and sealed copies (see idp.persons)."""
        return identifier_protector(self.settings.subject_key or self.settings.secret_key)

    def subject(self, client: Client, person_id: str) -> str:
        """The `sub` this client knows the person by (pairwise per sector unless public)."""
        return subject_for(client, person_id, self._subject_key)


DEMO_KEK_FILE = ROOT / "var" / "demo-kek"


def _kek(settings: Settings) -> bytes:
    """The key-encryption key: from IDP_KEK or IDP_KEK_FILE; outside production, a demo KEK
    file is made on first run (production refuses to start without one, see settings)."""
    if settings.kek:
        return load_kek(settings.kek)
    path = Path(settings.kek_file) if settings.kek_file else DEMO_KEK_FILE
    if not path.exists() and not settings.kek_file and not settings.production:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_kek() + "\n")
    try:
        return load_kek(path.read_bytes())
    except OSError as exc:
        raise KeyBackendError(f"cannot read the key-encryption key file {path}") from exc


def open_backend(settings: Settings) -> KeyBackend:
    """The configured key backend; an unknown name is an error in every mode, because falling
    back to software keys would quietly put keys where the operator did not ask."""
    if settings.key_backend not in ("software", "pkcs11"):
        raise KeyBackendError(f"IDP_KEY_BACKEND must be 'software' or 'pkcs11' "
                              f"(got {settings.key_backend[:20]!r})")
    if settings.key_backend == "pkcs11":
        from keys.pkcs11 import Pkcs11Backend

        return Pkcs11Backend(module=settings.pkcs11_module or "",
                             token_label=settings.pkcs11_token or "",
                             pin=settings.pkcs11_pin or "")
    return SoftwareBackend(_kek(settings))


def build_provider(settings: Settings, store: EphemeralStore | None = None) -> Provider:
    db = Database(settings.database_url)
    backend = open_backend(settings)
    return Provider(
        settings=settings,
        db=db,
        store=store if store is not None else open_store(settings.redis_url),
        keys=load_ring(db, backend, settings),
        backend=backend,
    )


def current_provider() -> Provider:
    provider: Provider = current_app.extensions["idp"]
    return provider
