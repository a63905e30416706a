"""PAdES baseline signatures (ETSI EN 319 142-1) with pyhanko: sign, check uploads, validate.

No Flask, no `idp`: the web layer passes in the signer (`signing.signer.BackendSigner`), the
timestamper (our /pki/tsa) and the validation context (`signing.validation`).

Levels, each one the one before plus something:
  B-B    CAdES-detached CMS (`/SubFilter /ETSI.CAdES.detached`), signing-certificate-v2, no
         signing-time attribute (pyhanko omits it in PAdES mode);
  B-T    an RFC 3161 signature time-stamp over the signature value (unsigned attribute);
  B-LT   a /DSS with the certificates and OCSP answers / CRLs of the signer's and TSA's chains;
  B-LTA  a document time-stamp (`/SubFilter /ETSI.RFC3161`) covering the LT data.

Every signature is an incremental update, so earlier signatures keep their byte ranges and
stay valid. pyhanko's traps (reference/signatures.md): the PAdES subfilter is set explicitly,
/Contents is reserved generously, and uploads are read with decoding limits and validated
without fetching anything.
"""

from __future__ import annotations

import asyncio
import enum
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodeLimits
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import QRStampStyle, TextStampStyle
from pyhanko_certvalidator import ValidationContext

from signing.signer import BackendSigner

#: /Contents reserved per level, in bytes of DER (pyhanko writes twice as many hex digits).
#: A P-256 CMS with a 3-certificate chain is ~2 KiB, a time-stamp token with the TSA chain
#: ~3 KiB more; the reservation leaves room for longer chains and RSA keys.
RESERVE = {"B-B": 16 * 1024, "B-T": 32 * 1024, "B-LT": 32 * 1024, "B-LTA": 32 * 1024}
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PAGES = 500
MAX_TEXT = 200
T = TypeVar("T")


class Level(enum.StrEnum):
    """A PAdES baseline level; the value is how ETSI writes it."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class DocumentError(ValueError):
    """An upload or a document we refuse, with a stable `code` for the caller to map to a
    translated message, and a plain `message` that never carries a traceback or the input."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Appearance:
    """A visible signature: a box on `page` (0-based) with the signer's name, the time and a
    QR code leading to the verification page."""

    signer_name: str
    verify_url: str
    page: int = 0
    box: tuple[int, int, int, int] = (40, 40, 300, 110)


@dataclass(frozen=True)
class SignRequest:
    """What one signature should be: level, optional reason and location, optional visible
    appearance. The field name is chosen automatically (Signature1, Signature2, ...)."""

    level: Level = Level.B_LT
    reason: str | None = None
    location: str | None = None
    appearance: Appearance | None = None
    field_name: str | None = None

    def __post_init__(self) -> None:
        for text in (self.reason, self.location):
            if text is not None and len(text) > MAX_TEXT:
                raise DocumentError("text_too_long", f"reason and location are at most "
                                                     f"{MAX_TEXT} characters")


# --- checking uploads --------------------------------------------------------------------


def _read(pdf: bytes) -> PdfFileReader:
    """A reader with pyhanko's decoding limits (compression bombs), or DocumentError."""
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=DecodeLimits())
    except Exception:  # pyhanko raises many kinds on broken input; none may become a 500
        raise DocumentError("damaged", "the PDF file is damaged and cannot be read; "
                                       "save or export it again and retry") from None


def check_input(pdf: bytes, max_bytes: int = DEFAULT_MAX_BYTES,
                max_pages: int = DEFAULT_MAX_PAGES) -> int:
    """Refuse what we will not sign or validate; return the page count.

    Codes: too_large, not_pdf, damaged, encrypted, too_many_pages.
    """
    if len(pdf) > max_bytes:
        raise DocumentError("too_large", f"the file is over {max_bytes // (1024 * 1024) or 1} MB")
    if not pdf.lstrip(b"\x00\t\n\f\r ")[:1024].startswith(b"%PDF-") and b"%PDF-" not in pdf[:1024]:
        raise DocumentError("not_pdf", "the file is not a PDF document")
    if b"%%EOF" not in pdf[-2048:]:
        raise DocumentError("damaged", "the PDF file is incomplete (cut short); "
                                       "upload it again")
    reader = _read(pdf)
    if reader.encrypted:
        raise DocumentError("encrypted", "the PDF is password-protected or encrypted; "
                                         "remove the protection and retry")
    try:
        pages = int(reader.root["/Pages"]["/Count"])
    except Exception:
        raise DocumentError("damaged", "the PDF file is damaged: its page tree cannot be "
                                       "read") from None
    if pages < 1:
        raise DocumentError("damaged", "the PDF has no pages")
    if pages > max_pages:
        raise DocumentError("too_many_pages", f"the PDF has more than {max_pages} pages")
    return pages


