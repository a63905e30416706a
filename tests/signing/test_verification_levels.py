"""The verifier on documents we sign and seal ourselves, at each PAdES level, plus the legacy
adbe.pkcs7.detached form, an unsigned file, untrusted signers and the JSON shape.

Our own documents must come out TOTAL_PASSED with the level they were made at, the chain
ending at our root, and for LT/LTA the revocation status read from the file itself."""

from __future__ import annotations

import json

import pytest

from signing.pades import Level, SignRequest, sign_pdf
from signing.signer import BackendSigner
from signing.verification import Indication, TrustPolicy, VerificationReport, verify_pdf
from tests.signing.conftest import SigningEnv
from tests.support import pdfattacks as attacks
from tests.support import pdfjudges as judges

LEVELS = [Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA]


def sign(env: SigningEnv, pdf: bytes, signer: BackendSigner, level: Level) -> bytes:
    return sign_pdf(pdf, signer, SignRequest(level=level), timestamper=env.timestamper(),
                    validation_context=env.signing_context())


def policy_for(env: SigningEnv, **kw: object) -> TrustPolicy:
    return TrustPolicy(roots=(env.root,), **kw)  # type: ignore[arg-type]


def signatures(report: VerificationReport, kind: str = "signature") -> list:  # type: ignore[type-arg]
    return [s for s in report.signatures if s.kind == kind]


@pytest.mark.parametrize("level", LEVELS, ids=[lv.value for lv in LEVELS])
def test_each_level_we_sign_passes(signing_env: SigningEnv, level: Level) -> None:
    env = signing_env
    signed = sign(env, judges.make_pdf(), env.citizen, level)
    report = verify_pdf(signed, policy_for(env))
    assert report.refusal is None and report.pages == 1
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    [sig] = signatures(report)
    assert sig.indication is Indication.TOTAL_PASSED and sig.sub_indication is None
    assert sig.format == f"PAdES-BASELINE-{level.value[2:]}"
    assert sig.errors == []
    assert "Somchai" in (sig.signer or "")
    assert [c.subject for c in sig.chain][-1] == sig.trust_anchor
    assert "Root CA" in (sig.trust_anchor or "")
    assert sig.chain[-1].sha256 == env.root.fingerprint(
        __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256()).hex()
    assert sig.claimed_time is not None
    if level.rank >= Level.B_T.rank:
        assert sig.timestamp_time is not None and "Time-Stamping" in (
            sig.timestamp_authority or "")
    else:
        assert sig.timestamp_time is None
    if level.rank >= Level.B_LT.rank:
        assert (sig.revocation_status, sig.revocation_source) == ("good", "embedded")
        assert sig.coverage == "entire_revision" and sig.modifications == "lta_updates"
    else:
        assert (sig.revocation_status, sig.revocation_source) == ("unknown", "none")
        assert "no_revocation_data" in sig.warnings
        assert sig.coverage == "entire_file" and sig.modifications == "none"
    if level is Level.B_LTA:
        [ts] = signatures(report, "doc_timestamp")
        assert ts.indication is Indication.TOTAL_PASSED and ts.format == "RFC3161"
        assert ts.revision > sig.revision and "Root CA" in (ts.trust_anchor or "")


def test_sealed_lta_document_passes(signing_env: SigningEnv) -> None:
    env = signing_env
    sealed = sign(env, judges.make_pdf(pages=2), env.seal, Level.B_LTA)
    report = verify_pdf(sealed, policy_for(env))
    assert report.indication is Indication.TOTAL_PASSED and report.pages == 2
    [sig] = signatures(report)
    assert sig.format == "PAdES-BASELINE-LTA"
    assert "Department of Testing" in (sig.signer or "")
    assert "Agency Seal CA" in sig.chain[1].subject


def test_citizen_then_seal_both_pass(signing_env: SigningEnv) -> None:
    env = signing_env
    first = sign(env, judges.make_pdf(), env.citizen, Level.B_LT)
    both = sign(env, first, env.seal, Level.B_LTA)
    report = verify_pdf(both, policy_for(env))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    citizen, seal = signatures(report)
    assert citizen.modifications == "form_filling"  # a later signature is form filling
    assert citizen.format in ("PAdES-BASELINE-LT", "PAdES-BASELINE-LTA")
    assert seal.format == "PAdES-BASELINE-LTA"


def test_pkcs7_detached_is_verified_and_named_honestly(signing_env: SigningEnv) -> None:
    """pyhanko's default subfilter, as ETDA's sample signer emits: verified, named PKCS7."""
    env = signing_env
    signed = attacks.sign_simple(judges.make_pdf(), env.citizen, pades=False)
    assert b"/adbe.pkcs7.detached" in signed
    report = verify_pdf(signed, policy_for(env))
    [sig] = signatures(report)
    assert sig.indication is Indication.TOTAL_PASSED, sig
    assert sig.format == "PKCS7" and sig.subfilter == "adbe.pkcs7.detached"


def test_unsigned_pdf_is_indeterminate_no_signature() -> None:
    report = verify_pdf(judges.make_pdf(), TrustPolicy(roots=()))
    assert report.refusal is None and report.signatures == []
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE,
                                                          "NO_SIGNATURE")


def test_untrusted_root_is_no_certificate_chain_found(signing_env: SigningEnv) -> None:
    """A policy that does not hold our root (here: only some other root) cannot place the
    signer: INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND, never a pass nor a proven failure."""
    env = signing_env
    other = attacks.TestCa("Some Other Root").cert
    for level in (Level.B_B, Level.B_LT):
        signed = sign(env, judges.make_pdf(), env.citizen, level)
        report = verify_pdf(signed, TrustPolicy(roots=(other,)))
        [sig] = signatures(report)
        assert (sig.indication, sig.sub_indication) == (
            Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"), (level, sig)
        assert sig.trust_anchor is None and "untrusted_chain" in sig.errors
        assert report.indication is Indication.INDETERMINATE


def test_self_signed_signer_is_no_certificate_chain_found(signing_env: SigningEnv) -> None:
    env = signing_env
    key, cert = attacks.self_signed_signer("Somchai Jaidee")  # a forged identity
    signed = attacks.sign_simple(judges.make_pdf(), attacks.simple_signer(key, cert))
    report = verify_pdf(signed, policy_for(env))
    [sig] = signatures(report)
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE,
                                                    "NO_CERTIFICATE_CHAIN_FOUND")
    assert sig.chain and sig.chain[0].subject == sig.signer


def test_report_json_is_stable_and_serialisable(signing_env: SigningEnv) -> None:
    env = signing_env
    signed = sign(env, judges.make_pdf(), env.citizen, Level.B_T)
    data = verify_pdf(signed, policy_for(env)).to_json()
    text = json.dumps(data)
    assert json.loads(text) == data
    assert set(data) >= {"indication", "sub_indication", "refusal", "document_sha256", "size",
                         "pages", "signatures"}
    sig = data["signatures"][0]
    assert set(sig) >= {"field_name", "kind", "revision", "indication", "sub_indication",
                        "format", "signer", "chain", "trust_anchor", "claimed_time",
                        "timestamp_time", "timestamp_authority", "revocation_status",
                        "revocation_source", "coverage", "modifications", "errors",
                        "warnings"}
    assert data["indication"] == "TOTAL_PASSED"
    assert sig["timestamp_time"].endswith("Z") and "T" in sig["timestamp_time"]
    assert set(sig["chain"][0]) == {"subject", "issuer", "serial", "sha256", "not_before",
                                    "not_after"}
