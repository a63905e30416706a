"""The public PKI endpoints over real HTTP, judged by `openssl` in a separate process:
`openssl ocsp -url` against /pki/ocsp (good, then revoked after `Pki.revoke`; nonce echoed;
unknown serial), `openssl ts -verify` on a reply from /pki/tsa, `openssl x509`/`openssl crl`
on what /pki/ca and /pki/crl serve; and the refusals (malformed, oversized, wrong type).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from idp.pki.service import Pki
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import EphemeralStore
from keys import tsa
from tests.support.live import LiveProvider, serve
from tests.support.openssl import run as run_command
from tests.support.openssl import write_pem


@dataclass
class Setup:
    op: LiveProvider
    pki: Pki
    leaf: x509.Certificate
    files: Path

    @property
    def base(self) -> str:
        return self.op.base

    def pem(self, name: str, *certs: x509.Certificate) -> Path:
        return write_pem(self.files / name, *certs)


@pytest.fixture
def pki_setup(settings: Settings, store: EphemeralStore, tmp_path: Path) -> Iterator[Setup]:
    with serve(settings, store) as op:
        with op.app.app_context():
            pki = current_pki()
        assert pki.db is op.app.extensions["idp"].db
        leaf = pki.issue("citizen", "citizen", ec.generate_private_key(ec.SECP256R1())
                         .public_key(), {"GN": "Somchai", "SN": "Jaidee"}, person_id="p-test")
        yield Setup(op, pki, leaf, tmp_path)


def run(*args: str | Path) -> str:
    return run_command(*args, timeout=60)


def openssl_ocsp(s: Setup, cert: Path, *extra: str | Path) -> str:
    issuer = s.pem("citizen.pem", s.pki.ca("citizen").cert)
    root = s.pem("root.pem", s.pki.ca("root").cert)
    return run("openssl", "ocsp", "-issuer", issuer, "-cert", cert, "-url",
               f"{s.base}/pki/ocsp", "-CAfile", root, *extra)


# --- OCSP ------------------------------------------------------------------------------------


def test_openssl_ocsp_good_then_revoked(pki_setup: Setup) -> None:
    s = pki_setup
    leaf = s.pem("leaf.pem", s.leaf)
    out = openssl_ocsp(s, leaf)
    assert "Response verify OK" in out, out
    assert f"{leaf}: good" in out, out
    assert "WARNING" not in out, out  # openssl sends a nonce by default: it came back
    assert "Nonce Verify error" not in out, out

    s.pki.revoke(s.leaf.serial_number, "keyCompromise")
    out = openssl_ocsp(s, leaf)
    assert "Response verify OK" in out, out
    assert f"{leaf}: revoked" in out, out
    assert "Reason: keyCompromise" in out, out


def test_openssl_ocsp_sees_a_revocation_made_with_idp_ca_revoke(pki_setup: Setup) -> None:
    """The operator's command, not only the service call: `idp ca revoke` in its own process
    (as an operator runs it) takes effect in the very next OCSP answer."""
    s = pki_setup
    leaf = s.pem("leaf.pem", s.leaf)
    assert f"{leaf}: good" in openssl_ocsp(s, leaf)
    settings = s.op.settings
    env = dict(os.environ, IDP_DATABASE_URL=settings.database_url, IDP_KEK=settings.kek or "",
               IDP_SECRET_KEY=settings.secret_key)
    revoked = subprocess.run([sys.executable, "-m", "idp.cli", "ca", "revoke",
                              format(s.leaf.serial_number, "x"), "--reason", "keyCompromise"],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert revoked.returncode == 0, revoked.stderr
    out = openssl_ocsp(s, leaf)
    assert "Response verify OK" in out, out
    assert f"{leaf}: revoked" in out, out


def test_unknown_serial_is_unknown(pki_setup: Setup) -> None:
    s = pki_setup
    issuer = s.pem("citizen.pem", s.pki.ca("citizen").cert)
    out = run("openssl", "ocsp", "-issuer", issuer, "-serial", "0x1234567890abcdef", "-url",
              f"{s.base}/pki/ocsp", "-CAfile", s.pem("root.pem", s.pki.ca("root").cert))
    assert "Response verify OK" in out, out
    assert "0x1234567890abcdef: unknown" in out, out


def test_a_certificate_of_another_ca_is_unauthorized(pki_setup: Setup) -> None:
    s = pki_setup
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Stranger CA")])
    stranger = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(1)
                .not_valid_before(s.leaf.not_valid_before_utc)
                .not_valid_after(s.leaf.not_valid_after_utc)
                .sign(key, hashes.SHA256()))
    req = ocsp.OCSPRequestBuilder().add_certificate(
        stranger, stranger, hashes.SHA1()).build()  # noqa: S303 - the usual CertID hash
    resp = post_ocsp(s, req.public_bytes(serialization.Encoding.DER))
    assert ocsp.load_der_ocsp_response(resp.content).response_status == \
        ocsp.OCSPResponseStatus.UNAUTHORIZED


def post_ocsp(s: Setup, body: bytes, content_type: str = "application/ocsp-request"
              ) -> requests.Response:
    return requests.post(f"{s.base}/pki/ocsp", data=body, timeout=10,
                         headers={"Content-Type": content_type})


def ocsp_request_der(s: Setup, nonce: bytes | None = None) -> bytes:
    b = ocsp.OCSPRequestBuilder().add_certificate(s.leaf, s.pki.ca("citizen").cert,
                                                  hashes.SHA256())
    if nonce:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def test_get_form_works_and_is_cacheable_until_next_update(pki_setup: Setup) -> None:
    s = pki_setup
    der = ocsp_request_der(s)
    url = f"{s.base}/pki/ocsp/{quote(base64.b64encode(der).decode(), safe='')}"
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/ocsp-response"
    parsed = ocsp.load_der_ocsp_response(resp.content)
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    responder = s.pki.ca("ocsp-citizen").cert
    assert parsed.certificates == [responder]
    cache = resp.headers["Cache-Control"]
    assert "public" in cache and "no-store" not in cache
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))  # type: ignore[union-attr]
    assert 3500 <= max_age <= 3600
    assert resp.headers["Expires"] and resp.headers["ETag"]

    # unencoded base64 ('/' and '+' as they are) works too
    raw = requests.get(f"{s.base}/pki/ocsp/{base64.b64encode(der).decode()}", timeout=10)
    assert ocsp.load_der_ocsp_response(raw.content).certificate_status == \
        ocsp.OCSPCertStatus.GOOD


def test_post_answers_are_not_cached_and_echo_the_nonce(pki_setup: Setup) -> None:
    s = pki_setup
    resp = post_ocsp(s, ocsp_request_der(s, nonce=b"0123456789abcdef"))
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    parsed = ocsp.load_der_ocsp_response(resp.content)
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == \
        b"0123456789abcdef"


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x03\x02\x01\x01" * 3])
def test_malformed_ocsp_gets_malformed_request(pki_setup: Setup, body: bytes) -> None:
    resp = post_ocsp(pki_setup, body)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(resp.content).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_malformed_ocsp_get_gets_malformed_request(pki_setup: Setup) -> None:
    for tail in ("not-base64!", "AAAA", quote(base64.b64encode(b"garbage").decode(), safe="")):
        resp = requests.get(f"{pki_setup.base}/pki/ocsp/{tail}", timeout=10)
        assert resp.status_code == 200, tail
        assert ocsp.load_der_ocsp_response(resp.content).response_status == \
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        assert resp.headers["Cache-Control"] == "no-store"


def test_oversized_and_wrong_type_are_refused_plainly(pki_setup: Setup) -> None:
    s = pki_setup
    resp = post_ocsp(s, b"\x30" * (8 * 1024 + 1))
    assert resp.status_code == 413
    assert resp.json()["error"] == "request_too_large"
    resp = post_ocsp(s, ocsp_request_der(s), content_type="application/octet-stream")
    assert resp.status_code == 415
    assert "application/ocsp-request" in resp.json()["error_description"]
    resp = requests.get(f"{s.base}/pki/ocsp/{'A' * 20000}", timeout=10)
    assert resp.status_code == 414
    resp = requests.post(f"{s.base}/pki/tsa", data=b"\x30" * (8 * 1024 + 1), timeout=10,
                         headers={"Content-Type": "application/timestamp-query"})
    assert resp.status_code == 413
    resp = requests.post(f"{s.base}/pki/tsa", data=b"x", timeout=10)
    assert resp.status_code == 415
    assert "application/timestamp-query" in resp.json()["error_description"]


# --- TSA -------------------------------------------------------------------------------------


def test_openssl_ts_verify_accepts_our_token(pki_setup: Setup) -> None:
    s = pki_setup
    data = s.files / "doc.txt"
    data.write_bytes("เอกสารทดสอบ / a test document\n".encode())
    query = s.files / "q.tsq"
    run("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
    resp = requests.post(f"{s.base}/pki/tsa", data=query.read_bytes(), timeout=10,
                         headers={"Content-Type": "application/timestamp-query"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/timestamp-reply"
    reply = s.files / "reply.tsr"
    reply.write_bytes(resp.content)
    root = s.pem("root.pem", s.pki.ca("root").cert)
    tsa_pem = s.pem("tsa.pem", s.pki.ca("tsa").cert)
    out = run("openssl", "ts", "-verify", "-in", reply, "-queryfile", query, "-CAfile", root,
              "-untrusted", tsa_pem)
    assert "Verification: OK" in out, out
    out = run("openssl", "ts", "-verify", "-in", reply, "-data", data, "-CAfile", root)
    assert "Verification: OK" in out, out

    text = run("openssl", "ts", "-reply", "-in", reply, "-text")
    assert f"Policy OID: {tsa.POLICY_TSA}" in text, text
    nonce = int(tsp.TimeStampReq.load(query.read_bytes())["nonce"].native)
    assert re.search(rf"Nonce: 0x0*{nonce:X}\b", text, re.IGNORECASE), text


def test_tsa_refusals_are_time_stamp_replies(pki_setup: Setup) -> None:
    s = pki_setup
    data = s.files / "doc.txt"
    data.write_bytes(b"x")
    sha1_query = s.files / "sha1.tsq"
    run("openssl", "ts", "-query", "-data", data, "-sha1", "-out", sha1_query)
    cases = {b"garbage": "bad_data_format", sha1_query.read_bytes(): "bad_alg"}
    for body, fail in cases.items():
        resp = requests.post(f"{s.base}/pki/tsa", data=body, timeout=10,
                             headers={"Content-Type": "application/timestamp-query"})
        assert resp.status_code == 200
        status = tsa.TimeStampResp.load(resp.content)["status"]
        assert status["status"].native == "rejection"
        assert set(status["fail_info"].native) == {fail}


# --- CA certificates, CRLs, the page ---------------------------------------------------------


def test_ca_certificates_are_served_as_der_and_pem(pki_setup: Setup) -> None:
    s = pki_setup
    for ca in s.pki.cas():
        resp = requests.get(f"{s.base}/pki/ca/{ca.id}.crt", timeout=10)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/pkix-cert"
        assert resp.headers["Cache-Control"] == "public, max-age=86400"
        path = s.files / f"{ca.id}.crt"
        path.write_bytes(resp.content)
        out = run("openssl", "x509", "-inform", "DER", "-in", path, "-noout", "-subject")
        assert "subject=" in out and "O = " in out, out
        assert x509.load_der_x509_certificate(resp.content) == ca.cert
        pem = requests.get(f"{s.base}/pki/ca/{ca.id}.pem", timeout=10)
        assert x509.load_pem_x509_certificate(pem.content) == ca.cert


def test_the_aia_and_cdp_urls_in_a_certificate_resolve(pki_setup: Setup) -> None:
    s = pki_setup
    aia = s.leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ca_issuers = [d.access_location.value for d in aia
                  if d.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS]
    ocsp_urls = [d.access_location.value for d in aia
                 if d.access_method == x509.AuthorityInformationAccessOID.OCSP]
    assert ocsp_urls == [f"{s.base}/pki/ocsp"]
    issuer = x509.load_der_x509_certificate(requests.get(ca_issuers[0], timeout=10).content)
    assert issuer == s.pki.ca("citizen").cert
    cdp = s.leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = cdp[0].full_name[0].value  # type: ignore[index]
    crl = x509.load_der_x509_crl(requests.get(url, timeout=10).content)
    assert crl.issuer == issuer.subject


def test_crl_is_served_parsed_by_openssl_and_lists_revocations(pki_setup: Setup) -> None:
    s = pki_setup
    resp = requests.get(f"{s.base}/pki/crl/citizen.crl", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(resp.content)
    half = (crl.next_update_utc - crl.last_update_utc) / 2  # type: ignore[operator]
    max_age = int(re.search(r"max-age=(\d+)",  # type: ignore[union-attr]
                            resp.headers["Cache-Control"]).group(1))
    assert half.total_seconds() - 60 <= max_age <= half.total_seconds()
    path = s.files / "citizen.crl"
    path.write_bytes(resp.content)
    out = run("openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text")
    assert "Certificate Revocation List" in out, out
    assert "No Revoked Certificates" in out, out

    s.pki.revoke(s.leaf.serial_number, "superseded")
    path.write_bytes(requests.get(f"{s.base}/pki/crl/citizen.crl", timeout=10).content)
    out = run("openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text")
    assert f"{s.leaf.serial_number:X}" in out.replace(":", "").upper(), out


def test_unknown_ca_is_404_json(pki_setup: Setup) -> None:
    s = pki_setup
    for path in ("/pki/ca/nope.crt", "/pki/ca/nope.pem", "/pki/crl/nope.crl",
                 "/pki/crl/tsa.crl", "/pki/ca/..%2Froot.crt", "/pki/ca/ROOT.crt",
                 "/pki/elsewhere"):
        resp = requests.get(f"{s.base}{path}", timeout=10)
        assert resp.status_code == 404, path
        assert resp.json()["error"] == "not_found", path


def test_get_of_post_only_endpoints_is_405(pki_setup: Setup) -> None:
    for name in ("ocsp", "tsa"):
        resp = requests.get(f"{pki_setup.base}/pki/{name}", timeout=10)
        assert resp.status_code == 405, name
        assert resp.headers["Allow"] == "POST"
        assert resp.json()["error"] == "method_not_allowed"


def test_index_lists_the_cas_in_thai_and_english(pki_setup: Setup) -> None:
    s = pki_setup
    th = requests.get(f"{s.base}/pki/?lang=th", timeout=10)
    assert th.status_code == 200
    assert "text/html" in th.headers["Content-Type"]
    assert "โครงสร้างพื้นฐานกุญแจสาธารณะ" in th.text
    en = requests.get(f"{s.base}/pki/?lang=en", timeout=10)
    assert "Public key infrastructure" in en.text
    for ca in ("root", "citizen", "seal", "tsa", "ocsp-citizen"):
        assert f'href="/pki/ca/{ca}.crt"' in en.text, ca
    assert 'href="/pki/crl/citizen.crl"' in en.text
    assert 'href="/pki/crl/tsa.crl"' not in en.text
    assert f"{s.base}/pki/ocsp" in en.text and f"{s.base}/pki/tsa" in en.text
