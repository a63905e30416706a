"""Agency seal credentials: a key per agency (client) in the key backend and an `agency_seal`
certificate for it from the seal CA, naming the organisation (O) and its organizationIdentifier
(EN 319 412-1, e.g. NTRTH-0105...). The agency is the signer (SCAL1): a client_credentials
token with scope `seal` is what authorises a seal, no person confirms it.

At most one active seal per client (the unique `active_client_id` enforces it on every
database); provisioning again replaces the old one only when asked, revoking its certificate.
No Flask: `idp clients seal` and the CSC endpoints call these functions.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import select, update

from idp import audit
from idp.db import Certificate, Client, SealCredential, utcnow
from idp.pki.service import Pki
from keys import ca as profiles
from keys.backend import KeyBackendError, KeyRef

SEAL_CA = "seal"
DEFAULT_ALG = "ES256"
SEAL_ALGS = ("ES256", "ES384", "RS256")


class SealError(ValueError):
    """A seal cannot be provisioned; the message says why (no secret in it)."""


@dataclass(frozen=True)
class SealInfo:
    id: str
    client_id: str
    org_id: str
    alg: str
    key: KeyRef
    certificate: x509.Certificate
    serial: str


def _info(row: SealCredential, cert_row: Certificate) -> SealInfo:
    return SealInfo(id=row.id, client_id=row.client_id, org_id=row.org_id, alg=row.alg,
                    key=KeyRef.from_dict(row.key_ref),
                    certificate=x509.load_der_x509_certificate(cert_row.cert_der),
                    serial=row.certificate_serial)


def active_seal(pki: Pki, client_id: str) -> SealInfo | None:
    """The client's active seal credential, if any (and if its certificate is still good)."""
    with pki.db.session() as s:
        row = s.scalar(select(SealCredential).where(
            SealCredential.active_client_id == client_id))
        if row is None:
            return None
        cert_row = s.get(Certificate, row.certificate_serial)
        if cert_row is None or cert_row.status != "good":
            return None
        return _info(row, cert_row)


def seal_by_id(pki: Pki, credential_id: str) -> SealInfo | None:
    with pki.db.session() as s:
        row = s.get(SealCredential, credential_id)
        if row is None or row.status != "active":
            return None
        cert_row = s.get(Certificate, row.certificate_serial)
        return _info(row, cert_row) if cert_row is not None and cert_row.status == "good" \
            else None


def provision_seal(pki: Pki, client_id: str, org_id: str, *, org_name: str | None = None,
                   alg: str = DEFAULT_ALG, replace: bool = False) -> SealInfo:
    """A new seal key and certificate for `client_id`; SealError when the client is unknown,
    the organisation identifier is malformed, or it already has a seal and `replace` is off."""
    if alg not in SEAL_ALGS:
        raise SealError(f"seal keys use one of {', '.join(SEAL_ALGS)}")
    try:
        profiles.check_organization_identifier(org_id)
    except ValueError as exc:
        raise SealError(str(exc)) from None
    with pki.db.session() as s:
        client = s.get(Client, client_id)
        if client is None:
            raise SealError("no such client")
        name = (org_name or client.client_name_en or client.client_name_th or "").strip()
    if not name:
        raise SealError("the organisation needs a name (--org-name)")
    _retire_stale(pki, client_id)
    existing = active_seal(pki, client_id)
    if existing is not None and not replace:
        raise SealError("this client already has a seal; use --replace to make a new one")
    if existing is not None:
        revoke_seal(pki, client_id, "superseded")
    credential_id = str(uuid.uuid4())
    key = pki.backend.generate(alg, f"seal-{credential_id[:8]}-{secrets.token_hex(4)}")
    try:
        cert = pki.issue(SEAL_CA, "agency_seal", key.public_key(),
                         {"O": name[:64], "organizationIdentifier": org_id, "C": "TH"},
                         client_id=client_id)
    except BaseException:
        pki.backend.destroy(key)
        raise
    serial = profiles.serial_hex(cert.serial_number)
    with pki.db.session() as s:
        s.add(SealCredential(id=credential_id, client_id=client_id,
                             active_client_id=client_id, key_ref=key.to_dict(), alg=alg,
                             certificate_serial=serial, org_id=org_id, status="active"))
        s.flush()
        audit.record(s, "signing.seal_issued", client_id=client_id, credential=credential_id,
                     serial=serial, alg=alg, org_id=org_id)
    found = active_seal(pki, client_id)
    assert found is not None
    return found


def _retire_stale(pki: Pki, client_id: str) -> None:
    """Free the client's seal slot when its certificate was revoked outside this module
    (`idp ca revoke SERIAL`): the row still holds the one-seal-per-client slot, and without
    this no new seal could ever be provisioned for the agency."""
    with pki.db.session() as s:
        row = s.scalar(select(SealCredential).where(
            SealCredential.active_client_id == client_id))
        if row is None:
            return
        cert_row = s.get(Certificate, row.certificate_serial)
        if cert_row is not None and cert_row.status == "good":
            return
        row.status, row.active_client_id, row.revoked_at = "revoked", None, utcnow()
        key = KeyRef.from_dict(row.key_ref)
        audit.record(s, "signing.seal_retired", client_id=client_id, credential=row.id,
                     serial=row.certificate_serial, reason="certificate_revoked")
    with contextlib.suppress(KeyBackendError):
        pki.backend.destroy(key)


def revoke_seal(pki: Pki, client_id: str, reason: str = "unspecified") -> bool:
    """Revoke the client's active seal: its certificate first, then the row, then the key."""
    with pki.db.session() as s:
        row = s.scalar(select(SealCredential).where(
            SealCredential.active_client_id == client_id))
        if row is None:
            return False
        row_id, serial, key = row.id, row.certificate_serial, KeyRef.from_dict(row.key_ref)
    pki.revoke(serial, reason)
    with pki.db.session() as s:
        s.execute(update(SealCredential).where(SealCredential.id == row_id)
                  .values(status="revoked", active_client_id=None, revoked_at=utcnow()))
        audit.record(s, "signing.seal_revoked", client_id=client_id, credential=row_id,
                     serial=serial, reason=reason)
    # Revoked all the same if the key cannot be destroyed: the certificate is what counts.
    with contextlib.suppress(KeyBackendError):
        pki.backend.destroy(key)
    return True
