"""pyhanko's AdES validation (ETSI EN 319 102-1) wired for a public verifier: one signature in,
one `SignatureVerdict` out, never an exception.

Which pyhanko process runs:
  document time-stamp          `ades_timestamp_validation` (5.4) over its /ByteRange digest;
  signature with a signature   `ades_lta_validation` (5.6.3): the with-time process plus the
    time-stamp                 DSS and the CMS's adbe-revocationInfoArchival as local knowledge
                               and the document time-stamps as proofs of existence (POE);
  signature without one        `ades_basic_validation` (5.3) with the same local knowledge;
                               (the with-time process would rate every B-B signature
                               INDETERMINATE for lacking the time-stamp it does not claim).

Revocation: the first pass is local only (embedded data; soft-fail, since B-B and B-T files
carry none). Only when that pass found no status for the signer's certificate and the policy
allows it is the signature judged again with fetching on and revocation required, each request
bounded by `fetch_timeout`; an unreachable responder then gives INDETERMINATE/TRY_LATER.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESSubIndic
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffResult,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import FetchLimits
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from signing.signer import to_asn1
from signing.verification_model import CertificateInfo, Indication, SignatureVerdict, TrustPolicy

log = logging.getLogger(__name__)

#: The errors a sub-indication means, as codes for the web layer.
ERROR_CODES = {
    "HASH_FAILURE": "digest_mismatch",
    "SIG_CRYPTO_FAILURE": "signature_invalid",
    "FORMAT_FAILURE": "format_failure",
    "REVOKED": "certificate_revoked",
    "REVOKED_NO_POE": "certificate_revoked",
    "REVOKED_CA_NO_POE": "ca_certificate_revoked",
    "NO_CERTIFICATE_CHAIN_FOUND": "untrusted_chain",
    "NO_SIGNING_CERTIFICATE_FOUND": "no_signing_certificate",
    "OUT_OF_BOUNDS_NO_POE": "certificate_expired",
    "OUT_OF_BOUNDS_NOT_REVOKED": "certificate_expired",
    "EXPIRED": "certificate_expired",
    "NOT_YET_VALID": "certificate_not_yet_valid",
    "TRY_LATER": "revocation_unavailable",
    "CRYPTO_CONSTRAINTS_FAILURE": "weak_algorithm",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "weak_algorithm",
    "CHAIN_CONSTRAINTS_FAILURE": "chain_constraints",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "chain_invalid",
    "SIG_CONSTRAINTS_FAILURE": "signature_constraints",
    "TIMESTAMP_ORDER_FAILURE": "timestamp_order",
    "NO_POE": "no_proof_of_existence",
}
#: Every code a verdict's `errors` and `warnings` may hold (the web layer has words for each).
VERDICT_CODES = frozenset({
    *ERROR_CODES.values(), "partial_coverage", "docmdp_violation", "forbidden_modification",
    "byte_range_invalid", "signature_unreadable", "signature_timestamp_invalid",
    "revoked_after_signing", "no_revocation_data", "annotations_added",
    "visible_changes_after_signing"})
SUBFILTER_FORMATS = {"adbe.pkcs7.detached": "PKCS7", "adbe.pkcs7.sha1": "PKCS7",
                     "ETSI.RFC3161": "RFC3161"}
MODIFICATIONS = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "lta_updates",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "forbidden",
}


@dataclass
class DocumentFacts:
    """What every signature of one file shares: the reader, the DSS's validation data and
    which revisions hold a document time-stamp or a DSS. Read once per document."""

    reader: PdfFileReader
    dss_ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)
    dss_crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    dss_certs: list[asn1_x509.Certificate] = field(default_factory=list)
    doc_ts_revisions: list[int] = field(default_factory=list)
    """Revisions signed by a document time-stamp whose own check passed."""
    dss_revisions: list[int] = field(default_factory=list)
    """Revisions (0-based) in which a /DSS is present."""
    data: bytes = b""
    """The file itself, for comparing what a signature signed with what is shown now."""


def read_dss(reader: PdfFileReader) -> tuple[list[Any], list[Any], list[Any]]:
    """The DSS's OCSP answers, CRLs and certificates; each entry that fails to parse is
    skipped (a broken entry must not hide the good ones, nor crash the verifier)."""
    ocsps: list[asn1_ocsp.OCSPResponse] = []
    crls: list[asn1_crl.CertificateList] = []
    certs: list[asn1_x509.Certificate] = []
    try:
        dss = reader.root["/DSS"]
    except Exception:
        return ocsps, crls, certs
    for key, purpose, loader, out in (
            ("/OCSPs", DecodePurpose.OCSP_RESPONSE, asn1_ocsp.OCSPResponse.load, ocsps),
            ("/CRLs", DecodePurpose.CRL, asn1_crl.CertificateList.load, crls),
            ("/Certs", DecodePurpose.CERTIFICATE, asn1_x509.Certificate.load, certs)):
        try:
            refs = list(dss.get(key, []))[:1000]
        except Exception:
            log.debug("unreadable DSS %s", key, exc_info=True)
            continue
        for ref in refs:
            try:
                obj = loader(ref.get_object().read_data(purpose))
                obj.native  # force a full parse now, not later inside pyhanko  # noqa: B018
                out.append(obj)  # type: ignore[attr-defined]
            except Exception:
                log.debug("unreadable DSS entry in %s", key, exc_info=True)
                continue
    return ocsps, crls, certs


def dss_revisions(reader: PdfFileReader) -> list[int]:
    found = []
    for rev in range(reader.xrefs.total_revisions):
        try:
            if "/DSS" in reader.get_historical_root(rev):
                found.append(rev)
        except Exception:
            log.debug("revision %d unreadable", rev, exc_info=True)
            continue
    return found


# --- pyhanko specifications ----------------------------------------------------------------


def _spec(policy: TrustPolicy, facts: DocumentFacts, *, online: bool
          ) -> SignatureValidationSpec:
    rule = (RevocationCheckingRule.CHECK_IF_DECLARED if online
            else RevocationCheckingRule.CHECK_IF_DECLARED_SOFT)
    cert_policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[to_asn1(c) for c in policy.roots]),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)),
    )
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=(RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH if online
                              else RevinfoOnlineFetchingRule.LOCAL_ONLY),
        fetcher_backend=(AIOHttpFetcherBackend(per_request_timeout=policy.fetch_timeout,
                                               limits=FetchLimits(max_requests=20))
                         if online else None),
        certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
    )
    knowledge = LocalKnowledge(
        known_ocsps=[c for r in facts.dss_ocsps for c in _ocsp_containers(r)],
        known_crls=[CRLContainer(c) for c in facts.dss_crls],
        known_certs=[to_asn1(c) for c in policy.intermediates] + facts.dss_certs,
    )
    return SignatureValidationSpec(cert_validation_policy=cert_policy,
                                   revinfo_gathering_policy=gathering,
                                   local_knowledge=knowledge)


def _ocsp_containers(resp: asn1_ocsp.OCSPResponse) -> list[OCSPContainer]:
    try:
        return list(OCSPContainer.load_multi(resp))
    except Exception:
        return []


async def _close(spec: SignatureValidationSpec) -> None:
    backend = spec.revinfo_gathering_policy.fetcher_backend
    if backend is not None:
        await backend.close()


# --- one signature -------------------------------------------------------------------------


def indication_of(sub: AdESSubIndic) -> Indication:
    if isinstance(sub, AdESPassed):
        return Indication.TOTAL_PASSED
    if isinstance(sub, AdESFailure):
        return Indication.TOTAL_FAILED
    return Indication.INDETERMINATE


def short_name(name: asn1_x509.Name) -> str:
    """What a person calls the signer: the common name, else the organisation, else the whole
    name (the full name is in `signer` and the chain)."""
    native = name.native if isinstance(name.native, dict) else {}
    for key in ("common_name", "organization_name"):
        value = native.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return value
    return str(name.human_friendly)


def cert_info(cert: asn1_x509.Certificate) -> CertificateInfo:
    return CertificateInfo(
        subject=cert.subject.human_friendly, issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(cert.dump()).hexdigest(),
        not_before=cert.not_valid_before, not_after=cert.not_valid_after)


def _has_signature_timestamp(sig: EmbeddedPdfSignature) -> bool:
    try:
        attrs = sig.signer_info["unsigned_attrs"]
        return any(a["type"].native == "signature_time_stamp_token" for a in attrs)
    except Exception:
        return False


def archival_revinfo(sig: EmbeddedPdfSignature) -> tuple[list[Any], list[Any]]:
    """The OCSP answers and CRLs of the signed adbe-revocationInfoArchival attribute (how
    adbe.pkcs7.detached signers, ETDA's sample code among them, embed revocation data)."""
    try:
        archival = find_unique_cms_attribute(sig.signer_info["signed_attrs"],
                                             "adobe_revocation_info_archival")
        return list(archival["ocsp"] or []), list(archival["crl"] or [])
    except Exception:
        return [], []


def embedded_status(cert: asn1_x509.Certificate, ocsps: Iterable[asn1_ocsp.OCSPResponse],
                    crls: Iterable[asn1_crl.CertificateList]) -> str | None:
    """good / revoked when an embedded OCSP answer or CRL speaks about `cert`, else None.
    This only attributes the source; pyhanko has judged the data's signature and freshness."""
    issuer_hash = hashlib.sha1(cert.issuer.dump()).digest()  # noqa: S324  (OCSP CertID)
    found: str | None = None
    for resp in ocsps:
        try:
            basic = resp["response_bytes"]["response"].parsed
            for single in basic["tbs_response_data"]["responses"]:
                cid = single["cert_id"]
                if (cid["serial_number"].native == cert.serial_number
                        and cid["issuer_name_hash"].native == issuer_hash
                        and cid["hash_algorithm"]["algorithm"].native == "sha1") or (
                        cid["serial_number"].native == cert.serial_number):
                    status = single["cert_status"].name
                    if status == "revoked":
                        return "revoked"
                    if status == "good":
                        found = "good"
        except Exception:
            log.debug("unreadable OCSP response", exc_info=True)
            continue
    for crl in crls:
        try:
            tbs = crl["tbs_cert_list"]
            if tbs["issuer"] != cert.issuer:
                continue
            for entry in tbs["revoked_certificates"] or []:
                if entry["user_certificate"].native == cert.serial_number:
                    return "revoked"
            found = found or "good"
        except Exception:
            log.debug("unreadable CRL", exc_info=True)
            continue
    return found


def _self_signed(cert: asn1_x509.Certificate) -> bool:
    try:
        return bool(cert.self_signed) or cert.subject == cert.issuer
    except Exception:
        return False


def _declares_revocation(cert: asn1_x509.Certificate) -> bool:
    try:
        return bool(cert.ocsp_urls or cert.crl_distribution_points)
    except Exception:
        return False


async def _run(sig: EmbeddedPdfSignature, spec: SignatureValidationSpec, process: str,
               timing: ValidationTimingInfo) -> Any:
    try:
        if process == "lta":
            return await ades.ades_lta_validation(
                sig, PdfSignatureValidationSpec(spec, diff_policy=DEFAULT_DIFF_POLICY),
                timing_info=timing)
        if process == "with_time":
            return await ades.ades_with_time_validation(
                sig.signed_data, spec, timing_info=timing, raw_digest=sig.compute_digest(),
                extra_status_kwargs=sig.summarise_integrity_info(),
                status_cls=PdfSignatureStatus)
        # pyhanko 0.38's basic process builds a StandardCMSSignatureStatus whatever status_cls
        # says, so the PDF integrity kwargs cannot go in; `integrity` has them already.
        return await ades.ades_basic_validation(
            sig.signed_data, spec, timing_info=timing, raw_digest=sig.compute_digest())
    finally:
        await _close(spec)


async def judge_timestamp(sig: EmbeddedPdfSignature, verdict: SignatureVerdict,
                          policy: TrustPolicy, facts: DocumentFacts,
                          timing: ValidationTimingInfo) -> None:
    """A document time-stamp (ETSI 5.4): imprint over its /ByteRange, TSA chain to an anchor."""
    spec = _spec(policy, facts, online=False)
    try:
        result = await ades.ades_timestamp_validation(
            sig.signed_data, spec, expected_tst_imprint=sig.compute_digest, timing_info=timing)
    finally:
        await _close(spec)
    _apply(verdict, result.ades_subindic)
    status = result.api_status
    if status is not None:
        verdict.timestamp_time = status.timestamp
        verdict.best_signature_time = status.timestamp
        verdict.timestamp_authority = status.signing_cert.subject.human_friendly
        verdict.signer = verdict.timestamp_authority
        verdict.signer_name = short_name(status.signing_cert.subject)
        _chain(verdict, status.validation_path, status.signing_cert)
        if not status.intact:
            _apply(verdict, AdESFailure.HASH_FAILURE)
    verdict.revocation_status = "not_checked"


async def judge_signature(sig: EmbeddedPdfSignature, verdict: SignatureVerdict,
                          policy: TrustPolicy, facts: DocumentFacts,
                          timing: ValidationTimingInfo) -> None:
    """A signature: the AdES process (see the module docstring), then where its revocation
    status came from, its time-stamp and the PAdES level it reached."""
    ts_sig = _has_signature_timestamp(sig)
    process = _process_for(sig, ts_sig, facts)
    arch_ocsps, arch_crls = archival_revinfo(sig)
    spec = _spec(policy, facts, online=False)
    if arch_ocsps or arch_crls:
        lk = spec.local_knowledge
        extra = LocalKnowledge(
            known_ocsps=lk.known_ocsps + [c for r in arch_ocsps for c in _ocsp_containers(r)],
            known_crls=lk.known_crls + [CRLContainer(c) for c in arch_crls],
            known_certs=lk.known_certs)
        spec = SignatureValidationSpec(spec.cert_validation_policy,
                                       spec.revinfo_gathering_policy, local_knowledge=extra)
    result = await _run(sig, spec, process, timing)
    signer_cert = sig.signer_cert
    embedded = embedded_status(signer_cert, list(facts.dss_ocsps) + arch_ocsps,
                               list(facts.dss_crls) + arch_crls)
    source = "embedded" if embedded else "none"
    sub = result.ades_subindic
    reached_chain = _path_of(result) is not None
    if (embedded is None and policy.online_revocation and reached_chain
            and indication_of(sub) is not Indication.TOTAL_FAILED):
        online_spec = _spec(policy, facts, online=True)
        online_spec = SignatureValidationSpec(
            online_spec.cert_validation_policy, online_spec.revinfo_gathering_policy,
            local_knowledge=spec.local_knowledge)
        source = "online"
        try:
            result = await _run(sig, online_spec, process, timing)
            sub = result.ades_subindic
        except Exception:
            # aiohttp's timeouts and connection errors escape certvalidator's fetchers
            # unwrapped; either way the status could not be had now: ETSI's TRY_LATER. The
            # offline pass's result (its path, its time-stamp) stays for the report.
            sub = AdESIndeterminate.TRY_LATER
        if sub is AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE and _revinfo_missing(
                result):
            # certvalidator reports "no revocation data could be had" as a general chain
            # failure; ETSI's word for data that may come later is TRY_LATER.
            sub = AdESIndeterminate.TRY_LATER
    if sub is AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE and _self_signed(signer_cert):
        # certvalidator refuses a self-signed end entity as a constraint failure; for the
        # person reading the verdict the point is ETSI's: no chain to any trust anchor.
        sub = AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    _apply(verdict, sub)
    status = result.api_status
    _chain(verdict, _path_of(result), signer_cert)
    verdict.signer = signer_cert.subject.human_friendly
    verdict.signer_name = short_name(signer_cert.subject)
    verdict.claimed_time = sig.self_reported_timestamp
    verdict.best_signature_time = getattr(result, "best_signature_time", None)
    revoked = getattr(status, "revocation_details", None)
    if revoked is not None:
        verdict.revocation_time = revoked.revocation_date
    tsv = getattr(status, "timestamp_validity", None)
    if tsv is not None:
        verdict.timestamp_time = tsv.timestamp
        verdict.timestamp_authority = tsv.signing_cert.subject.human_friendly
        if not (tsv.intact and tsv.valid):
            verdict.warnings.append("signature_timestamp_invalid")
    elif ts_sig:
        verdict.timestamp_time, verdict.timestamp_authority = _raw_timestamp(sig)
    # revocation status and where it came from
    if sub in (AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE) or revoked is not None:
        verdict.revocation_status = "revoked"
        if indication_of(sub) is Indication.TOTAL_PASSED:
            verdict.warnings.append("revoked_after_signing")
    elif source == "online":
        if sub is AdESIndeterminate.TRY_LATER:
            verdict.revocation_status = "unknown"
        else:
            verdict.revocation_status = ("good" if _declares_revocation(signer_cert)
                                         else "unknown")
    elif embedded is not None:
        verdict.revocation_status = embedded
    elif reached_chain:
        verdict.revocation_status = "unknown"
        verdict.warnings.append("no_revocation_data")
    verdict.revocation_source = source if verdict.revocation_status != "not_checked" else "none"
    if source == "online" and verdict.revocation_status == "unknown":
        verdict.revocation_source = "none"


def _process_for(sig: EmbeddedPdfSignature, ts_sig: bool, facts: DocumentFacts) -> str:
    """Which ETSI process fits what the file claims: LTA (5.6.3) when document time-stamps
    follow the signature (the evidence record), with-time (5.5) when only a signature
    time-stamp does, basic (5.3) otherwise. Running a higher process on a lower-level
    signature would rate it INDETERMINATE for lacking what it never claimed."""
    if ts_sig and any(r > sig.signed_revision for r in facts.doc_ts_revisions):
        return "lta"
    if ts_sig:
        return "with_time"
    return "basic"


def _revinfo_missing(result: Any) -> bool:
    text = (getattr(result, "failure_msg", None) or "").lower()
    return not text or "revocation" in text or "revinfo" in text or "crl" in text \
        or "ocsp" in text


def _path_of(result: Any) -> ValidationPath | None:
    status = getattr(result, "api_status", None)
    return getattr(status, "validation_path", None)


def _raw_timestamp(sig: EmbeddedPdfSignature) -> tuple[datetime | None, str | None]:
    """The time and TSA name written in a signature time-stamp that did not validate."""
    try:
        for attr in sig.signer_info["unsigned_attrs"]:
            if attr["type"].native != "signature_time_stamp_token":
                continue
            signed = attr["values"][0]["content"]
            tst = signed["encap_content_info"]["content"].parsed
            tsa = None
            for cert in signed["certificates"] or []:
                if cert.name == "certificate":
                    tsa = cert.chosen.subject.human_friendly
                    break
            return tst["gen_time"].native, tsa
    except Exception:
        log.debug("unreadable signature time-stamp", exc_info=True)
    return None, None


def _chain(verdict: SignatureVerdict, path: ValidationPath | None,
           leaf: asn1_x509.Certificate) -> None:
    if path is None:
        verdict.chain = [cert_info(leaf)]
        return
    certs = list(path.iter_certs(include_root=True))
    verdict.chain = [cert_info(c) for c in reversed(certs)]
    try:
        verdict.trust_anchor = path.trust_anchor.authority.name.human_friendly
    except Exception:
        verdict.trust_anchor = None


def _name_of(sub: AdESSubIndic) -> str:
    """The ETSI name: pyhanko's sub-indications are enum members named exactly so."""
    return str(getattr(sub, "name", sub))


def _apply(verdict: SignatureVerdict, sub: AdESSubIndic, code: str | None = None) -> None:
    """Set indication and sub-indication; a worse one already set is kept."""
    indication = indication_of(sub)
    if verdict.sub_indication is not None and \
            verdict.indication.severity >= indication.severity:
        return
    verdict.indication = indication
    name = _name_of(sub)
    verdict.sub_indication = None if isinstance(sub, AdESPassed) else name
    code = code or ERROR_CODES.get(name)
    if code and code not in verdict.errors and indication is not Indication.TOTAL_PASSED:
        verdict.errors.append(code)


def integrity(sig: EmbeddedPdfSignature, verdict: SignatureVerdict) -> None:
    """Coverage and the difference analysis of what came after the signed revision
    (pyhanko's DEFAULT_DIFF_POLICY): none, LTA updates, form filling, annotations, or
    forbidden (anything else, a difference analysis that breaks, a DocMDP level exceeded, or
    a /ByteRange that covers neither the whole file nor a whole revision). Recorded only;
    `apply_modifications` turns "forbidden" into the verdict after the AdES process."""
    sig.compute_integrity_info(skip_diff=True)
    coverage = sig.coverage
    verdict.coverage = {SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
                        SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision"
                        }.get(coverage, "partial") if coverage is not None else "partial"
    if verdict.coverage == "partial":
        verdict.errors.append("partial_coverage")
        verdict.modifications = "forbidden"
    elif verdict.coverage == "entire_revision":
        try:
            diff: DiffResult | SuspiciousModification = sig.evaluate_modifications(
                DEFAULT_DIFF_POLICY)
        except Exception:  # analysis that breaks on odd updates: not proven harmless
            diff = SuspiciousModification("difference analysis failed")
        sig.diff_result = diff  # type: ignore[assignment]  # pyhanko annotates it None
        if isinstance(diff, DiffResult):
            verdict.modifications = MODIFICATIONS.get(diff.modification_level, "forbidden")
        else:
            verdict.modifications = "forbidden"
        docmdp = sig.docmdp_level
        if (isinstance(diff, DiffResult) and docmdp is not None
                and diff.modification_level.value > docmdp.value):
            verdict.modifications = "forbidden"
            verdict.errors.append("docmdp_violation")
    if verdict.modifications == "annotations":
        verdict.warnings.append("annotations_added")


def apply_modifications(verdict: SignatureVerdict) -> None:
    """After the AdES process: a forbidden change fails a signature that was otherwise fine;
    a signature already failed (e.g. HASH_FAILURE) keeps its reason, plus the error code.

    Why TOTAL_FAILED/FORMAT_FAILURE: the signed bytes are intact, so it is not HASH_FAILURE;
    ETSI EN 319 102-1's format-checking building block (5.2.2) is where a validation policy
    adds checks of the signature's container, and EU DSS runs its PDF checks there (page
    difference, DocMDP, undefined changes), failing them with FORMAT_FAILURE. The document
    people see is no longer the one that was signed, and "failed" is what Adobe Reader and DSS
    tell them too. Annotations allowed by the signature stay TOTAL_PASSED with a warning."""
    if verdict.modifications == "forbidden":
        if "forbidden_modification" not in verdict.errors:
            verdict.errors.append("forbidden_modification")
        _apply(verdict, AdESFailure.FORMAT_FAILURE, code="forbidden_modification")
