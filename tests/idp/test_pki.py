"""The provider's CA (idp.pki) on a real database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), with keys in sealed software keys and in a SoftHSM2 token over
PKCS#11. OpenSSL, run as a separate process on files, judges chains, extensions and CRLs.

The PKCS#11 variants run in a child pytest process (`test_the_ca_on_a_pkcs11_token`): SoftHSM2
reads its token directory once per process, and tests/keys keeps a token store of its own for
the session, so a second store in the same process would depend on test order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from sqlalchemy import select

from idp import audit
from idp.cli import main
from idp.db import AuditEvent, Certificate, Database
from idp.pki import Pki
from idp.pki import service as pki_service
from idp.provider import open_backend
from idp.settings import Settings
from keys import ca as profiles
from tests.conftest import TEST_KEK
from tests.support.openssl import openssl, write_pem

TH_ID = "1101700207366"  # made up, valid check digit
# The same token label and PIN as tests/keys/conftest.py: SoftHSM2 reads its configuration once
# per process, so whichever fixture initialises the module first, the other finds its token.
TOKEN_LABEL = "idp-test"
USER_PIN = "1234"
SO_PIN = "5678"
IN_CHILD = "IDP_TEST_PKI_PKCS11"
KEY_BACKENDS = ["software"] + (["pkcs11"] if os.environ.get(IN_CHILD) else [])


@dataclass(frozen=True)
class Hsm:
    module: str
    label: str
    pin: str


@pytest.fixture(scope="session")
def pki_softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsm]:
    try:
        from keys.pkcs11 import find_softhsm_module, init_softhsm_token
    except ImportError as e:
        pytest.fail(f"python-pkcs11 is not installed ({e}); run ./dev test", pytrace=False)
    module = find_softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is not installed: run ./dev test (Debian package softhsm2)",
                    pytrace=False)
    conf = init_softhsm_token(tmp_path_factory.mktemp("pki-softhsm"), TOKEN_LABEL, USER_PIN,
                              SO_PIN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        yield Hsm(module, TOKEN_LABEL, USER_PIN)


@pytest.mark.skipif(bool(os.environ.get(IN_CHILD)), reason="this is the child run")
def test_the_ca_on_a_pkcs11_token() -> None:
    """Every `any_pki` test again with CA keys inside a SoftHSM2 token, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "pkcs11 and not pkcs11_token"],
        env={**os.environ, IN_CHILD: "1"}, capture_output=True, text=True, check=False,
        timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = re.search(r"\b(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 4, result.stdout[-2000:]
    assert " failed" not in result.stdout and " skipped" not in result.stdout


def _pki(settings: Settings) -> Pki:
    return Pki(Database(settings.database_url), open_backend(settings), settings.issuer)


@pytest.fixture
def pki(settings: Settings) -> Pki:
    """Software keys: for the rules that do not depend on where keys live."""
    return _pki(settings)


@pytest.fixture(params=KEY_BACKENDS)
def any_pki(request: pytest.FixtureRequest, settings: Settings) -> Pki:
    """The same test with CA keys as sealed software keys and inside a PKCS#11 token."""
    if request.param == "pkcs11":
        hsm: Hsm = request.getfixturevalue("pki_softhsm")
        settings = replace(settings, key_backend="pkcs11", pkcs11_module=hsm.module,
                           pkcs11_token=hsm.label, pkcs11_pin=hsm.pin)
    return _pki(settings)


def verify(tmp_path: Path, root: x509.Certificate, cert: x509.Certificate,
           *untrusted: x509.Certificate, extra: tuple[str, ...] = (),
           crl: bytes | None = None) -> subprocess.CompletedProcess[str]:
    args: list[str | Path] = ["verify", *extra, "-CAfile", write_pem(tmp_path / "root.pem", root)]
    if untrusted:
        args += ["-untrusted", write_pem(tmp_path / "untrusted.pem", *untrusted)]
    if crl is not None:
        args += ["-crl_check", "-CRLfile",
                 write_pem(tmp_path / "crl.pem", x509.load_der_x509_crl(crl))]
    return openssl(*args, write_pem(tmp_path / "cert.pem", cert), check=False)


def ok(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and result.stdout.strip().endswith(": OK")


def is_revoked(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def events(pki: Pki, type_: str | None = None) -> list[AuditEvent]:
    with pki.db.session() as s:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if type_:
            query = query.where(AuditEvent.type == type_)
        return list(s.scalars(query))


# --- the hierarchy ---------------------------------------------------------------------------


def test_hierarchy_is_made_once_and_chains(any_pki: Pki, tmp_path: Path) -> None:
    first = any_pki.init_hierarchy()
    assert [(r.id, r.kind, r.parent_id) for r in first] == [
        ("root", "root", None), ("citizen", "issuing", "root"), ("seal", "issuing", "root"),
        ("tsa", "tsa", "root"), ("ocsp-root", "ocsp", "root"),
        ("ocsp-citizen", "ocsp", "citizen"), ("ocsp-seal", "ocsp", "seal")]
    again = any_pki.init_hierarchy()
    assert [r.cert.serial_number for r in again] == [r.cert.serial_number for r in first]
    assert len(events(any_pki, "ca.created")) == 7
    # another node (a fresh Pki on the same database) sees the same hierarchy
    other = Pki(any_pki.db, any_pki.backend, any_pki.issuer_url)
    assert [r.cert for r in other.init_hierarchy()] == [r.cert for r in first]

    by_id = {r.id: r for r in first}
    root = by_id["root"].cert
    assert by_id["root"].key.alg == "ES384" and by_id["citizen"].key.alg == "ES384"
    assert by_id["ocsp-citizen"].key.alg == "ES256"
    assert by_id["root"].key.backend == any_pki.backend.name
    assert root.not_valid_after_utc - root.not_valid_before_utc > timedelta(days=20 * 365)
    for ca_id in ("root", "citizen", "seal"):
        assert ok(verify(tmp_path, root, by_id[ca_id].cert))
    assert ok(verify(tmp_path, root, by_id["tsa"].cert, extra=("-purpose", "timestampsign")))
    assert ok(verify(tmp_path, root, by_id["ocsp-root"].cert, extra=("-purpose", "ocsphelper")))
    for ca_id in ("citizen", "seal"):
        assert ok(verify(tmp_path, root, by_id[f"ocsp-{ca_id}"].cert, by_id[ca_id].cert,
                         extra=("-purpose", "ocsphelper")))
    assert any_pki.responder_for("citizen") == any_pki.ca("ocsp-citizen")
    assert any_pki.chain("ocsp-citizen") == [by_id["ocsp-citizen"].cert, by_id["citizen"].cert,
                                             root]
    # every certificate a CA of ours issued is on record, for CRLs and OCSP
    listed = {(c["issuer_id"], c["profile"]) for c in any_pki.list_certificates()}
    assert ("root", "issuing_ca") in listed and ("citizen", "ocsp_responder") in listed
    with pytest.raises(KeyError):
        any_pki.ca("nope")


# --- issuing: openssl is the judge --------------------------------------------------------------


def test_each_profile_is_issued_verified_and_shows_its_extensions(any_pki: Pki,
                                                                  tmp_path: Path) -> None:
    any_pki.init_hierarchy()
    root, citizen_ca, seal_ca = (any_pki.ca(i).cert for i in ("root", "citizen", "seal"))
    base = any_pki.issuer_url

    citizen = any_pki.issue("citizen", "citizen_signing", new_key().public_key(),
                            {"GN": "สมชาย", "SN": "ใจดี"}, person_id="p-1",
                            consent_pnoth=True, th_id=TH_ID)
    seal = any_pki.issue("seal", "seal", new_key().public_key(),
                         {"O": "กรมตัวอย่าง", "organizationIdentifier": "NTRTH-0994000165501"},
                         client_id="agency-1")
    tsa = any_pki.issue("root", "tsa_unit", new_key().public_key(), {"CN": "TSU 2", "O": "X"})
    responder = any_pki.issue("citizen", "ocsp", new_key().public_key(),
                              {"CN": "OCSP 2", "O": "X"})

    assert ok(verify(tmp_path, root, citizen, citizen_ca))
    assert ok(verify(tmp_path, root, citizen, citizen_ca, extra=("-purpose", "smimesign")))
    assert ok(verify(tmp_path, root, seal, seal_ca, extra=("-purpose", "smimesign")))
    assert ok(verify(tmp_path, root, tsa, extra=("-purpose", "timestampsign")))
    assert ok(verify(tmp_path, root, responder, citizen_ca, extra=("-purpose", "ocsphelper")))
    assert not ok(verify(tmp_path, root, citizen))  # the issuing CA is needed

    def text(cert: x509.Certificate) -> str:
        return openssl("x509", "-in", write_pem(tmp_path / "t.pem", cert), "-noout", "-text",
                       "-nameopt", "RFC2253").stdout

    t = text(citizen)
    assert re.search(r"Key Usage: critical\s+Digital Signature, Non Repudiation\n", t)
    assert re.search(r"Basic Constraints: critical\s+CA:FALSE", t)
    assert "Extended Key Usage" not in t
    assert f"OCSP - URI:{base}/pki/ocsp" in t
    assert f"CA Issuers - URI:{base}/pki/ca/citizen.crt" in t
    assert f"URI:{base}/pki/crl/citizen.crl" in t
    assert f"Policy: {profiles.POLICY_CITIZEN}" in t
    assert f"serialNumber=PNOTH-{TH_ID}" in t
    assert "ecdsa-with-SHA384" in t  # signed by the P-384 issuing CA

    t = text(seal)
    assert "organizationIdentifier=NTRTH-0994000165501" in t or "2.5.4.97=" in t
    assert f"Policy: {profiles.POLICY_SEAL}" in t
    assert f"CA Issuers - URI:{base}/pki/ca/seal.crt" in t
    assert "PNOTH" not in t

    t = text(tsa)
    assert re.search(r"Extended Key Usage: critical\s+Time Stamping\n", t)
    assert f"URI:{base}/pki/crl/root.crl" in t

    t = text(responder)
    assert re.search(r"Extended Key Usage:\s+OCSP Signing\n", t)
    assert "OCSP No Check" in t


def test_pnoth_only_with_consent(pki: Pki, tmp_path: Path) -> None:
    pki.init_hierarchy()
    cert = pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A", "SN": "B"},
                     th_id=None)
    serial = cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value
    assert re.fullmatch(r"[0-9A-F]{32}", str(serial))
    with pytest.raises(ValueError):  # consent without a number
        pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A"}, consent_pnoth=True)
    with pytest.raises(ValueError):  # a number smuggled in through the subject
        pki.issue("citizen", "citizen", new_key().public_key(),
                  {"GN": "A", "serialNumber": f"PNOTH-{TH_ID}"})


def test_no_national_id_in_the_audit_trail_or_the_listing(pki: Pki) -> None:
    pki.init_hierarchy()
    cert = pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A", "SN": "B"},
                     person_id="person-7", consent_pnoth=True, th_id=TH_ID)
    pki.revoke(cert.serial_number, "superseded")
    with pki.db.session() as s:
        trail = json.dumps([audit.as_dict(e) for e in audit.list_events(s, limit=1000)])
        assert audit.verify(s).ok
    listing = json.dumps(pki.list_certificates())
    assert TH_ID not in trail and TH_ID not in listing
    assert "PNOTH-*" in listing
    issued = events(pki, "cert.issued")[-1]
    assert issued.person_id == "person-7"
    assert issued.data["serial"] == profiles.serial_hex(cert.serial_number)
    revoked = events(pki, "cert.revoked")[-1]
    assert revoked.person_id == "person-7" and revoked.data["reason"] == "superseded"


def test_issue_refusals(pki: Pki) -> None:
    pki.init_hierarchy()
    with pytest.raises(ValueError, match="root"):
        pki.issue("root", "citizen", new_key().public_key(), {"GN": "A"})
    with pytest.raises(ValueError, match="not a CA"):
        pki.issue("tsa", "tsa", new_key().public_key(), {"CN": "x"})
    with pytest.raises(ValueError, match="profile"):
        pki.issue("citizen", "server_tls", new_key().public_key(), {"CN": "x"})
    weak = rsa.generate_private_key(65537, 1024).public_key()  # noqa: S505
    with pytest.raises(ValueError, match="2048"):
        pki.issue("citizen", "citizen", weak, {"GN": "A"})
    with pytest.raises(KeyError):
        pki.issue("nope", "citizen", new_key().public_key(), {"GN": "A"})


# --- revocation and CRLs -------------------------------------------------------------------------


def test_crl_check_passes_before_and_fails_after_revocation(any_pki: Pki,
                                                            tmp_path: Path) -> None:
    any_pki.init_hierarchy()
    root, issuing = any_pki.ca("root").cert, any_pki.ca("citizen").cert
    cert = any_pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A", "SN": "B"})

    before = any_pki.crl_der("citizen")
    assert ok(verify(tmp_path, root, cert, issuing, crl=before))
    crl_file = tmp_path / "before.der"
    crl_file.write_bytes(before)
    text = openssl("crl", "-inform", "DER", "-in", str(crl_file), "-noout", "-text").stdout
    assert "Next Update:" in text and "No Revoked Certificates" in text
    first = x509.load_der_x509_crl(before)
    assert first.next_update_utc is not None
    assert first.next_update_utc - first.last_update_utc == timedelta(days=1)

    any_pki.revoke(profiles.serial_hex(cert.serial_number), "keyCompromise")
    after = any_pki.crl_der("citizen")
    assert is_revoked(verify(tmp_path, root, cert, issuing, crl=after))

    second = x509.load_der_x509_crl(after)
    number = second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    crl_file.write_bytes(after)
    text = openssl("crl", "-inform", "DER", "-in", str(crl_file), "-noout", "-text").stdout
    assert "Next Update:" in text and "Key Compromise" in text
    assert format(cert.serial_number, "X") in text.upper()

    # a certificate of another CA is unaffected, and its CRL does not list this one
    seal = any_pki.issue("seal", "seal", new_key().public_key(),
                         {"O": "X", "organizationIdentifier": "GOVTH-1"})
    assert ok(verify(tmp_path, root, seal, any_pki.ca("seal").cert,
                     crl=any_pki.crl_der("seal")))

    # the root's CRL covers the CA certificates it issued
    assert ok(verify(tmp_path, root, issuing, crl=any_pki.crl_der("root")))


def test_crl_is_cached_until_a_revocation(pki: Pki) -> None:
    pki.init_hierarchy()
    a = pki.crl_der("citizen")
    assert pki.crl_der("citizen") == a
    assert len(events(pki, "crl.issued")) == 1

    cert = pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A"})
    assert pki.crl_der("citizen") == a  # issuing changes nothing on a CRL
    other_node = Pki(pki.db, pki.backend, pki.issuer_url)
    other_node.revoke(cert.serial_number)  # revoked through another node
    b = pki.crl_der("citizen")
    assert b != a
    assert x509.load_der_x509_crl(b).get_revoked_certificate_by_serial_number(
        cert.serial_number) is not None
    numbers = [e.data["crl_number"] for e in events(pki, "crl.issued")]
    assert numbers == [1, 2]


def test_crl_is_renewed_after_half_its_lifetime(pki: Pki) -> None:
    pki.init_hierarchy()
    a = pki.crl_der("citizen")
    pki._crls["citizen"].this_update -= timedelta(hours=12, seconds=1)
    b = pki.crl_der("citizen")
    assert a != b
    number = x509.load_der_x509_crl(b).extensions.get_extension_for_class(x509.CRLNumber)
    assert number.value.crl_number == 2


def test_status_and_revocation_rules(pki: Pki) -> None:
    pki.init_hierarchy()
    cert = pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A"})
    good = pki.status("citizen", cert.serial_number)
    assert good is not None and good.status == "good" and good.revoked_at is None
    assert pki.status("seal", cert.serial_number) is None  # other issuer
    assert pki.status("citizen", 12345) is None
    with pytest.raises(ValueError):
        pki.revoke(cert.serial_number, "certificateHold")
    pki.revoke(cert.serial_number, "cessation_of_operation")
    revoked = pki.status("citizen", cert.serial_number)
    assert revoked is not None and revoked.status == "revoked"
    assert revoked.reason == "cessationOfOperation" and revoked.revoked_at is not None
    assert revoked.revoked_at.tzinfo is not None
    pki.revoke(cert.serial_number, "keyCompromise")  # already revoked: no change
    again = pki.status("citizen", cert.serial_number)
    assert again == revoked
    assert len(events(pki, "cert.revoked")) == 1
    with pytest.raises(KeyError):
        pki.revoke("abcdef")
    with pytest.raises(ValueError):
        pki.revoke("not-hex")


def test_find_issuer_matches_ocsp_cert_ids(pki: Pki) -> None:
    pki.init_hierarchy()
    issuing = pki.ca("citizen")
    cert = pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A"})
    for algo, name in ((hashes.SHA1(), "sha1"), (hashes.SHA256(), "sha256")):  # noqa: S303
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuing.cert, algo).build()
        found = pki.find_issuer(request.issuer_name_hash, request.issuer_key_hash, name)
        assert found is not None and found.id == "citizen"
    root_req = ocsp.OCSPRequestBuilder().add_certificate(
        issuing.cert, pki.ca("root").cert, hashes.SHA1()).build()  # noqa: S303
    found = pki.find_issuer(root_req.issuer_name_hash, root_req.issuer_key_hash, "SHA1")
    assert found is not None and found.id == "root"
    assert pki.find_issuer(b"\0" * 20, b"\0" * 20, "sha1") is None