# --- signing ---------------------------------------------------------------------------------


def _field_name(reader: PdfFileReader) -> str:
    taken = {name for name, _, _ in fields.enumerate_sig_fields(reader, filled_status=None)}
    n = 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def _stamp(appearance: Appearance) -> tuple[TextStampStyle, dict[str, str]]:
    """Name, time and a QR code (pyhanko's QR stamp, drawn with `qrcode`) that leads to the
    verification page."""
    style = QRStampStyle(stamp_text="%(signer)s\n%(ts)s\nVerify: scan the code")
    return style, {"url": appearance.verify_url, "signer": appearance.signer_name}


def sign_pdf(pdf: bytes, signer: BackendSigner, request: SignRequest, *,
             timestamper: TimeStamper | None = None,
             validation_context: ValidationContext | None = None) -> bytes:
    """Sign `pdf` as an incremental update at `request.level`; return the new PDF bytes.

    B-T and above need `timestamper`; B-LT and above need `validation_context` (trusting our
    root, fetching allowed: the OCSP answers and CRLs are fetched from the URLs in the
    certificates and embedded). Use a fresh context per call: pyhanko releases the context's
    fetchers when a signature is done, and a reused one fails the next presign validation.
    Raises DocumentError for unreadable input, SigningError when the TSA or revocation
    data cannot be had (nothing half-signed is returned).
    """
    level = request.level
    if level.rank >= Level.B_T.rank and timestamper is None:
        raise ValueError(f"{level} needs a timestamper")
    if level.rank >= Level.B_LT.rank and validation_context is None:
        raise ValueError(f"{level} needs a validation context")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except Exception:
        raise DocumentError("damaged", "the PDF file is damaged and cannot be read") from None
    if writer.prev.encrypted:
        raise DocumentError("encrypted", "the PDF is encrypted; remove the protection first")
    name = request.field_name or _field_name(writer.prev)
    lt = level.rank >= Level.B_LT.rank
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm=signer.digest_algorithm,
        subfilter=SigSeedSubFilter.PADES,
        reason=request.reason,
        location=request.location,
        embed_validation_info=lt,
        use_pades_lta=level is Level.B_LTA,
        validation_context=validation_context if lt else None,
    )
    style: TextStampStyle | None = None
    params: dict[str, str] | None = None
    spec: fields.SigFieldSpec | None = None
    if request.appearance is not None:
        style, params = _stamp(request.appearance)
        spec = fields.SigFieldSpec(name, on_page=request.appearance.page,
                                   box=request.appearance.box)
    pdf_signer = signers.PdfSigner(
        meta, signer, timestamper=timestamper if level.rank >= Level.B_T.rank else None,
        stamp_style=style, new_field_spec=spec)
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=out, appearance_text_params=params,
                        bytes_reserved=RESERVE[level.value])
    return out.getvalue()


# --- validation --------------------------------------------------------------------------------


@dataclass
class SignatureReport:
    """One signature (or document time-stamp) as a person reads it."""

    field_name: str
    kind: str  # "signature" | "doc_timestamp"
    subfilter: str
    intact: bool
    valid: bool
    trusted: bool
    whole_document: bool
    level: Level | None  # the PAdES baseline level reached; None: not PAdES or not valid
    signer: str | None = None
    signing_time: datetime | None = None  # the claimed /M
    timestamp: datetime | None = None  # the signature time-stamp's (or doc TS's) time
    timestamp_valid: bool | None = None
    problems: list[str] = field(default_factory=list)


