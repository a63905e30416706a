"""An RFC 3161 time-stamping authority, as a pure function: TimeStampReq bytes in,
TimeStampResp bytes out.

`stamp` never raises on what a client sent: a query it cannot read is answered with status
`rejection` and failInfo `badDataFormat`; an unsupported hash with `badAlg`; a policy other
than ours with `unacceptedPolicy`; any request extension with `unacceptedExtension` (we
support none, RFC 3161 §2.4.1). A granted token is a CMS SignedData over a DER TSTInfo,
signed through `KeyBackend.sign` with signed attributes content-type, message-digest and
signing-certificate-v2 (ESS, RFC 5035/RFC 5816, hash of the TSA certificate). It has no
signing-time: genTime in the TSTInfo is the time. The signature is verified against the TSA
certificate before the reply leaves.

The steps, in order, as a table of small named checks (`QUERY_CHECKS`), then `_tst_info`,
`_signed_data`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from keys.backend import KeyBackend, KeyBackendError, KeyRef, algorithm, verify_signature
from keys.ca import TSA_POLICY
from keys.ocsp import der_of, signed_digest_algorithm, utc_seconds

log = logging.getLogger(__name__)

#: The time-stamp policy our tokens name (TSTInfo.policy) and the only one a query may ask
#: for. A PLACEHOLDER: it is `keys.ca.TSA_POLICY`, under the placeholder arc
#: `keys.ca.POLICY_ARC`, to be replaced by the OID the national CA (or ETDA, for the policy
#: of ขมธอ. 33-2566) assigns to this TSA's policy. Verifiers that pin a policy must be told
#: when it changes.
POLICY_TSA = TSA_POLICY

#: Largest query we read: a TimeStampReq with a SHA-512 imprint is about 100 bytes.
MAX_QUERY_BYTES = 8 * 1024
#: Imprint hash algorithms we accept, with their digest sizes. SHA-1 is refused (badAlg).
IMPRINT_HASHES: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
#: A nonce is an INTEGER of the client's choosing; bound it (openssl sends 64 bits).
MAX_NONCE_BITS = 512


class Rejected(ValueError):
    """The query is refused with this PKIFailureInfo bit (asn1crypto's name)."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


class TimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp. asn1crypto 1.5's `tsp.TimeStampResp` marks the token as
    required, but a rejection carries none (§2.4.2: "timeStampToken ... OPTIONAL")."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


# --- the checks ----------------------------------------------------------------------------


def check_size(data: bytes, limit: int) -> None:
    if not data or len(data) > limit:
        raise Rejected("bad_data_format", "empty or oversized request")


def load_query(data: bytes) -> tsp.TimeStampReq:
    """The query, if it is DER: asn1crypto also reads BER, so the parse is re-encoded and
    must give back the same bytes. Every field is read here, so a bad one fails now."""
    try:
        query = tsp.TimeStampReq.load(data, strict=True)
        query.native  # noqa: B018
        if query.dump(force=True) != data:
            raise ValueError("not DER")
    except Exception as exc:  # asn1crypto on hostile bytes raises more than ValueError
        raise Rejected("bad_data_format", "not a DER TimeStampReq") from exc
    return query


def check_version(query: tsp.TimeStampReq) -> None:
    if query["version"].native != "v1":
        raise Rejected("bad_data_format", "unsupported version")


def check_imprint(query: tsp.TimeStampReq) -> None:
    imprint = query["message_imprint"]
    name = imprint["hash_algorithm"]["algorithm"].native
    if name not in IMPRINT_HASHES:
        raise Rejected("bad_alg", "unsupported hash algorithm (use SHA-256, -384 or -512)")
    params = imprint["hash_algorithm"]["parameters"]
    if params.native is not None:
        raise Rejected("bad_alg", "hash algorithm parameters must be absent or NULL")
    if len(imprint["hashed_message"].native) != IMPRINT_HASHES[name]:
        raise Rejected("bad_data_format", "hashed message has the wrong length")


def check_nonce(query: tsp.TimeStampReq) -> None:
    nonce = query["nonce"].native
    if nonce is not None and abs(int(nonce)).bit_length() > MAX_NONCE_BITS:
        raise Rejected("bad_data_format", "nonce too large")


def check_extensions(query: tsp.TimeStampReq) -> None:
    if query["extensions"].native:
        raise Rejected("unaccepted_extensions", "request extensions are not supported")


def policy_check(policy_oid: str) -> Callable[[tsp.TimeStampReq], None]:
    def check_policy(query: tsp.TimeStampReq) -> None:
        requested = query["req_policy"].dotted if query["req_policy"].native else None
        if requested is not None and requested != policy_oid:
            raise Rejected("unaccepted_policy", f"only policy {policy_oid} is offered")

    return check_policy


QUERY_CHECKS: tuple[Callable[[tsp.TimeStampReq], None], ...] = (
    check_version,
    check_imprint,
    check_nonce,
    check_extensions,
)


# --- the token -----------------------------------------------------------------------------


def _digest_name(alg: str) -> str:
    """The CMS digest algorithm that goes with a signature algorithm (Ed25519: SHA-512,
    RFC 8419 §3)."""
    return algorithm(alg).hash_name or "sha512"


def _tst_info(query: tsp.TimeStampReq, *, policy_oid: str, serial: int, gen_time: datetime,
              accuracy_seconds: int, tsa_cert: asn1_x509.Certificate) -> tsp.TSTInfo:
    info: dict[str, object] = {
        "version": "v1",
        "policy": policy_oid,
        # the imprint exactly as the client sent it, so it compares equal byte for byte
        "message_imprint": tsp.MessageImprint.load(query["message_imprint"].dump()),
        "serial_number": serial,
        "gen_time": gen_time,
        "accuracy": {"seconds": accuracy_seconds},
        # ordering: DEFAULT FALSE, so left out of the DER
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if query["nonce"].native is not None:
        info["nonce"] = query["nonce"].native
    return tsp.TSTInfo(info)


def _signing_certificate_v2(cert: asn1_x509.Certificate) -> tsp.SigningCertificateV2:
    return tsp.SigningCertificateV2({"certs": [{
        # hashAlgorithm DEFAULT sha256: omitted, as DER requires
        "cert_hash": hashlib.sha256(cert.dump()).digest(),
        "issuer_serial": {
            "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
            "serial_number": cert.serial_number,
        },
    }]})


def _signed_data(tst_der: bytes, *, cert: asn1_x509.Certificate, key: KeyRef,
                 extra_certs: Sequence[asn1_x509.Certificate], include_certs: bool,
                 backend: KeyBackend, public_key: PublicKeyTypes) -> cms.ContentInfo:
    digest_name = _digest_name(key.alg)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "message_digest",
                          "values": [hashlib.new(digest_name, tst_der).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2",
                          "values": [_signing_certificate_v2(cert)]}),
    ])
    # The signature covers the attributes as a DER SET OF (tag 0x31), not as [0] IMPLICIT.
    to_sign = signed_attrs.untag().dump()
    signature = backend.sign(key, to_sign)
    verify_signature(public_key, key.alg, signature, to_sign)
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": cert.issuer, "serial_number": cert.serial_number}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest_name}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": signed_digest_algorithm(key.alg),
        "signature": signature,
    })
    signed: dict[str, object] = {
        "version": "v3",  # RFC 5652 §5.1: eContentType is not id-data
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_name})],
        "encap_content_info": {"content_type": "tst_info",
                               "content": core.ParsableOctetString(tst_der)},
        "signer_infos": [signer],
    }
    if include_certs:
        signed["certificates"] = [cert, *extra_certs]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed)})


