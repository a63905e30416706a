"""An RFC 6960 OCSP responder, as a pure function: request bytes in, response bytes out.

`answer` never raises on what a client sent: a request it cannot read gets an OCSP
`malformedRequest` response, a request about a CA we do not run gets `unauthorized`. The
answer is signed by the delegated responder certificate of the CA that issued the
certificate in question (RFC 6960 §4.2.2.2: EKU id-kp-OCSPSigning, issued by that CA, with
id-pkix-ocsp-nocheck), and that certificate travels in the response so a client can check
the delegation. The private key never comes here: signing goes through `KeyBackend.sign`,
and the signature is verified against the responder certificate before the answer leaves.

The whole BasicOCSPResponse is built with asn1crypto rather than with cryptography's
`OCSPResponseBuilder`, for two reasons: the builder needs a private key object (we only
have a backend handle), and cryptography's request parser accepts one CertID per request
only, while RFC 6960 allows several. We parse with asn1crypto too, so a request for several
certificates is answered in full (up to `MAX_CERT_IDS`), provided they share one issuer:
one response has one signer, and a delegated responder speaks only for its own CA.

The flow is a table of small named steps, as elsewhere in the project: read the request
(`_parse_request`: size, DER, version, extensions, nonce, CertIDs), find the issuer of
every CertID (`_issuers`), pick its responder (`_responder`), look up each status
(`_single_response`), then sign (`_sign`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from asn1crypto import algos, core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from keys.backend import KeyBackend, KeyBackendError, KeyRef, algorithm, verify_signature

log = logging.getLogger(__name__)

#: Largest request we read (RFC 6960 requests are a few hundred bytes; GET form included).
MAX_REQUEST_BYTES = 8 * 1024
#: Most CertIDs answered in one response.
MAX_CERT_IDS = 10
#: How long an answer may be relied on (nextUpdate - thisUpdate).
DEFAULT_VALIDITY = timedelta(hours=1)
#: CertID hash algorithms we can match issuers by.
CERT_ID_HASHES: dict[str, int] = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
#: RFC 8954 §2.1: a nonce is 1 to 32 octets; a responder rejects anything else.
NONCE_MIN, NONCE_MAX = 1, 32

# OCSPResponseStatus names, as asn1crypto spells them.
SUCCESSFUL = "successful"
MALFORMED_REQUEST = "malformed_request"
INTERNAL_ERROR = "internal_error"
TRY_LATER = "try_later"
UNAUTHORIZED = "unauthorized"


class StatusLike(Protocol):
    """What `status_of` returns for a certificate we issued (e.g. `Pki.status`)."""

    @property
    def status(self) -> str: ...  # "good" | "revoked"

    @property
    def revoked_at(self) -> datetime | None: ...

    @property
    def reason(self) -> str | None: ...


Issuer = TypeVar("Issuer")
Responder = tuple[x509.Certificate, KeyRef]


# --- signature algorithms, shared with keys.tsa ---------------------------------------------


def signed_digest_algorithm(alg: str) -> algos.SignedDigestAlgorithm:
    """The X.509/CMS AlgorithmIdentifier of a signature made by `KeyBackend.sign` for a key
    of JOSE algorithm `alg` (ECDSA: no parameters; RSA: NULL; RSA-PSS: explicit
    parameters; Ed25519: no parameters)."""
    a = algorithm(alg)
    if a.kind == "ec":
        return algos.SignedDigestAlgorithm({"algorithm": f"{a.hash_name}_ecdsa"})
    if a.kind == "rsa":
        return algos.SignedDigestAlgorithm({"algorithm": f"{a.hash_name}_rsa"})
    if a.kind == "rsa-pss":
        size = a.hash().digest_size
        return algos.SignedDigestAlgorithm({
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams({
                "hash_algorithm": {"algorithm": a.hash_name},
                "mask_gen_algorithm": {"algorithm": "mgf1",
                                       "parameters": {"algorithm": a.hash_name}},
                "salt_length": size,
                "trailer_field": "trailer_field_bc",
            }),
        })
    return algos.SignedDigestAlgorithm({"algorithm": "ed25519"})


def der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def utc_seconds(when: datetime) -> datetime:
    """`when` in UTC, whole seconds (DER GeneralizedTime in PKIX has no fraction)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


# --- reading the request -------------------------------------------------------------------


class Malformed(ValueError):
    """The request cannot be answered as it is (-> malformedRequest)."""


@dataclass(frozen=True)
class Query:
    """One CertID of a request."""

    cert_id: asn1_ocsp.CertId
    hash_alg: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int


@dataclass(frozen=True)
class ParsedRequest:
    queries: list[Query]
    nonce_ext: bytes | None  # the nonce extension's extnValue octets, echoed as they came


def _check_size(data: bytes, limit: int) -> None:
    if not data:
        raise Malformed("empty request")
    if len(data) > limit:
        raise Malformed("request too large")


