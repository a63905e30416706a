"""Verification of any signed PDF, ours or anyone's (issue 7): per signature the ETSI EN 319 102-1
indication and sub-indication, signer, chain and trust anchor, times, revocation status and its
source, PAdES level, coverage and what changed after signing.

No Flask: the /verify page and POST /api/v1/verify call `verify_pdf_bounded` with the bytes of
an upload and a `TrustPolicy`, and render the `VerificationReport`.

Two layers, because an upload is hostile until proven otherwise:
  `verify_pdf`          never raises; every parse or CMS error becomes a verdict (INDETERMINATE
                        FORMAT_FAILURE for that signature) or a refusal for the whole file
                        (not_pdf, encrypted, too_large, damaged);
  `verify_pdf_bounded`  runs `verify_pdf` in a worker process with a wall-clock limit and a
                        memory cap: a file that loops, recurses or balloons is killed and
                        refused as "timeout" (or "damaged" if the worker died), and the
                        caller neither hangs nor crashes.

The AdES processes themselves are pyhanko's (`signing.verification_ades`); this module reads the
file, orders the signatures and decides the document's overall indication.
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.decode_limits import DecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

from signing.pades import asyncio_safe
from signing.verification_ades import (
    SUBFILTER_FORMATS,
    VERDICT_CODES,
    DocumentFacts,
    apply_modifications,
    dss_revisions,
    embedded_status,
    integrity,
    judge_signature,
    judge_timestamp,
    read_dss,
)
from signing.verification_model import (
    CertificateInfo,
    Indication,
    Refusal,
    SignatureVerdict,
    TrustPolicy,
    VerificationReport,
    worst,
)
from signing.verification_pool import Died, Overrun, pool_for
from signing.visual_changes import changed_pages

log = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_SIGNATURES = 50
"""More signatures than any real document carries; beyond this the file is refused as damaged
rather than spending the time limit on it."""


def verify_pdf(data: bytes, policy: TrustPolicy, *, max_bytes: int = DEFAULT_MAX_BYTES
               ) -> VerificationReport:
    """Judge every signature and document time-stamp of `data`, oldest first.

    Never raises for any input: the worst outcome is a report with `refusal` set. No network
    access unless `policy.online_revocation` (and then only OCSP/CRL URLs of certificates on
    the signer's path, with `policy.fetch_timeout` per request).
    """
    now = datetime.now(UTC)
    digest = hashlib.sha256(data).hexdigest()
    report = VerificationReport(indication=Indication.INDETERMINATE, sub_indication=None,
                                refusal=None, document_sha256=digest, size=len(data),
                                pages=None, validation_time=now)
    try:
        refusal = _judge(data, policy, max_bytes, report)
    except RecursionError:
        refusal = Refusal.DAMAGED
    except MemoryError:
        refusal = Refusal.TOO_LARGE
    except Exception:  # the last line: whatever escaped the per-signature guards
        refusal = Refusal.DAMAGED
    if refusal is not None:
        return refuse(report, refusal)
    report.indication, report.sub_indication = worst(report.signatures)
    return report


def refuse(report: VerificationReport, refusal: Refusal) -> VerificationReport:
    report.refusal = refusal.value
    report.signatures = []
    report.indication, report.sub_indication = Indication.INDETERMINATE, None
    return report


def _looks_like_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:1024]


def _judge(data: bytes, policy: TrustPolicy, max_bytes: int,
           report: VerificationReport) -> Refusal | None:
    if len(data) > max_bytes:
        return Refusal.TOO_LARGE
    if not _looks_like_pdf(data):
        return Refusal.NOT_PDF
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False, decode_limits=DecodeLimits())
    except Exception:
        return Refusal.DAMAGED
    if reader.encrypted:
        return Refusal.ENCRYPTED
    try:
        pages = int(reader.root["/Pages"]["/Count"])
        report.pages = pages if pages >= 0 else None
    except Exception:
        report.pages = None
    try:
        sigs, broken = _signatures(reader)
    except Exception:
        return Refusal.DAMAGED
    if len(sigs) + len(broken) > MAX_SIGNATURES:
        return Refusal.DAMAGED
    ocsps, crls, certs = read_dss(reader)
    facts = DocumentFacts(reader=reader, dss_ocsps=ocsps, dss_crls=crls, dss_certs=certs,
                          dss_revisions=dss_revisions(reader), data=data)
    timing = ValidationTimingInfo.now(tz=UTC)
    sigs.sort(key=_revision_of)
    for sig in sigs:
        verdict = asyncio_safe(partial(_one, sig, policy, facts, timing))
        if verdict.kind == "doc_timestamp" and verdict.indication is Indication.TOTAL_PASSED:
            facts.doc_ts_revisions.append(verdict.revision)
        report.signatures.append(verdict)
    for verdict in report.signatures:
        verdict.format = _format(verdict, facts)
    report.signatures.extend(broken)
    return None


def _signatures(reader: PdfFileReader) -> tuple[list[EmbeddedPdfSignature],
                                                list[SignatureVerdict]]:
    """The filled signature fields, each parsed on its own: pyhanko's `embedded_signatures`
    fails the whole file when one /Contents is not a CMS, and a forged field next to a good
    signature must not hide the good one. Unparseable ones come back as verdicts already:
    INDETERMINATE/FORMAT_FAILURE ("signature_unreadable")."""
    good: list[EmbeddedPdfSignature] = []
    broken: list[SignatureVerdict] = []
    for fq_name, sig_obj, sig_field in enumerate_sig_fields(reader, filled_status=True):
        if len(good) + len(broken) > MAX_SIGNATURES:
            break
        try:
            good.append(EmbeddedPdfSignature(reader, sig_field, fq_name))
        except Exception:
            obj = _safe(sig_obj.get_object)
            kind = "doc_timestamp" if _safe(lambda o=obj: o.get("/Type")) == "/DocTimeStamp" \
                else "signature"
            verdict = SignatureVerdict(field_name=str(fq_name), kind=kind, revision=-1)
            verdict.subfilter = _safe(lambda o=obj: str(o.get("/SubFilter", "")).lstrip("/"))
            broken.append(_unprocessable(verdict, "signature_unreadable"))
    return good, broken


def _revision_of(sig: Any) -> int:
    try:
        return int(sig.signed_revision)
    except Exception:
        return 1 << 30


def _one(sig: Any, policy: TrustPolicy, facts: DocumentFacts,
         timing: ValidationTimingInfo) -> SignatureVerdict:
    """One verdict; every pyhanko exception becomes INDETERMINATE/FORMAT_FAILURE (the file's
    signature cannot be processed as the standard says) instead of escaping."""
    try:
        kind = "doc_timestamp" if sig.sig_object_type == "/DocTimeStamp" else "signature"
    except Exception:
        kind = "signature"
    verdict = SignatureVerdict(field_name=_safe(lambda: str(sig.field_name)) or "?",
                               kind=kind, revision=_revision_of(sig))
    verdict.subfilter = _safe(lambda: str(sig.sig_object.get("/SubFilter", "")).lstrip("/"))
    try:
        integrity(sig, verdict)
    except Exception:
        return _unprocessable(verdict, "byte_range_invalid")
    try:
        if kind == "doc_timestamp":
            asyncio_run(judge_timestamp(sig, verdict, policy, facts, timing))
        else:
            asyncio_run(judge_signature(sig, verdict, policy, facts, timing))
    except Exception:
        return _unprocessable(verdict, "signature_unreadable")
    apply_modifications(verdict)
    if kind == "signature" and verdict.modifications in VISIBLE_CHANGE_KINDS:
        _compare_renderings(sig, verdict, facts.data)
    return verdict


VISIBLE_CHANGE_KINDS = ("form_filling", "annotations")
"""Later changes the difference analysis allows but that can still change what a person sees
(the shadow attacks): for these the signed revision is rendered and compared."""


def _compare_renderings(sig: Any, verdict: SignatureVerdict, data: bytes) -> None:
    """A warning naming the pages that look different now than when this was signed
    (`signing.visual_changes`); the indication is not changed by it."""
    try:
        byte_range = [int(v) for v in sig.byte_range]
        signed = data[:byte_range[2] + byte_range[3]]
    except Exception:
        return
    pages = changed_pages(signed, data)
    if pages:
        verdict.changed_pages = pages
        verdict.warnings.append("visible_changes_after_signing")


def asyncio_run(coro: Any) -> Any:
    import asyncio
    return asyncio.run(coro)


def _unprocessable(verdict: SignatureVerdict, code: str) -> SignatureVerdict:
    verdict.indication = Indication.INDETERMINATE
    verdict.sub_indication = AdESFailure.FORMAT_FAILURE.name
    if code not in verdict.errors:
        verdict.errors.append(code)
    return verdict


def _safe(call: Any) -> Any:
    try:
        return call()
    except Exception:
        return None


def _format(verdict: SignatureVerdict, facts: DocumentFacts) -> str | None:
    """The format reached, as EU DSS names it. For ETSI.CAdES.detached: B with a signature;
    T with a signature time-stamp, or a passing document time-stamp after it; LT when the DSS
    holds the signer's revocation status; LTA when a passing document time-stamp covers a
    revision with the DSS. Honest about the legacy PKCS#7 form (not PAdES baseline)."""
    subfilter = verdict.subfilter or ""
    if subfilter in SUBFILTER_FORMATS:
        return SUBFILTER_FORMATS[subfilter]
    if subfilter != "ETSI.CAdES.detached":
        return None
    if verdict.kind != "signature":
        return None
    later_ts = [r for r in facts.doc_ts_revisions if r > verdict.revision]
    level = "B"
    stamped = (verdict.timestamp_time is not None
               and "signature_timestamp_invalid" not in verdict.warnings)
    if stamped or later_ts:
        level = "T"
    if level == "T" and verdict.revocation_source == "embedded" and any(
            r > verdict.revision for r in facts.dss_revisions):
        level = "LT"
        if any(any(d <= ts for d in facts.dss_revisions if d > verdict.revision)
               for ts in later_ts):
            level = "LTA"
    return f"PAdES-BASELINE-{level}"


# --- the bounded runner ------------------------------------------------------------------------


def _policy_to_wire(policy: TrustPolicy) -> tuple[Any, ...]:
    """`cryptography` certificates do not pickle: the child gets them as DER."""
    der = serialization.Encoding.DER
    return (tuple(c.public_bytes(der) for c in policy.roots),
            tuple(c.public_bytes(der) for c in policy.intermediates),
            policy.online_revocation, policy.fetch_timeout)


def _policy_from_wire(wire: tuple[Any, ...]) -> TrustPolicy:
    roots, intermediates, online, timeout = wire
    return TrustPolicy(roots=tuple(x509.load_der_x509_certificate(d) for d in roots),
                       intermediates=tuple(x509.load_der_x509_certificate(d)
                                           for d in intermediates),
                       online_revocation=online, fetch_timeout=timeout)


def _judge_wire(data: bytes, wire: tuple[Any, ...], max_bytes: int) -> VerificationReport:
    """What a pool worker runs (plain data in and out: it crosses a pipe)."""
    return verify_pdf(data, _policy_from_wire(wire), max_bytes=max_bytes)


def verify_pdf_bounded(data: bytes, policy: TrustPolicy, *, timeout_seconds: float = 20.0,
                       max_bytes: int = DEFAULT_MAX_BYTES) -> VerificationReport:
    """`verify_pdf` in a worker process (`signing.verification_pool`), killed after
    `timeout_seconds` (refusal "timeout"; also when no worker came free in that time), or
    "damaged" when the worker died without answering. The size limit is checked here first
    so an oversized upload is never even copied to a worker."""
    digest = hashlib.sha256(data).hexdigest()
    base = VerificationReport(indication=Indication.INDETERMINATE, sub_indication=None,
                              refusal=None, document_sha256=digest, size=len(data), pages=None,
                              validation_time=datetime.now(UTC))
    if len(data) > max_bytes:
        return refuse(base, Refusal.TOO_LARGE)
    try:
        result = pool_for(_judge_wire).run((data, _policy_to_wire(policy), max_bytes),
                                           timeout_seconds)
    except Overrun:
        return refuse(base, Refusal.TIMEOUT)
    except Died:
        return refuse(base, Refusal.DAMAGED)
    except (OSError, AssertionError):
        # no worker possible here (e.g. we are a daemonic process ourselves): the verdict
        # still comes, without the time bound, rather than refusing a good file
        log.warning("no verification worker; verifying in-process", exc_info=True)
        return verify_pdf(data, policy, max_bytes=max_bytes)
    return result if isinstance(result, VerificationReport) else refuse(base, Refusal.DAMAGED)


__all__ = [
    "VERDICT_CODES",
    "CertificateInfo",
    "Indication",
    "Refusal",
    "SignatureVerdict",
    "TrustPolicy",
    "VerificationReport",
    "embedded_status",
    "verify_pdf",
    "verify_pdf_bounded",
]