def test_ocsp_responder_is_renewed_before_it_expires(pki: Pki, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pki.init_hierarchy()
    old = pki.ca("ocsp-citizen")
    monkeypatch.setattr(pki_service, "RESPONDER_RENEW_BEFORE", timedelta(days=40))
    new = pki.ca("ocsp-citizen")
    monkeypatch.undo()
    assert new.cert.serial_number != old.cert.serial_number
    assert new.key.public_spki != old.key.public_spki
    assert ok(verify(tmp_path, pki.ca("root").cert, new.cert, pki.ca("citizen").cert))
    fresh_node = Pki(pki.db, pki.backend, pki.issuer_url)
    assert fresh_node.ca("ocsp-citizen").cert == new.cert
    assert len(events(pki, "ca.renewed")) == 1


# --- importing an external CA ----------------------------------------------------------------


def external_ca(tmp_path: Path) -> dict[str, Path]:
    """A "national" root (P-384) and an issuing CA under it (RSA-2048, key encrypted with a
    password), both made by openssl."""
    p = {name: tmp_path / name for name in
         ("root.key", "root.pem", "sub.key", "sub.csr", "sub.pem", "ext.cnf", "pass")}
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
            "-keyout", str(p["root.key"]), "-out", str(p["root.pem"]), "-days", "3650",
            "-subj", "/C=TH/O=National Root Authority/CN=National Root CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    p["pass"].write_text("s3cret pass\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-keyout", str(p["sub.key"]),
            "-passout", "pass:s3cret pass", "-out", str(p["sub.csr"]),
            "-subj", "/C=TH/O=Government Agency/CN=Government Issuing CA")
    p["ext.cnf"].write_text("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", str(p["sub.csr"]), "-CA", str(p["root.pem"]),
            "-CAkey", str(p["root.key"]), "-CAcreateserial", "-out", str(p["sub.pem"]),
            "-days", "1825", "-extfile", str(p["ext.cnf"]))
    return p


