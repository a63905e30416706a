"""A live provider (so /pki/ TSA, OCSP and CRLs answer over HTTP), our hierarchy, a citizen
key and an agency seal key made in the provider's key backend with their certificates, and
an NSS database trusting our root for pdfsig."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from idp.pki.service import Pki
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import EphemeralStore
from keys.backend import KeyBackend
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import offline_context, signing_context
from tests.support.live import LiveProvider, serve
from tests.support.openssl import write_pem
from tests.support.pdfjudges import nss_db


@dataclass
class SigningEnv:
    op: LiveProvider
    pki: Pki
    backend: KeyBackend
    citizen: BackendSigner
    seal: BackendSigner
    work: Path
    nss: Path
    root_pem: Path
    chain_pem: Path

    @property
    def root(self) -> x509.Certificate:
        return self.pki.ca("root").cert

    def intermediates(self) -> list[x509.Certificate]:
        return [self.pki.ca(i).cert for i in ("citizen", "seal", "tsa")]

    def timestamper(self):  # type: ignore[no-untyped-def]
        return our_timestamper(self.op.base)

    def signing_context(self):  # type: ignore[no-untyped-def]
        return signing_context([self.root], self.intermediates())

    def offline_context(self):  # type: ignore[no-untyped-def]
        return offline_context([self.root], self.intermediates())


def make_signer(pki: Pki, backend: KeyBackend, ca_id: str, profile: str,
                subject: dict[str, str], alg: str = "ES256") -> BackendSigner:
    key = backend.generate(alg, f"test-{profile}")
    cert = pki.issue(ca_id, profile, key.public_key(), subject)
    return BackendSigner(backend, key, cert, pki.chain(ca_id))


@pytest.fixture
def signing_env(settings: Settings, store: EphemeralStore, tmp_path: Path
                ) -> Iterator[SigningEnv]:
    with serve(settings, store) as op:
        with op.app.app_context():
            pki = current_pki()
        backend = op.app.extensions["idp"].backend
        citizen = make_signer(pki, backend, "citizen", "citizen_signing",
                              {"GN": "Somchai", "SN": "Jaidee"})
        seal = make_signer(pki, backend, "seal", "agency_seal",
                           {"O": "Department of Testing",
                            "organizationIdentifier": "NTRTH-0994000000000",
                            "CN": "Department of Testing"})
        root_pem = write_pem(tmp_path / "root.pem", pki.ca("root").cert)
        chain_pem = write_pem(tmp_path / "chain.pem",
                              *[pki.ca(i).cert for i in ("citizen", "seal", "tsa")])
        nss = nss_db(tmp_path / "nss", pki.ca("root").cert)
        yield SigningEnv(op, pki, backend, citizen, seal, tmp_path, nss, root_pem, chain_pem)