def rejection(fail_info: str, text: str) -> bytes:
    """A TimeStampResp with status rejection, one failInfo bit and a short English text."""
    return bytes(TimeStampResp({"status": {
        "status": "rejection",
        "status_string": [text],
        "fail_info": tsp.PKIFailureInfo({fail_info}),
    }}).dump())


def stamp(
    query_der: bytes,
    *,
    tsa_cert: x509.Certificate,
    tsa_key_ref: KeyRef,
    chain: Sequence[x509.Certificate],
    backend: KeyBackend,
    now: datetime,
    serial_source: Callable[[], int],
    policy_oid: str = POLICY_TSA,
    accuracy_seconds: int = 1,
    max_request_bytes: int = MAX_QUERY_BYTES,
) -> bytes:
    """Answer one DER TimeStampReq with one DER TimeStampResp.

    `tsa_cert` must carry the critical EKU id-kp-timeStamping and match `tsa_key_ref`.
    `chain` is the TSA certificate's issuers (self-signed roots are left out of the reply:
    a verifier has them as trust anchors). When the query sets certReq, the TSA certificate
    and that chain travel in the token. `serial_source()` gives each token a unique
    positive serial of at most 160 bits (RFC 3161 §2.4.2). genTime is `now` in UTC, whole
    seconds, with accuracy `accuracy_seconds`.
    """
    try:
        check_size(query_der, max_request_bytes)
        query = load_query(query_der)
        for check in (*QUERY_CHECKS, policy_check(policy_oid)):
            check(query)
    except Rejected as exc:
        log.info("time-stamp request refused: %s", exc.fail_info)
        return rejection(exc.fail_info, exc.text)
    serial = serial_source()
    if not 0 < serial < 1 << 160:
        raise ValueError("serial_source gave a serial out of range")
    cert = asn1_x509.Certificate.load(der_of(tsa_cert))
    tst = _tst_info(query, policy_oid=policy_oid, serial=serial, gen_time=utc_seconds(now),
                    accuracy_seconds=accuracy_seconds, tsa_cert=cert)
    extra = [asn1_x509.Certificate.load(der_of(c)) for c in chain
             if c.subject != c.issuer and c != tsa_cert]
    try:
        token = _signed_data(tst.dump(), cert=cert, key=tsa_key_ref, extra_certs=extra,
                             include_certs=bool(query["cert_req"].native), backend=backend,
                             public_key=tsa_cert.public_key())
    except (KeyBackendError, InvalidSignature) as exc:
        log.error("time-stamp signing failed: %s", type(exc).__name__)
        return rejection("system_failure", "the time-stamping key is not available")
    return bytes(TimeStampResp({"status": {"status": "granted"},
                                "time_stamp_token": token}).dump())
