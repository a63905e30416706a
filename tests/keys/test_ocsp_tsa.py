"""The OCSP responder (keys.ocsp) and the time-stamping authority (keys.tsa) as pure
functions, against a small CA built here with `cryptography`, keys held by a software
backend. The independent judges are `openssl ocsp` and `openssl ts -verify`, run as
separate processes on files; cryptography and asn1crypto check the structures too.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, parser, tsp
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys import ocsp as responder
from keys import tsa
from keys.backend import KeyRef, algorithm
from keys.software import SoftwareBackend, generate_private_key
from tests.support.openssl import run, write_pem

NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


# --- a small CA ----------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _hash_for(alg: str) -> hashes.HashAlgorithm | None:
    return None if alg == "EdDSA" else algorithm(alg).hash()


def _issue(subject: str, key: Any, issuer: x509.Certificate | None,
           issuer_key: CertificateIssuerPrivateKeyTypes, issuer_alg: str, *, ca: bool,
           eku: list[x509.ObjectIdentifier] | None = None, nocheck: bool = False,
           serial: int | None = None) -> x509.Certificate:
    pub = key.public_key()
    b = (x509.CertificateBuilder()
         .subject_name(_name(subject))
         .issuer_name(issuer.subject if issuer else _name(subject))
         .public_key(pub)
         .serial_number(serial or x509.random_serial_number())
         .not_valid_before(NOW - timedelta(days=1))
         .not_valid_after(datetime.now(UTC) + timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    if issuer is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.public_key()), critical=False)  # type: ignore[arg-type]
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    if nocheck:
        b = b.add_extension(x509.OCSPNoCheck(), critical=False)
    return b.sign(issuer_key, _hash_for(issuer_alg))  # type: ignore[arg-type]


@dataclass
class SmallCA:
    backend: SoftwareBackend
    root: x509.Certificate
    citizen: x509.Certificate
    leaf: x509.Certificate
    responder: x509.Certificate
    responder_key: KeyRef
    tsa: x509.Certificate
    tsa_key: KeyRef
    other_ca: x509.Certificate  # a CA we do not answer for
    revoked: dict[int, tuple[datetime, str | None]] = field(default_factory=dict)


def make_ca(alg: str = "ES256") -> SmallCA:
    """Root (ES256) -> citizen (ES256) -> leaf; citizen -> OCSP responder (`alg`);
    root -> TSA (`alg`)."""
    backend = SoftwareBackend(os.urandom(32))
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue("Test Root", root_key, None, root_key, "ES256", ca=True)
    citizen_key = ec.generate_private_key(ec.SECP256R1())
    citizen = _issue("Test Citizen CA", citizen_key, root, root_key, "ES256", ca=True)
    leaf = _issue("Somchai", ec.generate_private_key(ec.SECP256R1()), citizen, citizen_key,
                  "ES256", ca=False, serial=0x1234567)
    ocsp_key = generate_private_key(alg)
    resp = _issue("Test Citizen OCSP", ocsp_key, citizen, citizen_key, "ES256", ca=False,
                  eku=[ExtendedKeyUsageOID.OCSP_SIGNING], nocheck=True)
    tsa_key = generate_private_key(alg)
    tsa_cert = _issue("Test TSA", tsa_key, root, root_key, "ES256", ca=False,
                      eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _issue("Other CA", other_key, None, other_key, "ES256", ca=True)
    return SmallCA(backend, root, citizen, leaf, resp,
                  backend.import_key(ocsp_key, alg, "ocsp"), tsa_cert,
                  backend.import_key(tsa_key, alg, "tsa"), other)


@dataclass(frozen=True)
class Status:
    status: str
    revoked_at: datetime | None = None
    reason: str | None = None


def answer_with(ca: SmallCA, request_der: bytes, **kw: Any) -> bytes:
    def find_issuer(name_hash: bytes, key_hash: bytes, hash_alg: str) -> str | None:
        if responder.issuer_hashes(ca.citizen, hash_alg) == (name_hash, key_hash):
            return "citizen"
        if responder.issuer_hashes(ca.other_ca, hash_alg) == (name_hash, key_hash):
            return "other"
        return None

    def status_of(issuer: str, serial: int) -> Status | None:
        if issuer != "citizen" or serial != ca.leaf.serial_number:
            return None
        if serial in ca.revoked:
            at, reason = ca.revoked[serial]
            return Status("revoked", at, reason)
        return Status("good")

    def responder_for(issuer: str) -> tuple[x509.Certificate, KeyRef] | None:
        if issuer == "citizen":
            return ca.responder, ca.responder_key
        if issuer == "other":  # a responder, but not one the same as citizen's
            return ca.tsa, ca.tsa_key
        return None

    kw.setdefault("backend", ca.backend)
    kw.setdefault("now", NOW)
    return responder.answer(request_der, find_issuer=find_issuer, status_of=status_of,
                            responder_for=responder_for, **kw)


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, *,
                 alg: hashes.HashAlgorithm | None = None, nonce: bytes | None = None) -> bytes:
    # SHA-1 CertIDs are what most clients send (RFC 5019); it names, it does not protect
    b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, alg or hashes.SHA1())  # noqa: S303
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


# --- OCSP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> SmallCA:
    return make_ca()


def test_good_answer_is_signed_by_the_delegated_responder(ca: SmallCA) -> None:
    nonce = os.urandom(16)
    der = answer_with(ca, ocsp_request(ca.leaf, ca.citizen, nonce=nonce))
    resp = ocsp.load_der_ocsp_response(der)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == ca.leaf.serial_number
    assert resp.certificates == [ca.responder]
    assert resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
        ca.responder.public_key()).digest
    assert resp.this_update_utc == NOW.replace(microsecond=0)
    assert resp.produced_at_utc == NOW.replace(microsecond=0)
    assert resp.next_update_utc == NOW.replace(microsecond=0) + timedelta(hours=1)
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    pub = ca.responder.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))


def openssl_judges(local: SmallCA, tmp_path: Path) -> str:
    """openssl makes a request (with its nonce), we answer it, openssl checks the answer:
    first the nonce and the signature (-reqin/-respin), then the status it reports for the
    certificate (-cert builds a fresh request, so its own nonce cannot match: -no_nonce)."""
    issuer = write_pem(tmp_path / "issuer.pem", local.citizen)
    leaf = write_pem(tmp_path / "leaf.pem", local.leaf)
    chain = write_pem(tmp_path / "chain.pem", local.root, local.citizen)
    req = tmp_path / "req.der"
    run("openssl", "ocsp", "-issuer", issuer, "-cert", leaf, "-reqout", req)
    resp = tmp_path / "resp.der"
    resp.write_bytes(answer_with(local, req.read_bytes(), now=datetime.now(UTC)))
    out = run("openssl", "ocsp", "-reqin", req, "-respin", resp, "-CAfile", chain)
    assert out.strip() == "Response verify OK", out  # no nonce error or warning
    out = run("openssl", "ocsp", "-respin", resp, "-issuer", issuer, "-cert", leaf,
              "-CAfile", chain, "-no_nonce")
    assert "Response verify OK" in out, out
    assert "WARNING" not in out, out
    return out.replace(str(leaf), "leaf.pem")


def test_openssl_accepts_good_then_revoked(tmp_path: Path) -> None:
    local = make_ca()
    out = openssl_judges(local, tmp_path)
    assert "leaf.pem: good" in out, out

    local.revoked[local.leaf.serial_number] = (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                                               "keyCompromise")
    out = openssl_judges(local, tmp_path)
    assert "leaf.pem: revoked" in out, out
    assert "Reason: keyCompromise" in out, out
    assert "Revocation Time: Jan  2 03:04:05 2026 GMT" in out, out


@pytest.mark.parametrize("reason,shown", [("key_compromise", "key_compromise"),
                                          ("cessationOfOperation", "cessation_of_operation"),
                                          ("unspecified", None), (None, None)])
def test_revoked_carries_time_and_reason(reason: str | None, shown: str | None) -> None:
    local = make_ca()
    at = datetime(2026, 2, 1, 12, 0, 0, 999, tzinfo=UTC)
    local.revoked[local.leaf.serial_number] = (at, reason)
    resp = ocsp.load_der_ocsp_response(answer_with(local, ocsp_request(local.leaf,
                                                                       local.citizen)))
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_time_utc == at.replace(microsecond=0)
    assert (resp.revocation_reason.name if resp.revocation_reason else None) == shown


def test_unknown_serial_is_unknown(ca: SmallCA) -> None:
    b = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *responder.issuer_hashes(ca.citizen, "sha1"), 999, hashes.SHA1())  # noqa: S303
    der = answer_with(ca, b.build().public_bytes(serialization.Encoding.DER))
    resp = ocsp.load_der_ocsp_response(der)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert resp.serial_number == 999


def test_sha256_cert_id_is_matched_and_echoed(ca: SmallCA) -> None:
    req = ocsp_request(ca.leaf, ca.citizen, alg=hashes.SHA256())
    resp = ocsp.load_der_ocsp_response(answer_with(ca, req))
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(resp.hash_algorithm, hashes.SHA256)
    assert resp.issuer_key_hash == ocsp.load_der_ocsp_request(req).issuer_key_hash


def test_unknown_issuer_is_unauthorized(ca: SmallCA) -> None:
    stranger = make_ca()
    resp = ocsp.load_der_ocsp_response(answer_with(ca, ocsp_request(stranger.leaf,
                                                                    stranger.citizen)))
    assert resp.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_unsupported_cert_id_hash_is_unauthorized(ca: SmallCA) -> None:
    req = asn1_ocsp.OCSPRequest.load(ocsp_request(ca.leaf, ca.citizen))
    cid = req["tbs_request"]["request_list"][0]["req_cert"]
    cid["hash_algorithm"] = {"algorithm": "md5"}
    cid["issuer_name_hash"] = hashlib.md5(b"x").digest()  # noqa: S324 - a refused algorithm
    cid["issuer_key_hash"] = hashlib.md5(b"y").digest()  # noqa: S324
    resp = ocsp.load_der_ocsp_response(answer_with(ca, req.dump(force=True)))
    assert resp.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def _multi_request(*cert_ids: asn1_ocsp.CertId, nonce: bytes | None = None) -> bytes:
    tbs: dict[str, Any] = {"request_list": [{"req_cert": c} for c in cert_ids]}
    if nonce is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "extn_value": nonce}]
    return bytes(asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump())


def _cert_id(cert: x509.Certificate, issuer: x509.Certificate) -> asn1_ocsp.CertId:
    der = ocsp_request(cert, issuer)
    return asn1_ocsp.OCSPRequest.load(der)["tbs_request"]["request_list"][0]["req_cert"]


def test_several_cert_ids_of_one_issuer_are_answered_together(ca: SmallCA) -> None:
    unknown = _cert_id(ca.leaf, ca.citizen).copy()
    unknown["serial_number"] = 42
    der = answer_with(ca, _multi_request(_cert_id(ca.leaf, ca.citizen), unknown,
                                         nonce=b"n" * 16))
    resp = ocsp.load_der_ocsp_response(der)
    statuses = [(r.serial_number, r.certificate_status) for r in resp.responses]
    assert statuses == [(ca.leaf.serial_number, ocsp.OCSPCertStatus.GOOD),
                        (42, ocsp.OCSPCertStatus.UNKNOWN)]
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16


def test_cert_ids_of_two_issuers_are_refused(ca: SmallCA) -> None:
    der = answer_with(ca, _multi_request(_cert_id(ca.leaf, ca.citizen),
                                         _cert_id(ca.citizen, ca.other_ca)))
    assert ocsp.load_der_ocsp_response(der).response_status == \
        ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_too_many_cert_ids_are_malformed(ca: SmallCA) -> None:
    cid = _cert_id(ca.leaf, ca.citizen)
    der = answer_with(ca, _multi_request(*[cid] * (responder.MAX_CERT_IDS + 1)))
    assert ocsp.load_der_ocsp_response(der).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def _malformed_inputs(ca: SmallCA) -> list[bytes]:
    good = ocsp_request(ca.leaf, ca.citizen, nonce=os.urandom(16))
    critical = asn1_ocsp.OCSPRequest.load(good)
    critical["tbs_request"]["request_extensions"] = [
        {"extn_id": "1.2.3.4", "critical": True, "extn_value": b"\x05\x00"}]
    version = asn1_ocsp.OCSPRequest.load(good)
    version["tbs_request"]["version"] = 5
    return [
        b"",
        b"not an OCSP request",
        b"\x30\x03\x02\x01",  # truncated
        good[:-3],
        good + b"\x00",  # trailing data
        b"\x30\x80" + good[2:] + b"\x00\x00",  # BER indefinite length
        b"\x30" + b"\x84\xff\xff\xff\xff",  # a huge announced length
        _multi_request(),
        _multi_request(_cert_id(ca.leaf, ca.citizen), nonce=b""),
        _multi_request(_cert_id(ca.leaf, ca.citizen), nonce=b"x" * 33),  # RFC 8954
        critical.dump(force=True),
        version.dump(force=True),
        b"\x30" * 9000,  # oversized
        ocsp_request(ca.leaf, ca.citizen)[:40] * 3,
    ]


def test_malformed_requests_get_malformed_request(ca: SmallCA) -> None:
    for i, data in enumerate(_malformed_inputs(ca)):
        der = answer_with(ca, data)
        assert der == responder.error_response(responder.MALFORMED_REQUEST), i
        assert ocsp.load_der_ocsp_response(der).response_status == \
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_random_bytes_never_raise(ca: SmallCA) -> None:
    good = ocsp_request(ca.leaf, ca.citizen, nonce=os.urandom(16))
    rnd = __import__("random").Random(7)
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        der = answer_with(ca, bytes(data))
        assert ocsp.load_der_ocsp_response(der).response_status in (
            ocsp.OCSPResponseStatus.SUCCESSFUL, ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
            ocsp.OCSPResponseStatus.UNAUTHORIZED)


def test_a_nonce_not_wrapped_in_its_octet_string_is_malformed(ca: SmallCA) -> None:
    """RFC 2560-era clients put the nonce octets straight into extnValue; RFC 6960 §4.4.1
    wraps them in an OCTET STRING, and the bare form is refused."""
    bare = b"bare-nonce-bytes-and-some-more"
    ext = bytes([0x30, 11 + 2 + len(bare)]) + bytes.fromhex("06092b0601050507300102") + \
        bytes([0x04, len(bare)]) + bare
    tbs = bytes(asn1_ocsp.TBSRequest({"request_list": [
        {"req_cert": _cert_id(ca.leaf, ca.citizen)}]}).dump())
    exts = b"\xa2" + bytes([len(ext) + 2]) + b"\x30" + bytes([len(ext)]) + ext
    body = tbs[2:] + exts
    tbs = b"\x30" + bytes([len(body)]) + body
    der = b"\x30" + bytes([len(tbs)]) + tbs
    assert asn1_ocsp.OCSPRequest.load(der)["tbs_request"]["request_extensions"][0][
        "extn_id"].native == "nonce"
    assert answer_with(ca, der) == responder.error_response(responder.MALFORMED_REQUEST)


def test_validity_is_configurable(ca: SmallCA) -> None:
    der = answer_with(ca, ocsp_request(ca.leaf, ca.citizen), validity=timedelta(minutes=5))
    resp = ocsp.load_der_ocsp_response(der)
    assert resp.next_update_utc is not None
    assert resp.next_update_utc - resp.this_update_utc == timedelta(minutes=5)


def test_a_backend_signing_with_the_wrong_key_gives_internal_error(ca: SmallCA) -> None:
    wrong = make_ca()
    bad = SmallCA(**{**ca.__dict__, "responder_key": wrong.responder_key,
                    "backend": wrong.backend})
    der = answer_with(bad, ocsp_request(ca.leaf, ca.citizen))
    assert der == responder.error_response(responder.INTERNAL_ERROR)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "PS256", "EdDSA"])
def test_every_key_algorithm_gives_a_response_openssl_verifies(alg: str,
                                                                tmp_path: Path) -> None:
    out = openssl_judges(make_ca(alg), tmp_path)
    assert "leaf.pem: good" in out, out


# --- TSA -----------------------------------------------------------------------------------


def serials() -> Callable[[], int]:
    counter = iter(range(1000, 10**6))
    return lambda: next(counter)


def stamp_with(ca: SmallCA, query: bytes, **kw: Any) -> bytes:
    kw.setdefault("serial_source", serials())
    kw.setdefault("now", NOW)
    return tsa.stamp(query, tsa_cert=ca.tsa, tsa_key_ref=ca.tsa_key, chain=[ca.root],
                     backend=ca.backend, **kw)


def ts_query(data: bytes = b"hello", *, hash_name: str = "sha256", nonce: int | None = 12345,
             cert_req: bool = True, policy: str | None = None, **extra: Any) -> bytes:
    q: dict[str, Any] = {"version": "v1",
                         "message_imprint": {"hash_algorithm": {"algorithm": hash_name},
                                             "hashed_message": hashlib.new(hash_name,
                                                                           data).digest()},
                         "cert_req": cert_req}
    if nonce is not None:
        q["nonce"] = nonce
    if policy is not None:
        q["req_policy"] = policy
    q.update(extra)
    return bytes(tsp.TimeStampReq(q).dump())


def reply(der: bytes) -> tsa.TimeStampResp:
    return tsa.TimeStampResp.load(der)


def tst_info(der: bytes) -> tsp.TSTInfo:
    token = reply(der)["time_stamp_token"]
    info: tsp.TSTInfo = token["content"]["encap_content_info"]["content"].parsed
    return info


def test_granted_token_has_what_rfc_3161_asks(ca: SmallCA) -> None:
    query = ts_query(b"document", nonce=2**63 + 5)
    der = stamp_with(ca, query)
    resp = reply(der)
    assert resp["status"]["status"].native == "granted"
    info = tst_info(der)
    assert info["version"].native == "v1"
    assert info["policy"].dotted == tsa.POLICY_TSA
    assert info["message_imprint"].dump() == tsp.TimeStampReq.load(query)[
        "message_imprint"].dump()
    assert info["serial_number"].native == 1000
    assert info["gen_time"].native == NOW.replace(microsecond=0)
    assert info["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert info["nonce"].native == 2**63 + 5
    assert info["ordering"].native is False
    assert 1 not in top_level_tags(info.dump())  # ordering: DEFAULT FALSE, so no BOOLEAN
    assert info["tsa"].chosen.native == asn1_x509.Name.load(x509_name_der(ca.tsa)).native
    signed = resp["time_stamp_token"]["content"]
    assert signed["version"].native == "v3"
    assert signed["encap_content_info"]["content_type"].native == "tst_info"
    assert [c.chosen.dump() for c in signed["certificates"]] == [
        ca.tsa.public_bytes(serialization.Encoding.DER)]
    signer = signed["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attrs["content_type"].native == "tst_info"
    assert attrs["message_digest"].native == hashlib.sha256(info.dump()).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(
        ca.tsa.public_bytes(serialization.Encoding.DER)).digest()
    assert ess["issuer_serial"]["serial_number"].native == ca.tsa.serial_number


def top_level_tags(der: bytes) -> list[int]:
    """The universal tag numbers of the elements directly inside a DER SEQUENCE."""
    rest = parser.parse(der)[4]
    tags = []
    while rest:
        class_, _, tag, header, contents, trailer = parser.parse(rest)
        tags.append(tag if class_ == 0 else -1)
        rest = rest[len(header) + len(contents) + len(trailer):]
    return tags


def x509_name_der(cert: x509.Certificate) -> bytes:
    return cert.subject.public_bytes()


def test_openssl_verifies_the_token_against_the_query(ca: SmallCA, tmp_path: Path) -> None:
    data = tmp_path / "doc.txt"
    data.write_bytes(b"a document to time-stamp\n")
    query = tmp_path / "q.tsq"
    run("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
    resp = tmp_path / "reply.tsr"
    resp.write_bytes(stamp_with(ca, query.read_bytes(), now=datetime.now(UTC)))
    root = write_pem(tmp_path / "root.pem", ca.root)
    tsa_pem = write_pem(tmp_path / "tsa.pem", ca.tsa)
    out = run("openssl", "ts", "-verify", "-in", resp, "-queryfile", query, "-CAfile", root,
              "-untrusted", tsa_pem)
    assert "Verification: OK" in out, out
    out = run("openssl", "ts", "-verify", "-in", resp, "-data", data, "-CAfile", root)
    assert "Verification: OK" in out, out  # the certificate travels in the token (certReq)
    text = run("openssl", "ts", "-reply", "-in", resp, "-text")
    assert f"Policy OID: {tsa.POLICY_TSA}" in text, text
    nonce = int(tsp.TimeStampReq.load(query.read_bytes())["nonce"].native)
    assert re.search(rf"Nonce: 0x0*{nonce:X}", text, re.IGNORECASE), text
    assert "Status: Granted." in text, text
    assert "Ordering: no" in text, text


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "PS256", "EdDSA"])
@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
def test_openssl_verifies_every_key_and_imprint_algorithm(alg: str, digest: str,
                                                          tmp_path: Path) -> None:
    local = make_ca(alg)
    data = tmp_path / "doc.txt"
    data.write_bytes(os.urandom(100))
    query = tmp_path / "q.tsq"
    run("openssl", "ts", "-query", "-data", data, f"-{digest}", "-out", query)  # no -cert
    resp = tmp_path / "reply.tsr"
    resp.write_bytes(stamp_with(local, query.read_bytes(), now=datetime.now(UTC)))
    assert "certificates" not in reply(resp.read_bytes())["time_stamp_token"]["content"] \
        .native or not reply(resp.read_bytes())["time_stamp_token"]["content"][
            "certificates"].native
    root = write_pem(tmp_path / "root.pem", local.root)
    tsa_pem = write_pem(tmp_path / "tsa.pem", local.tsa)
    if alg == "EdDSA":
        # OpenSSL 3.0 cannot sign or verify CMS with Ed25519 at all ("no default digest",
        # "invalid digest"), so check the RFC 8419 form here: SHA-512 message digest, pure
        # Ed25519 over the DER SET OF signed attributes.
        signed = reply(resp.read_bytes())["time_stamp_token"]["content"]
        signer = signed["signer_infos"][0]
        assert signer["digest_algorithm"]["algorithm"].native == "sha512"
        assert signer["signature_algorithm"]["algorithm"].native == "ed25519"
        attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
        tst = signed["encap_content_info"]["content"].contents
        assert attrs["message_digest"].native == hashlib.sha512(tst).digest()
        pub = local.tsa.public_key()
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        pub.verify(signer["signature"].native, signer["signed_attrs"].untag().dump())
        return
    if alg == "PS256":
        # OpenSSL 3.0's `ts -verify` goes through its PKCS#7 code, which does not know
        # RSA-PSS; its CMS code does, so judge the token with that.
        token = tmp_path / "token.der"
        run("openssl", "ts", "-reply", "-in", resp, "-token_out", "-out", token)
        out = run("openssl", "cms", "-verify", "-inform", "DER", "-in", token, "-binary",
                  "-CAfile", root, "-certfile", tsa_pem, "-purpose", "timestampsign",
                  "-out", tmp_path / "tst.der")
        assert "Verification successful" in out, out
        info = tsp.TSTInfo.load((tmp_path / "tst.der").read_bytes())
        assert info["message_imprint"].dump() == tsp.TimeStampReq.load(
            query.read_bytes())["message_imprint"].dump()
        return
    out = run("openssl", "ts", "-verify", "-in", resp, "-queryfile", query,
              "-CAfile", root, "-untrusted", tsa_pem)
    assert "Verification: OK" in out, out


def _rejected(der: bytes) -> tuple[str, set[str]]:
    status = reply(der)["status"]
    assert reply(der)["time_stamp_token"].native is None
    return status["status"].native, set(status["fail_info"].native or ())


@pytest.mark.parametrize("hash_name", ["sha1", "md5", "sha224", "sha3_256"])
def test_weak_or_unknown_hash_is_bad_alg(ca: SmallCA, hash_name: str) -> None:
    assert _rejected(stamp_with(ca, ts_query(hash_name=hash_name))) == ("rejection",
                                                                        {"bad_alg"})


def test_other_policy_is_unaccepted_and_ours_is_fine(ca: SmallCA) -> None:
    assert _rejected(stamp_with(ca, ts_query(policy="1.2.3.4"))) == ("rejection",
                                                                      {"unaccepted_policy"})
    der = stamp_with(ca, ts_query(policy=tsa.POLICY_TSA))
    assert reply(der)["status"]["status"].native == "granted"
    der = stamp_with(ca, ts_query(policy="1.2.3.4"), policy_oid="1.2.3.4")
    assert tst_info(der)["policy"].dotted == "1.2.3.4"


def test_extensions_are_unaccepted(ca: SmallCA) -> None:
    query = ts_query(extensions=[{"extn_id": "1.2.3.4", "extn_value": b"x"}])
    assert _rejected(stamp_with(ca, query)) == ("rejection", {"unaccepted_extensions"})


def test_malformed_queries_are_bad_data_format(ca: SmallCA) -> None:
    good = ts_query()
    wrong_length = tsp.TimeStampReq.load(good)
    wrong_length["message_imprint"]["hashed_message"] = b"short"
    version2 = tsp.TimeStampReq.load(good)
    version2["version"] = 2
    cases = [b"", b"garbage", good[:-1], good + b"\x00", b"\x30" * 9000,
             wrong_length.dump(force=True), version2.dump(force=True),
             ts_query(nonce=2**600), b"\x30\x84\xff\xff\xff\xff"]
    for i, data in enumerate(cases):
        assert _rejected(stamp_with(ca, data)) == ("rejection", {"bad_data_format"}), i


def test_random_bytes_never_raise_in_tsa(ca: SmallCA) -> None:
    good = ts_query()
    rnd = __import__("random").Random(11)
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        assert reply(stamp_with(ca, bytes(data)))["status"]["status"].native in (
            "granted", "rejection")


def test_serials_are_unique_and_come_from_the_source(ca: SmallCA) -> None:
    source = serials()
    got = {tst_info(stamp_with(ca, ts_query(), serial_source=source))["serial_number"].native
           for _ in range(5)}
    assert got == {1000, 1001, 1002, 1003, 1004}


def test_no_nonce_no_cert_req(ca: SmallCA) -> None:
    der = stamp_with(ca, ts_query(nonce=None, cert_req=False))
    info = tst_info(der)
    assert info["nonce"].native is None
    signed = reply(der)["time_stamp_token"]["content"]
    assert not signed["certificates"].native


def test_a_chain_certificate_travels_but_not_the_root(ca: SmallCA) -> None:
    der = tsa.stamp(ts_query(), tsa_cert=ca.tsa, tsa_key_ref=ca.tsa_key,
                    chain=[ca.citizen, ca.root], backend=ca.backend, now=NOW,
                    serial_source=serials())
    certs = reply(der)["time_stamp_token"]["content"]["certificates"]
    assert {c.chosen.dump() for c in certs} == {  # a SET OF: DER sorts it
        c.public_bytes(serialization.Encoding.DER) for c in (ca.tsa, ca.citizen)}


def test_signing_failure_is_system_failure(ca: SmallCA) -> None:
    wrong = make_ca()
    der = tsa.stamp(ts_query(), tsa_cert=ca.tsa, tsa_key_ref=wrong.tsa_key,
                    chain=[], backend=wrong.backend, now=NOW, serial_source=serials())
    assert _rejected(der) == ("rejection", {"system_failure"})


def test_signature_verifies_without_openssl(ca: SmallCA) -> None:
    der = stamp_with(ca, ts_query())
    signer: cms.SignerInfo = reply(der)["time_stamp_token"]["content"]["signer_infos"][0]
    pub = ca.tsa.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(signer["signature"].native, signer["signed_attrs"].untag().dump(),
               ec.ECDSA(hashes.SHA256()))