def _load(data: bytes) -> asn1_ocsp.OCSPRequest:
    """The request, if it is DER: asn1crypto also reads BER, so the parse is re-encoded and
    must give back the same bytes (DER is the one encoding that does)."""
    request = asn1_ocsp.OCSPRequest.load(data, strict=True)
    if request.dump(force=True) != data:
        raise Malformed("not DER")
    return request


def _check_version(tbs: asn1_ocsp.TBSRequest) -> None:
    if tbs["version"].native != "v1":
        raise Malformed("unsupported request version")


def _read_extensions(tbs: asn1_ocsp.TBSRequest) -> bytes | None:
    """The nonce's extnValue (if any), to echo byte for byte. Unknown non-critical
    extensions are ignored (RFC 6960 §4.4); an unknown critical one, a duplicate nonce, a
    nonce outside 1..32 octets (RFC 8954) or one not wrapped in its OCTET STRING (as some
    RFC 2560-era clients sent it; RFC 6960 §4.4.1 defines the wrapped form) makes the
    request malformed."""
    nonce: bytes | None = None
    for ext in tbs["request_extensions"] or []:
        name = ext["extn_id"].native
        if name == "nonce":
            if nonce is not None:
                raise Malformed("two nonces")
            value = bytes(ext["extn_value"].parsed.native)
            if not NONCE_MIN <= len(value) <= NONCE_MAX:
                raise Malformed("nonce length out of range")
            nonce = bytes(ext["extn_value"].contents)
        elif ext["critical"].native:
            raise Malformed("unsupported critical extension")
    return nonce


def _read_queries(tbs: asn1_ocsp.TBSRequest, max_cert_ids: int) -> list[Query]:
    requests = tbs["request_list"]
    if len(requests) == 0 or len(requests) > max_cert_ids:
        raise Malformed("no CertID, or too many")
    queries = []
    for req in requests:
        for ext in req["single_request_extensions"] or []:
            if ext["critical"].native:
                raise Malformed("unsupported critical extension")
        cid = req["req_cert"]
        hash_alg = str(cid["hash_algorithm"]["algorithm"].native)
        name_hash = bytes(cid["issuer_name_hash"].native)
        key_hash = bytes(cid["issuer_key_hash"].native)
        size = CERT_ID_HASHES.get(hash_alg)
        if size is not None and (len(name_hash) != size or len(key_hash) != size):
            raise Malformed("CertID hash of the wrong length")
        queries.append(Query(cid, hash_alg, name_hash, key_hash, int(cid["serial_number"].native)))
    return queries


def _parse_request(data: bytes, max_request_bytes: int, max_cert_ids: int) -> ParsedRequest:
    _check_size(data, max_request_bytes)
    try:
        request = _load(data)
        tbs = request["tbs_request"]
        _check_version(tbs)
        nonce = _read_extensions(tbs)
        queries = _read_queries(tbs, max_cert_ids)
    except Malformed:
        raise
    except Exception as exc:  # asn1crypto on hostile bytes raises more than ValueError
        raise Malformed("not a DER OCSPRequest") from exc
    return ParsedRequest(queries, nonce)


# --- building the response -----------------------------------------------------------------


def error_response(status: str) -> bytes:
    """An unsigned OCSP response with an error status (RFC 6960 §2.3): malformed_request,
    internal_error, try_later, sig_required or unauthorized."""
    return bytes(asn1_ocsp.OCSPResponse({"response_status": status}).dump())


_REASONS = {name.replace("_", ""): name for name in asn1_crl.CRLReason._map.values()}


def reason_name(reason: str | None) -> str | None:
    """A CRLReason as asn1crypto names it, from either spelling (`keyCompromise`, as
    cryptography's ReasonFlags, or `key_compromise`); None for none, unknown or
    `unspecified` (RFC 5280 §5.3.1: leave the reason out rather than say unspecified)."""
    if not reason:
        return None
    name = _REASONS.get(reason.replace("_", "").replace("-", "").lower())
    return None if name in (None, "unspecified") else name


def _cert_status(status: StatusLike | None, now: datetime) -> asn1_ocsp.CertStatus:
    if status is None or status.status not in ("good", "revoked"):
        return asn1_ocsp.CertStatus(name="unknown", value=asn1_ocsp.StatusUnknown())
    if status.status == "good":
        return asn1_ocsp.CertStatus(name="good", value=asn1_ocsp.StatusGood())
    info: dict[str, object] = {"revocation_time": utc_seconds(status.revoked_at or now)}
    reason = reason_name(status.reason)
    if reason:
        info["revocation_reason"] = reason
    return asn1_ocsp.CertStatus(name="revoked", value=asn1_ocsp.RevokedInfo(info))


