"""Citizen signing credentials (idp.signing_credentials) on a live provider: issued only to a
person proven and logged in strongly enough, with their verified Thai and English names, the
key in the backend; judged by `openssl verify`, and by `openssl ocsp` against the live
/pki/ocsp before and after revocation; the CRL lists a revoked one; the account page section
and its two buttons work. Runs on SQLite + in-process store and on PostgreSQL + Redis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import inspect, select, text

from idp import signing_credentials as creds
from idp.db import AuditEvent, SigningCredential
from idp.pki.service import Pki
from idp.pki.views import current_pki
from idp.provider import Provider
from idp.settings import Settings
from idp.store import EphemeralStore
from keys.backend import verify_signature
from kyc.assurance import Assurance
from sandbox.personas import get_persona
from tests.support.live import Browser, LiveProvider, serve
from tests.support.openssl import openssl, run, write_pem

SOMCHAI_ID = "1345951597671"  # the sandbox persona's verified citizen ID


@dataclass
class Setup:
    op: LiveProvider
    p: Provider
    pki: Pki
    files: Path

    def person(self, persona: str) -> str:
        from idp.authn.views import person_for_persona

        found = get_persona(persona)
        assert found is not None
        return person_for_persona(self.p, found)

    def acr(self, persona: str) -> str:
        """The acr a sandbox login of this persona gets (its IAL, its AAL)."""
        found = get_persona(persona)
        assert found is not None
        return Assurance(Decimal(found.ial), Decimal(found.aal)).acr(self.p.issuer)

    def issue(self, persona: str, consent_pnoth: bool = False) -> creds.CredentialInfo:
        return creds.issue_credential(self.p, self.pki, self.person(persona), self.acr(persona),
                                      consent_pnoth=consent_pnoth)

    def pem(self, name: str, *certs: x509.Certificate) -> Path:
        return write_pem(self.files / name, *certs)

    def ocsp(self, cert: x509.Certificate) -> tuple[Path, str]:
        leaf = self.pem("leaf.pem", cert)
        issuer = self.pem("citizen.pem", self.pki.ca("citizen").cert)
        out = run("openssl", "ocsp", "-issuer", issuer, "-cert", leaf,
                  "-url", f"{self.op.base}/pki/ocsp",
                  "-CAfile", self.pem("root.pem", self.pki.ca("root").cert), timeout=60)
        return leaf, out


@pytest.fixture
def setup(settings: Settings, store: EphemeralStore, tmp_path: Path) -> Iterator[Setup]:
    with serve(settings, store) as op:
        with op.app.app_context():
            pki = current_pki()
        yield Setup(op, op.app.extensions["idp"], pki, tmp_path)


def attrs(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def audit_of(s: Setup, person_id: str, kind: str) -> list[AuditEvent]:
    with s.p.db.session() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.person_id == person_id,
                                                        AuditEvent.type == kind)))


# --- issuing -----------------------------------------------------------------------------------


def test_somchai_gets_a_certificate_with_his_verified_names(setup: Setup) -> None:
    s = setup
    info = s.issue("somchai")
    cert = info.certificate
    assert cert is not None and info.status == "active"
    assert attrs(cert.subject, NameOID.GIVEN_NAME) == ["Somchai"]
    assert attrs(cert.subject, NameOID.SURNAME) == ["Jaidee"]
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["สมชาย ใจดี (Somchai Jaidee)"]
    assert attrs(cert.subject, NameOID.COUNTRY_NAME) == ["TH"]
    serial_number = attrs(cert.subject, NameOID.SERIAL_NUMBER)
    assert len(serial_number) == 1 and not serial_number[0].startswith("PNO")
    assert SOMCHAI_ID not in cert.subject.rfc4514_string()
    assert cert.issuer == s.pki.ca("citizen").cert.subject
    assert info.issuer == "Citizen Signing CA" or info.issuer  # the CA's common name
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"

    # The key lives in the backend: it signs there, the certificate's key verifies it.
    signature = s.pki.backend.sign(info.key, b"document digest")
    verify_signature(cert.public_key(), info.alg, signature, b"document digest")

    # Asking again returns the same credential.
    again = s.issue("somchai")
    assert (again.id, again.serial) == (info.id, info.serial)

    events = audit_of(s, info.person_id, "signing.credential_issued")
    assert len(events) == 1 and events[0].data["serial"] == info.serial


def test_no_private_key_in_any_database_column(setup: Setup) -> None:
    s = setup
    info = s.issue("somchai")
    with s.p.db.session() as db:
        row = db.get(SigningCredential, info.id)
        assert row is not None
        assert set(row.key_ref) == {"backend", "alg", "public_spki", "ref"}
        tables = inspect(db.get_bind()).get_table_names()
        for table in tables:
            for values in db.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                dumped = " ".join(str(v) for v in values)
                assert "PRIVATE KEY" not in dumped, table
                assert '"d":' not in dumped.replace(" ", ""), table  # no private JWK either


def test_the_certificate_chains_to_our_root_and_ocsp_says_good(setup: Setup) -> None:
    s = setup
    info = s.issue("somchai")
    assert info.certificate is not None
    verified = openssl("verify", "-CAfile", s.pem("root.pem", s.pki.ca("root").cert),
                       "-untrusted", s.pem("citizen.pem", s.pki.ca("citizen").cert),
                       s.pem("cert.pem", info.certificate), check=False)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified
    leaf, out = s.ocsp(info.certificate)
    assert "Response verify OK" in out, out
    assert f"{leaf}: good" in out, out


@pytest.mark.parametrize(("persona", "reason"), [("malee", "ial_too_low"),
                                                 ("boonmee", "aal_too_low")])
def test_refused_when_the_person_or_the_login_is_too_weak(setup: Setup, persona: str,
                                                          reason: str) -> None:
    s = setup
    with pytest.raises(creds.SigningRefused) as refused:
        s.issue(persona)
    assert refused.value.reason == reason
    assert ("identity assurance" if reason == "ial_too_low"
            else "authentication assurance") in str(refused.value)
    with s.p.db.session() as db:
        assert db.scalar(select(SigningCredential)) is None
    assert [c for c in s.pki.list_certificates("citizen")
            if c["profile"] == "citizen_signing"] == []
    assert str(refused.value).isascii() and not re.search(r"\d{13}", str(refused.value))


def test_boonmee_with_a_strong_login_gets_one(setup: Setup) -> None:
    """Her IAL is enough; only her usual OTP login was too weak."""
    s = setup
    person = s.person("boonmee")
    strong = Assurance(Decimal("2.3"), Decimal("2.2")).acr(s.p.issuer)
    info = creds.issue_credential(s.p, s.pki, person, strong)
    assert info.certificate is not None
    assert attrs(info.certificate.subject, NameOID.SURNAME) == ["Meesupsomboon"]
    # Thai and English together are over the 64 bytes X.509 allows: the Thai name alone.
    assert attrs(info.certificate.subject, NameOID.COMMON_NAME) == ["บุญมี มีทรัพย์สมบูรณ์"]


def test_no_verified_names_is_refused(setup: Setup) -> None:
    s = setup
    person = s.person("malee")  # no proofing event: her names are self-asserted
    low = s.p.settings.__class__(**{**s.p.settings.__dict__, "signing_min_ial": "1.1",
                                   "signing_min_aal": "1"})

    @dataclass
    class Ctx:
        settings: Settings
        identifiers: object

    with pytest.raises(creds.SigningRefused) as refused:
        creds.issue_credential(Ctx(low, s.p.identifiers), s.pki,  # type: ignore[arg-type]
                               person, s.acr("malee"))
    assert refused.value.reason == "no_verified_names"


def test_pnoth_only_with_consent(setup: Setup) -> None:
    s = setup
    without = s.issue("somchai")
    assert without.certificate is not None
    assert not attrs(without.certificate.subject, NameOID.SERIAL_NUMBER)[0].startswith("PNO")
    creds.revoke_credential(s.pki, without.person_id)

    with_consent = s.issue("somchai", consent_pnoth=True)
    assert with_consent.certificate is not None
    assert attrs(with_consent.certificate.subject, NameOID.SERIAL_NUMBER) == [
        f"PNOTH-{SOMCHAI_ID}"]
    for event in audit_of(s, with_consent.person_id, "signing.credential_issued"):
        assert SOMCHAI_ID not in json.dumps(event.data)


# --- revoking ----------------------------------------------------------------------------------


def test_revoke_shows_in_ocsp_and_the_crl(setup: Setup) -> None:
    s = setup
    info = s.issue("somchai")
    assert info.certificate is not None
    assert creds.revoke_credential(s.pki, info.person_id) is True
    leaf, out = s.ocsp(info.certificate)
    assert "Response verify OK" in out, out
    assert f"{leaf}: revoked" in out, out

    crl_der = requests.get(f"{s.op.base}/pki/crl/citizen.crl", timeout=10).content
    crl = x509.load_der_x509_crl(crl_der)
    assert crl.get_revoked_certificate_by_serial_number(info.certificate.serial_number)
    crl_text = openssl("crl", "-inform", "DER", "-noout", "-text", "-in",
                       _write(s.files / "citizen.crl", crl_der)).stdout
    assert format(info.certificate.serial_number, "X").lstrip("0")[:16] in crl_text.replace(
        ":", "").upper()

    assert creds.active_credential(s.pki, info.person_id) is None
    latest = creds.latest_credential(s.pki, info.person_id)
    assert latest is not None and latest.status == "revoked"
    assert latest.revoked_reason == "requested"
    revoked = audit_of(s, info.person_id, "signing.credential_revoked")
    assert len(revoked) == 1 and revoked[0].data["serial"] == info.serial
    # Revoking again changes nothing; a new one can then be issued.
    assert creds.revoke_credential(s.pki, info.person_id) is False
    fresh = s.issue("somchai")
    assert fresh.serial != info.serial and fresh.status == "active"


def test_account_closure_revokes_everything(setup: Setup) -> None:
    s = setup
    info = s.issue("somchai")
    assert creds.revoke_all_for_person(s.pki, info.person_id) == 1
    status = s.pki.status("citizen", int(info.serial, 16))
    assert status is not None and status.status == "revoked"
    assert status.reason == "cessationOfOperation"
    assert creds.revoke_all_for_person(s.pki, info.person_id) == 0


def test_a_certificate_revoked_by_the_operator_ends_the_credential(setup: Setup) -> None:
    """`idp ca revoke SERIAL` on a citizen certificate: the credential can no longer sign
    (the signing page and the CSC API ask active_credential), and the person can get a new
    one (the old row no longer holds their slot; its key is destroyed)."""
    s = setup
    info = s.issue("somchai")
    s.pki.revoke(info.serial, "keyCompromise")
    assert creds.active_credential(s.pki, info.person_id) is None
    fresh = s.issue("somchai")
    assert fresh.serial != info.serial and fresh.status == "active"
    old = [c for c in audit_of(s, info.person_id, "signing.credential_revoked")
           if c.data["serial"] == info.serial]
    assert len(old) == 1 and old[0].data["reason"] == "superseded"
    assert old[0].data["key_destroyed"] is True


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the account page --------------------------------------------------------------------------


def visible(html: str) -> str:
    main = html.split("<main", 1)[-1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def account_login(s: Setup, persona: str) -> Browser:
    browser = Browser(s.op.base)
    page = browser.go("/account/login?lang=en")
    assert page.status_code == 200 and "/interaction/" in page.url
    browser.submit("/login", persona=persona)
    return browser


def test_the_account_page_gets_and_revokes_a_certificate(setup: Setup) -> None:
    s = setup
    browser = account_login(s, "somchai")
    page = browser.go("/account?lang=en")
    assert page.status_code == 200
    assert 'id="signing"' in page.text
    assert "You have no signing certificate yet." in visible(page.text)

    issued = browser.submit("/account/signing-certificate")
    assert issued.status_code == 200 and "/account" in issued.url
    text_ = visible(issued.text)
    assert "Your signing certificate has been issued." in text_
    info = creds.active_credential(s.pki, s.person("somchai"))
    assert info is not None and info.not_after is not None
    assert info.serial in issued.text
    assert 'data-status="active"' in issued.text
    assert "Citizen Signing CA" in text_ or (info.issuer or "") in text_

    # Without the confirmation box nothing is revoked.
    unconfirmed = browser.submit("/account/signing-certificate/revoke", confirm="")
    assert 'data-signing-error="confirm_needed"' in unconfirmed.text
    assert creds.active_credential(s.pki, info.person_id) is not None

    revoked = browser.submit("/account/signing-certificate/revoke", confirm="yes")
    assert "Your certificate has been revoked." in visible(revoked.text)
    assert 'data-status="revoked"' in revoked.text
    assert creds.active_credential(s.pki, info.person_id) is None
    status = s.pki.status("citizen", int(info.serial, 16))
    assert status is not None and status.status == "revoked"


def test_the_account_page_says_why_it_refuses(setup: Setup) -> None:
    s = setup
    browser = account_login(s, "boonmee")
    browser.go("/account?lang=en")
    refused = browser.submit("/account/signing-certificate")
    assert 'data-signing-error="aal_too_low"' in refused.text
    assert "Log in again with a passkey" in visible(refused.text)
    assert creds.active_credential(s.pki, s.person("boonmee")) is None


def test_the_buttons_need_the_csrf_token(setup: Setup) -> None:
    s = setup
    browser = account_login(s, "somchai")
    resp = browser.http.post(f"{s.op.base}/account/signing-certificate", data={},
                             timeout=10, allow_redirects=False)
    assert resp.status_code in (400, 403)
    assert creds.active_credential(s.pki, s.person("somchai")) is None