def _dss_has_revocation(reader: PdfFileReader) -> bool:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:
        return False
    return bool(dss.ocsps or dss.crls) and bool(dss.certs)


def _name(cert: asn1_x509.Certificate | None) -> str | None:
    return cert.subject.human_friendly if cert is not None else None


def validate_pdf(pdf: bytes, validation_context: ValidationContext) -> list[SignatureReport]:
    """A report per embedded signature, oldest first.

    `validation_context` should be `signing.validation.offline_context(...)` for uploads: it
    trusts our roots and never fetches. The level reached is judged from what pyhanko
    validated: B-B a valid, trusted CAdES-detached signature; B-T with a valid signature
    time-stamp (or a valid document time-stamp after it); B-LT with revocation data in the
    DSS; B-LTA with a valid document time-stamp after the DSS.
    """
    reader = _read(pdf)
    if reader.encrypted:
        raise DocumentError("encrypted", "the PDF is encrypted; it cannot be validated")
    sigs = list(reader.embedded_signatures)
    reports: list[SignatureReport] = []
    has_dss = _dss_has_revocation(reader)
    for sig in sigs:
        subfilter = str(sig.sig_object.get("/SubFilter", "")).lstrip("/")
        is_ts = sig.sig_object_type == "/DocTimeStamp"
        report = SignatureReport(field_name=sig.field_name, kind="doc_timestamp" if is_ts else
                                 "signature", subfilter=subfilter, intact=False, valid=False,
                                 trusted=False, whole_document=False, level=None)
        try:
            if is_ts:
                ts_status = asyncio_safe(partial(validate_pdf_timestamp, sig,
                                                 validation_context=validation_context))
                report.intact, report.valid = ts_status.intact, ts_status.valid
                report.trusted = ts_status.trusted
                report.timestamp = ts_status.timestamp
                report.timestamp_valid = ts_status.valid and ts_status.trusted
                report.signer = _name(ts_status.signing_cert)
            else:
                status = asyncio_safe(partial(validate_pdf_signature, sig,
                                              validation_context))
                report.intact, report.valid = status.intact, status.valid
                report.trusted = status.trusted
                report.signer = _name(status.signing_cert)
                report.signing_time = status.signer_reported_dt
                if status.timestamp_validity is not None:
                    tsv = status.timestamp_validity
                    report.timestamp = tsv.timestamp
                    report.timestamp_valid = tsv.intact and tsv.valid and tsv.trusted
            cov = sig.coverage.name if sig.coverage is not None else ""
            report.whole_document = cov == "ENTIRE_FILE"
        except Exception as exc:  # a hostile or odd file: a verdict, never a 500
            report.problems.append(f"could not be validated: {type(exc).__name__}")
            reports.append(report)
            continue
        if not report.intact:
            report.problems.append("the signed bytes were changed after signing")
        elif not report.valid:
            report.problems.append("the signature value does not verify")
        elif not report.trusted:
            report.problems.append("the signer's certificate does not lead to a trusted root")
        reports.append(report)
    for index, report in enumerate(reports):
        if report.kind != "signature":
            continue
        report.level = _level(report, reports[index + 1:], has_dss)
    return reports


def _level(report: SignatureReport, later: list[SignatureReport], has_dss: bool
           ) -> Level | None:
    if report.subfilter != "ETSI.CAdES.detached":
        if report.subfilter:
            report.problems.append(f"{report.subfilter} signature, not PAdES baseline")
        return None
    if not (report.intact and report.valid and report.trusted):
        return None
    later_ts = [r for r in later if r.kind == "doc_timestamp" and r.intact and r.valid
                and r.trusted]
    if not (report.timestamp_valid or later_ts):
        return Level.B_B
    if not has_dss:
        return Level.B_T
    if not later_ts:
        return Level.B_LT
    return Level.B_LTA


def asyncio_safe(call: Callable[[], T]) -> T:
    """pyhanko's sync validators call asyncio.run; inside a running loop (an async server)
    run them in a fresh thread instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


__all__ = [
    "Appearance",
    "DocumentError",
    "Level",
    "PdfError",
    "SignRequest",
    "SignatureReport",
    "SigningError",
    "check_input",
    "sign_pdf",
    "validate_pdf",
]