def _single_response(query: Query, status: StatusLike | None, now: datetime,
                     validity: timedelta) -> asn1_ocsp.SingleResponse:
    return asn1_ocsp.SingleResponse({
        "cert_id": asn1_ocsp.CertId.load(query.cert_id.dump()),
        "cert_status": _cert_status(status, now),
        "this_update": now,
        "next_update": now + validity,
    })


def _responder_id(cert: x509.Certificate) -> asn1_ocsp.ResponderId:
    """byKey: SHA-1 of the responder's subjectPublicKey BIT STRING (RFC 6960 §4.2.1)."""
    key_hash = asn1_x509.Certificate.load(der_of(cert)).public_key.sha1
    return asn1_ocsp.ResponderId(name="by_key", value=core.OctetString(key_hash))


def _sign(tbs: asn1_ocsp.ResponseData, responder: Responder, backend: KeyBackend) -> bytes:
    cert, key = responder
    tbs_der = tbs.dump()
    signature = backend.sign(key, tbs_der)
    verify_signature(cert.public_key(), key.alg, signature, tbs_der)
    basic = asn1_ocsp.BasicOCSPResponse({
        "tbs_response_data": tbs,
        "signature_algorithm": signed_digest_algorithm(key.alg),
        "signature": signature,
        "certs": [asn1_x509.Certificate.load(der_of(cert))],
    })
    return bytes(asn1_ocsp.OCSPResponse({
        "response_status": SUCCESSFUL,
        "response_bytes": {"response_type": "basic_ocsp_response",
                           "response": core.ParsableOctetString(basic.dump())},
    }).dump())


def answer(
    request_der: bytes,
    *,
    find_issuer: Callable[[bytes, bytes, str], Issuer | None],
    status_of: Callable[[Issuer, int], StatusLike | None],
    responder_for: Callable[[Issuer], Responder | None],
    backend: KeyBackend,
    now: datetime,
    validity: timedelta = DEFAULT_VALIDITY,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    max_cert_ids: int = MAX_CERT_IDS,
) -> bytes:
    """Answer one DER OCSPRequest with one DER OCSPResponse.

    - `find_issuer(issuer_name_hash, issuer_key_hash, hash_alg)`: the CA a CertID names
      (hash_alg "sha1", "sha256", "sha384" or "sha512"), or None if it is not ours.
    - `status_of(issuer, serial)`: the certificate's status, or None if that CA never
      issued that serial (answered `unknown`).
    - `responder_for(issuer)`: the delegated responder certificate and its key for that CA.

    thisUpdate and producedAt are `now`, nextUpdate `now + validity`; the request's nonce is
    echoed. Errors of the callbacks (a database away) propagate to the caller, which knows
    whether to say tryLater; a backend that cannot sign gives `internalError`.
    """
    now = utc_seconds(now)
    try:
        parsed = _parse_request(request_der, max_request_bytes, max_cert_ids)
    except Malformed as exc:
        log.info("OCSP request refused: %s", exc)
        return error_response(MALFORMED_REQUEST)
    issuers: list[Issuer] = []
    for q in parsed.queries:
        issuer = (find_issuer(q.issuer_name_hash, q.issuer_key_hash, q.hash_alg)
                  if q.hash_alg in CERT_ID_HASHES else None)
        if issuer is None:
            return error_response(UNAUTHORIZED)
        issuers.append(issuer)
    responders = [responder_for(i) for i in issuers]
    first = responders[0]
    if first is None or any(r is None or der_of(r[0]) != der_of(first[0]) for r in responders):
        return error_response(UNAUTHORIZED)
    singles = [_single_response(q, status_of(i, q.serial), now, validity)
               for q, i in zip(parsed.queries, issuers, strict=True)]
    data: dict[str, object] = {
        "responder_id": _responder_id(first[0]),
        "produced_at": now,
        "responses": singles,
    }
    if parsed.nonce_ext is not None:
        data["response_extensions"] = [asn1_ocsp.ResponseDataExtension({
            "extn_id": "nonce",
            "extn_value": core.ParsableOctetString(parsed.nonce_ext),
        })]
    try:
        return _sign(asn1_ocsp.ResponseData(data), first, backend)
    except (KeyBackendError, InvalidSignature) as exc:
        log.error("OCSP signing failed: %s", type(exc).__name__)
        return error_response(INTERNAL_ERROR)


def issuer_hashes(issuer: x509.Certificate, hash_alg: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CA certificate under `hash_alg`, as a CertID
    carries them: the hash of the DER subject name and of the subjectPublicKey bits."""
    cert = asn1_x509.Certificate.load(der_of(issuer))
    key_bits = bytes(cert.public_key["public_key"].contents[1:])  # drop the unused-bits octet
    name_der = cert.subject.dump()
    return (hashlib.new(hash_alg, name_der).digest(), hashlib.new(hash_alg, key_bits).digest())