def test_imported_ca_issues_certificates_that_chain_to_the_external_root(
        any_pki: Pki, tmp_path: Path) -> None:
    ext = external_ca(tmp_path)
    anchor = any_pki.import_ca("th-root", ext["root.pem"].read_bytes(), None, None)
    assert anchor.kind == "root" and not anchor.can_sign and anchor.imported
    sub = any_pki.import_ca("th-gov", ext["sub.pem"].read_bytes(), ext["sub.key"].read_bytes(),
                            b"s3cret pass")
    assert sub.kind == "issuing" and sub.parent_id == "th-root" and sub.can_sign
    assert sub.key.backend == any_pki.backend.name and sub.key.alg == "RS256"
    assert "sealed" not in json.dumps(events(any_pki, "ca.imported")[-1].data)

    ext_root = x509.load_pem_x509_certificate(ext["root.pem"].read_bytes())
    cert = any_pki.issue("th-gov", "citizen", new_key().public_key(), {"GN": "A", "SN": "B"})
    assert ok(verify(tmp_path, ext_root, cert, sub.cert))
    seal = any_pki.issue("th-gov", "seal", new_key().public_key(),
                         {"O": "Agency", "organizationIdentifier": "GOVTH-42"})
    assert ok(verify(tmp_path, ext_root, seal, sub.cert, crl=any_pki.crl_der("th-gov")))
    any_pki.revoke(seal.serial_number)
    assert is_revoked(verify(tmp_path, ext_root, seal, sub.cert, crl=any_pki.crl_der("th-gov")))
    responder = any_pki.responder_for("th-gov")
    assert responder is not None and responder.parent_id == "th-gov"
    assert ok(verify(tmp_path, ext_root, responder.cert, sub.cert,
                     extra=("-purpose", "ocsphelper")))
    assert [e.data["ca_id"] for e in events(any_pki, "ca.imported")] == ["th-root", "th-gov"]
    with pytest.raises(ValueError, match="private key"):
        any_pki.issue("th-root", "tsa", new_key().public_key(), {"CN": "x"})
    with pytest.raises(ValueError):
        any_pki.crl_der("th-root")


