"""Certificate profiles (keys.ca) and signing through a key backend (keys.x509sign), without a
database. Every backend of tests/keys/conftest.py (sealed software keys, SoftHSM2 over PKCS#11)
signs; OpenSSL, run as a separate process on files, is the judge of chains, extensions and CRLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keys import ca
from keys.backend import KeyBackend, KeyRef
from keys.software import SoftwareBackend, generate_private_key, sign_with
from keys.x509sign import X509SigningError, sign_certificate, sign_crl
from tests.support.openssl import openssl, write_pem

BASE = "https://id.example.go.th"
TH_ID = "1101700207366"  # valid check digit, made up


@dataclass
class Chain:
    backend: KeyBackend
    root: x509.Certificate
    root_key: KeyRef
    issuing: x509.Certificate
    issuing_key: KeyRef

    @property
    def issuer(self) -> ca.Issuer:
        return ca.Issuer("citizen", self.issuing, BASE)

    def issue(self, profile: str, subject: x509.Name, public_key: Any | None = None,
              *, under_root: bool = False) -> x509.Certificate:
        if public_key is None:
            public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
        issuer = ca.Issuer("root", self.root, BASE) if under_root else self.issuer
        extensions = ca.END_ENTITY_PROFILES[profile](public_key, issuer)
        nb, na = ca.validity(ca.DAYS[profile], issuer_cert=issuer.cert)
        return ca.issue_certificate(
            subject=subject, public_key=public_key, extensions=extensions, not_before=nb,
            not_after=na, issuer_key_ref=self.root_key if under_root else self.issuing_key,
            backend=self.backend, issuer_cert=issuer.cert)


def make_chain(backend: KeyBackend, root_alg: str = ca.CA_ALG,
               issuing_alg: str = ca.CA_ALG) -> Chain:
    root_key = backend.generate(root_alg, "test-root")
    nb, na = ca.validity(ca.DAYS["root_ca"])
    root_name = ca.ca_name("Test PKI", "Test Root CA")
    root = ca.issue_certificate(subject=root_name, public_key=root_key.public_key(),
                                extensions=ca.root_ca(root_key.public_key()), not_before=nb,
                                not_after=na, issuer_key_ref=root_key, backend=backend)
    issuing_key = backend.generate(issuing_alg, "test-issuing")
    nb, na = ca.validity(ca.DAYS["issuing_ca"], issuer_cert=root)
    issuing = ca.issue_certificate(
        subject=ca.ca_name("Test PKI", "Test Citizen CA"), public_key=issuing_key.public_key(),
        extensions=ca.issuing_ca(issuing_key.public_key(), ca.Issuer("root", root, BASE),
                                 (ca.POLICY_CITIZEN,)),
        not_before=nb, not_after=na, issuer_key_ref=root_key, backend=backend,
        issuer_cert=root)
    return Chain(backend, root, root_key, issuing, issuing_key)


@pytest.fixture
def chain(key_backend: KeyBackend) -> Chain:
    return make_chain(key_backend)


@pytest.fixture
def soft_chain(software_backend: SoftwareBackend) -> Chain:
    return make_chain(software_backend)


def citizen_name(consent: bool = False) -> x509.Name:
    return ca.citizen_subject({"GN": "สมชาย", "SN": "ใจดี"}, consent_pnoth=consent,
                              th_id=TH_ID if consent else None)


def seal_name() -> x509.Name:
    return ca.seal_subject({"O": "กรมตัวอย่าง", "organizationIdentifier": "GOVTH-00001"})


def service_name(cn: str) -> x509.Name:
    return ca.service_subject({"O": "Test PKI", "CN": cn})


PROFILE_SUBJECTS = {
    "citizen_signing": (citizen_name, "smimesign"),
    "agency_seal": (seal_name, "smimesign"),
    "tsa_unit": (lambda: service_name("Test TSA"), "timestampsign"),
    "ocsp_responder": (lambda: service_name("Test OCSP"), "ocsphelper"),
}


# --- chains: openssl verify --------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILE_SUBJECTS))
def test_each_profile_chains_to_the_root(chain: Chain, profile: str, tmp_path: Path) -> None:
    make_subject, purpose = PROFILE_SUBJECTS[profile]
    cert = chain.issue(profile, make_subject())
    root = write_pem(tmp_path / "root.pem", chain.root)
    issuing = write_pem(tmp_path / "ca.pem", chain.issuing)
    leaf = write_pem(tmp_path / "leaf.pem", cert)
    out = openssl("verify", "-CAfile", str(root), "-untrusted", str(issuing), str(leaf))
    assert out.stdout.strip().endswith(": OK")
    out = openssl("verify", "-purpose", purpose, "-CAfile", str(root), "-untrusted",
                  str(issuing), str(leaf))
    assert out.stdout.strip().endswith(": OK")


def test_root_and_issuing_ca_verify(chain: Chain, tmp_path: Path) -> None:
    root = write_pem(tmp_path / "root.pem", chain.root)
    issuing = write_pem(tmp_path / "ca.pem", chain.issuing)
    assert openssl("verify", "-CAfile", str(root), str(root)).stdout.strip().endswith("OK")
    assert openssl("verify", "-CAfile", str(root), str(issuing)).stdout.strip().endswith("OK")
    chain.issuing.verify_directly_issued_by(chain.root)
    chain.root.verify_directly_issued_by(chain.root)


def test_an_end_entity_cannot_act_as_a_ca(soft_chain: Chain, tmp_path: Path) -> None:
    """basicConstraints cA=false on end entities, pathlen 0 on the issuing CA: a certificate
    signed by a citizen key is refused by openssl."""
    holder = ec.generate_private_key(ec.SECP256R1())
    leaf = soft_chain.issue("citizen_signing", citizen_name(), holder.public_key())
    backend = soft_chain.backend
    holder_ref = backend.import_key(holder, "ES256", "holder")
    forged = ca.issue_certificate(
        subject=service_name("forged"), public_key=ec.generate_private_key(
            ec.SECP256R1()).public_key(),
        extensions=ca.ocsp_responder(ec.generate_private_key(ec.SECP256R1()).public_key(),
                                     ca.Issuer("x", leaf, BASE)),
        not_before=datetime.now(UTC) - timedelta(minutes=1),
        not_after=datetime.now(UTC) + timedelta(days=1),
        issuer_key_ref=holder_ref, backend=backend, issuer_cert=leaf)
    root = write_pem(tmp_path / "root.pem", soft_chain.root)
    untrusted = tmp_path / "untrusted.pem"
    untrusted.write_bytes(soft_chain.issuing.public_bytes(serialization.Encoding.PEM)
                          + leaf.public_bytes(serialization.Encoding.PEM))
    out = openssl("verify", "-CAfile", str(root), "-untrusted", str(untrusted),
                  str(write_pem(tmp_path / "forged.pem", forged)), check=False)
    assert out.returncode != 0


# --- extensions as openssl shows them ----------------------------------------------------------


def text_of(cert: x509.Certificate, tmp_path: Path) -> str:
    return openssl("x509", "-in", str(write_pem(tmp_path / "c.pem", cert)), "-noout",
                   "-text").stdout


def test_citizen_certificate_extensions(soft_chain: Chain, tmp_path: Path) -> None:
    text = text_of(soft_chain.issue("citizen_signing", citizen_name()), tmp_path)
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation\n", text)
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:FALSE", text)
    assert "Extended Key Usage" not in text
    assert f"Policy: {ca.POLICY_CITIZEN}" in text
    assert f"OCSP - URI:{BASE}/pki/ocsp" in text
    assert f"CA Issuers - URI:{BASE}/pki/ca/citizen.crt" in text
    assert f"URI:{BASE}/pki/crl/citizen.crl" in text
    assert "X509v3 Subject Key Identifier" in text
    assert "X509v3 Authority Key Identifier" in text
    assert "qcStatements" not in text and "1.3.6.1.5.5.7.1.3" not in text
    assert "PNOTH" not in text and TH_ID not in text


def test_pnoth_serial_number_only_with_consent(soft_chain: Chain, tmp_path: Path) -> None:
    with_consent = soft_chain.issue("citizen_signing", citizen_name(consent=True))
    subject = openssl("x509", "-in", str(write_pem(tmp_path / "a.pem", with_consent)), "-noout",
                      "-subject", "-nameopt", "RFC2253").stdout
    assert f"serialNumber=PNOTH-{TH_ID}" in subject
    assert "C=TH" in subject and re.search(r"\b(GN|givenName)=", subject)
    without = soft_chain.issue("citizen_signing", citizen_name(consent=False))
    subject = openssl("x509", "-in", str(write_pem(tmp_path / "b.pem", without)), "-noout",
                      "-subject", "-nameopt", "RFC2253").stdout
    serial = re.search(r"serialNumber=([^,\n]+)", subject)
    assert serial and re.fullmatch(r"[0-9A-F]{32}", serial.group(1))
    assert TH_ID not in subject


def test_consent_without_an_id_number_or_a_bad_one_is_refused() -> None:
    with pytest.raises(ValueError):
        ca.citizen_subject({"GN": "A", "SN": "B"}, consent_pnoth=True)
    with pytest.raises(ValueError, match="check digit"):
        ca.citizen_subject({"GN": "A", "SN": "B"}, consent_pnoth=True, th_id="1101700207367")
    with pytest.raises(ValueError, match="serialNumber"):
        ca.citizen_subject({"GN": "A", "serialNumber": f"PNOTH-{TH_ID}"})
    with pytest.raises(ValueError, match="citizen"):
        ca.subject_for("agency_seal", {"O": "X", "organizationIdentifier": "GOVTH-1"},
                       th_id=TH_ID)


def test_seal_certificate_carries_organisation_identifier(soft_chain: Chain,
                                                          tmp_path: Path) -> None:
    cert = soft_chain.issue("agency_seal", seal_name())
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value \
        == "GOVTH-00001"
    text = text_of(cert, tmp_path)
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation\n", text)
    assert f"Policy: {ca.POLICY_SEAL}" in text
    with pytest.raises(ValueError):
        ca.seal_subject({"O": "X"})
    with pytest.raises(ValueError):
        ca.seal_subject({"O": "X", "organizationIdentifier": "12345"})
    assert ca.organization_identifier("NTR", "0105558000001") == "NTRTH-0105558000001"
    with pytest.raises(ValueError):
        ca.organization_identifier("NTR", "123")


def test_tsa_certificate_extensions(soft_chain: Chain, tmp_path: Path) -> None:
    text = text_of(soft_chain.issue("tsa_unit", service_name("TSA"), under_root=True), tmp_path)
    assert re.search(r"X509v3 Extended Key Usage: critical\s+Time Stamping\n", text)
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature\n", text)
    assert f"CA Issuers - URI:{BASE}/pki/ca/root.crt" in text
    assert f"URI:{BASE}/pki/crl/root.crl" in text


def test_ocsp_responder_extensions(soft_chain: Chain, tmp_path: Path) -> None:
    cert = soft_chain.issue("ocsp_responder", service_name("OCSP"))
    text = text_of(cert, tmp_path)
    assert re.search(r"X509v3 Extended Key Usage:\s+OCSP Signing\n", text)
    assert "OCSP No Check" in text
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=31)


def test_ca_certificate_extensions(soft_chain: Chain, tmp_path: Path) -> None:
    root = text_of(soft_chain.root, tmp_path)
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:TRUE\n", root)
    assert re.search(r"X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n", root)
    assert "Authority Information Access" not in root
    issuing = text_of(soft_chain.issuing, tmp_path)
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0", issuing)
    assert f"CA Issuers - URI:{BASE}/pki/ca/root.crt" in issuing
    assert "ecdsa-with-SHA384" in issuing


def test_aki_names_the_real_issuer_key(soft_chain: Chain) -> None:
    leaf = soft_chain.issue("citizen_signing", citizen_name())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = soft_chain.issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    root_aki = soft_chain.root.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value
    root_ski = soft_chain.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert root_aki.key_identifier == root_ski.digest


# --- signing through the backend ---------------------------------------------------------------


def test_every_algorithm_signs_certificates_and_crls(alg: str, key_backend: KeyBackend,
                                                     tmp_path: Path) -> None:
    """Self-signed root and a CRL with each backend algorithm, judged by openssl."""
    c = make_chain(key_backend, root_alg=alg, issuing_alg=alg)
    root = write_pem(tmp_path / "root.pem", c.root)
    assert openssl("verify", "-CAfile", str(root), str(root)).stdout.strip().endswith("OK")
    out = openssl("verify", "-CAfile", str(root), str(write_pem(tmp_path / "i.pem", c.issuing)))
    assert out.stdout.strip().endswith("OK")
    now = datetime.now(UTC)
    crl = ca.build_crl(c.root, c.root_key, key_backend, [(12345, now, "superseded")], 1, now,
                       now + timedelta(days=1))
    assert crl.is_signature_valid(c.root.public_key())  # type: ignore[arg-type]
    out = openssl("crl", "-in", str(write_pem(tmp_path / "crl.pem", crl)), "-CAfile", str(root),
                  "-noout")
    assert "verify OK" in out.stdout + out.stderr


class WrongKeyBackend:
    """Signs with some other key: what a misconfigured HSM slot would do."""

    name = "software"

    def __init__(self) -> None:
        self.other = generate_private_key("ES384")

    def generate(self, alg: str, label: str) -> KeyRef:
        raise NotImplementedError

    def import_key(self, private_key: Any, alg: str, label: str) -> KeyRef:
        raise NotImplementedError

    def sign(self, key: KeyRef, data: bytes) -> bytes:
        return sign_with(self.other, key.alg, data)

    def destroy(self, key: KeyRef) -> None:
        pass

    def check(self, key: KeyRef) -> None:
        pass


def test_a_signature_that_does_not_verify_is_refused(soft_chain: Chain) -> None:
    public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    builder = (x509.CertificateBuilder().subject_name(citizen_name())
               .issuer_name(soft_chain.issuing.subject).public_key(public_key)
               .serial_number(ca.new_serial())
               .not_valid_before(datetime.now(UTC))
               .not_valid_after(datetime.now(UTC) + timedelta(days=1)))
    with pytest.raises(X509SigningError):
        sign_certificate(builder, soft_chain.issuing_key, WrongKeyBackend(),
                         issuer_cert=soft_chain.issuing)
    crl_builder = (x509.CertificateRevocationListBuilder().issuer_name(soft_chain.issuing.subject)
                   .last_update(datetime.now(UTC))
                   .next_update(datetime.now(UTC) + timedelta(days=1)))
    with pytest.raises(X509SigningError):
        sign_crl(crl_builder, soft_chain.issuing_key, WrongKeyBackend(),
                 issuer_cert=soft_chain.issuing)


def test_an_aki_naming_another_key_is_refused(soft_chain: Chain) -> None:
    public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    builder = (x509.CertificateBuilder().subject_name(citizen_name())
               .issuer_name(soft_chain.issuing.subject).public_key(public_key)
               .serial_number(ca.new_serial())
               .not_valid_before(datetime.now(UTC))
               .not_valid_after(datetime.now(UTC) + timedelta(days=1))
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key),
                              critical=False))
    with pytest.raises(X509SigningError, match="AuthorityKeyIdentifier"):
        sign_certificate(builder, soft_chain.issuing_key, soft_chain.backend,
                         issuer_cert=soft_chain.issuing)


def test_an_issuer_name_mismatch_is_refused(soft_chain: Chain) -> None:
    public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    builder = (x509.CertificateBuilder().subject_name(citizen_name())
               .issuer_name(soft_chain.root.subject).public_key(public_key)
               .serial_number(ca.new_serial())
               .not_valid_before(datetime.now(UTC))
               .not_valid_after(datetime.now(UTC) + timedelta(days=1)))
    with pytest.raises(X509SigningError, match="issuer name"):
        sign_certificate(builder, soft_chain.issuing_key, soft_chain.backend,
                         issuer_cert=soft_chain.issuing)


# --- CRLs ----------------------------------------------------------------------------------------


def test_crl_carries_number_aki_reasons_and_next_update(soft_chain: Chain,
                                                        tmp_path: Path) -> None:
    now = datetime.now(UTC)
    revoked = [(0xABCDEF, now - timedelta(hours=2), "keyCompromise"),
               (0x123456, now - timedelta(hours=1), "unspecified"),
               (0x777, now, "cessation_of_operation")]
    crl = ca.build_crl(soft_chain.issuing, soft_chain.issuing_key, soft_chain.backend, revoked,
                       42, now, now + timedelta(days=1))
    der = tmp_path / "crl.der"
    der.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    text = openssl("crl", "-inform", "DER", "-in", str(der), "-noout", "-text").stdout
    assert re.search(r"X509v3 CRL Number:\s+42", text)
    assert "X509v3 Authority Key Identifier" in text
    assert "Next Update:" in text
    assert "Key Compromise" in text and "Cessation Of Operation" in text
    entry = crl.get_revoked_certificate_by_serial_number(0x123456)
    assert entry is not None and len(entry.extensions) == 0  # unspecified: no reasonCode
    assert crl.next_update_utc == now.replace(microsecond=0) + timedelta(days=1)


def test_revocation_reasons() -> None:
    assert ca.reason_flag("keyCompromise") is x509.ReasonFlags.key_compromise
    assert ca.reason_flag("key_compromise") is x509.ReasonFlags.key_compromise
    for bad in ("certificateHold", "removeFromCRL", "because"):
        with pytest.raises(ValueError):
            ca.reason_flag(bad)


# --- small rules -----------------------------------------------------------------------------


def test_serial_numbers_are_positive_and_at_most_twenty_octets() -> None:
    serials = {ca.new_serial() for _ in range(500)}
    assert len(serials) == 500
    assert all(0 < s < 1 << 159 for s in serials)
    assert max(s.bit_length() for s in serials) > 150  # random, not small
    assert ca.parse_serial("0A:bc:DE") == 0xABCDE
    assert ca.parse_serial(ca.serial_hex(12345)) == 12345
    with pytest.raises(ValueError):
        ca.parse_serial("zz")


def test_thai_id_rule() -> None:
    assert ca.is_valid_thai_id(TH_ID)
    assert not ca.is_valid_thai_id("1101700207367")
    assert not ca.is_valid_thai_id("110170020736")
    assert ca.pnoth_identifier("1-1017-00207-36-6") == f"PNOTH-{TH_ID}"


def test_parse_dn_and_subject_rules() -> None:
    assert ca.parse_dn("CN=Agency\\, Seal,O=กรม ,organizationIdentifier=GOVTH-1") == {
        "CN": "Agency, Seal", "O": "กรม", "organizationIdentifier": "GOVTH-1"}
    with pytest.raises(ValueError):
        ca.parse_dn("CN")
    with pytest.raises(ValueError, match="unsupported"):
        ca.make_name({"XX": "1"})
    with pytest.raises(ValueError, match="country"):
        ca.make_name({"CN": "a", "C": "Thailand"})
    assert ca.profile_name("citizen") == "citizen_signing"
    with pytest.raises(ValueError):
        ca.profile_name("server_tls")


def test_masked_subject_hides_the_id_number() -> None:
    text = ca.masked_subject(citizen_name(consent=True))
    assert TH_ID not in text and "PNOTH-*" in text and "GN=สมชาย" in text


def test_validity_never_outlives_the_issuer(soft_chain: Chain) -> None:
    _, not_after = ca.validity(100 * 365, issuer_cert=soft_chain.issuing)
    assert not_after == soft_chain.issuing.not_valid_after_utc
    with pytest.raises(ValueError):
        ca.validity(0)