def test_import_refusals(pki: Pki, tmp_path: Path) -> None:
    ext = external_ca(tmp_path)
    sub_pem, sub_key = ext["sub.pem"].read_bytes(), ext["sub.key"].read_bytes()
    with pytest.raises(ValueError, match="password"):
        pki.import_ca("th-gov", sub_pem, sub_key, b"wrong")
    with pytest.raises(ValueError, match="does not belong"):
        pki.import_ca("th-gov", sub_pem, ext["root.key"].read_bytes(), None)
    with pytest.raises(ValueError, match="CA id"):
        pki.import_ca("Bad Id!", sub_pem, None, None)
    pki.init_hierarchy()
    leaf = pki.issue("citizen", "citizen", new_key().public_key(), {"GN": "A"})
    with pytest.raises(ValueError, match="not a CA"):
        pki.import_ca("leaf", leaf.public_bytes(serialization.Encoding.PEM), None, None)
    with pytest.raises(ValueError, match="already exists"):
        pki.import_ca("citizen", sub_pem, None, None)
    with pytest.raises(ValueError, match="certificate"):
        pki.import_ca("junk", b"not a certificate", None, None)
    assert events(pki, "ca.imported") == []


# --- the command line ----------------------------------------------------------------------------


def test_cli(settings: Settings, tmp_path: Path) -> None:
    env = {"IDP_DATABASE_URL": settings.database_url, "IDP_KEK": TEST_KEK,
           "IDP_ISSUER": settings.issuer, "IDP_KEY_BACKEND": "software"}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, ["ca", *args], env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    assert "ocsp-citizen" in run("init").output
    assert "root" in run("init").output  # idempotent
    cas = json.loads(run("authorities", "--json").stdout)
    assert [c["id"] for c in cas][:3] == ["root", "citizen", "seal"]

    key_file = tmp_path / "holder.pem"
    key_file.write_bytes(new_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    leaf_file = tmp_path / "leaf.pem"
    result = run("issue", "--ca", "citizen", "--profile", "citizen", "--public-key",
                 str(key_file), "--subject", "GN=สมชาย,SN=ใจดี", "--consent-pnoth",
                 "--th-id", TH_ID, "--person-id", "p-9", "--out", str(leaf_file))
    serial = re.search(r"serial: ([0-9a-f]+)", result.stderr)
    assert serial is not None
    leaf = x509.load_pem_x509_certificate(leaf_file.read_bytes())
    assert profiles.serial_hex(leaf.serial_number) == serial.group(1)

    listed = json.loads(run("list", "--ca", "citizen", "--json").stdout)
    mine = [c for c in listed if c["serial"] == serial.group(1)]
    assert mine and mine[0]["person_id"] == "p-9" and TH_ID not in json.dumps(listed)

    root_file, ca_file = tmp_path / "root.pem", tmp_path / "ca.pem"
    run("export", "root", "--pem", "--out", str(root_file))
    run("export", "citizen", "--pem", "--out", str(ca_file))
    der = run("export", "citizen").stdout_bytes
    assert x509.load_der_x509_certificate(der) == x509.load_pem_x509_certificate(
        ca_file.read_bytes())

    crl_file = tmp_path / "crl.pem"
    run("crl", "citizen", "--pem", "--out", str(crl_file))
    args = ["verify", "-crl_check", "-CAfile", str(root_file), "-untrusted", str(ca_file),
            "-CRLfile", str(crl_file), str(leaf_file)]
    assert openssl(*args, check=False).returncode == 0
    assert "revoked" in run("revoke", serial.group(1), "--reason", "keyCompromise").output
    run("crl", "citizen", "--pem", "--out", str(crl_file))
    assert is_revoked(openssl(*args, check=False))
    crl_der = run("crl", "citizen").stdout_bytes
    assert x509.load_der_x509_crl(crl_der).get_revoked_certificate_by_serial_number(
        leaf.serial_number) is not None

    result = run("issue", "--ca", "root", "--profile", "tsa", "--generate", "--id", "tsa-2",
                 "--subject", "CN=TSU 2,O=Test")
    assert "BEGIN CERTIFICATE" in result.stdout
    assert "tsa-2\ttsa\tparent=root" in run("authorities").output

    ext = external_ca(tmp_path)
    run("import", "th-root", "--cert", str(ext["root.pem"]))
    out = run("import", "th-gov", "--cert", str(ext["sub.pem"]), "--key", str(ext["sub.key"]),
              "--password-file", str(ext["pass"])).output
    assert "th-gov\tissuing\tparent=th-root" in out

    assert "error:" in run("revoke", "ffff", code=2).stderr
    assert "error:" in run("issue", "--ca", "citizen", "--profile", "citizen", "--subject",
                           "GN=A", code=2).stderr
    assert "error:" in run("crl", "nope", code=2).stderr
    assert "error:" in run("issue", "--ca", "citizen", "--profile", "citizen",
                           "--public-key", str(key_file), "--subject", "GN=A",
                           "--th-id", TH_ID, code=2).stderr


def test_certificate_rows_hold_what_was_issued(pki: Pki) -> None:
    pki.init_hierarchy()
    cert = pki.issue("seal", "agency_seal", new_key().public_key(),
                     {"O": "X", "organizationIdentifier": "GOVTH-1"}, client_id="c-1", days=10)
    with pki.db.session() as s:
        row = s.get(Certificate, profiles.serial_hex(cert.serial_number))
        assert row is not None
        assert row.cert_der == cert.public_bytes(serialization.Encoding.DER)
        assert row.issuer_id == "seal" and row.profile == "agency_seal"
        assert row.client_id == "c-1" and row.status == "good"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=10, minutes=5)


def test_each_issuing_ca_serves_its_own_kind_of_holder(database_url: str,
                                                       settings: Settings) -> None:
    """The citizen CA's policy covers people, the seal CA's covers agencies: neither issues
    the other's certificates (a citizen certificate under the seal CA would chain, but break
    policy checking)."""
    from cryptography.hazmat.primitives.asymmetric import ec as _ec

    from idp.db import Database
    from idp.pki.service import Pki
    from idp.provider import open_backend

    pki = Pki(Database(database_url), open_backend(settings), settings.issuer)
    pki.init_hierarchy()
    key = _ec.generate_private_key(_ec.SECP256R1()).public_key()
    with pytest.raises(ValueError, match="issues only citizen_signing"):
        pki.issue("citizen", "agency_seal", key, {"O": "Agency", "CN": "Seal"})
    with pytest.raises(ValueError, match="issues only agency_seal"):
        pki.issue("seal", "citizen_signing", key, {"GN": "Somchai", "SN": "Jaidee"})
