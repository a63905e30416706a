"""Hostile input through the bounded verifier: every file gets a report (a refusal or a
verdict) within the time limit, the parent never raises, and nothing bad passes.

Built by `tests.support.pdfattacks`; no network, no live provider."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from signing.verification import (
    Indication,
    TrustPolicy,
    VerificationReport,
    verify_pdf,
    verify_pdf_bounded,
)
from tests.support import pdfattacks as attacks
from tests.support import pdfjudges as judges

TIMEOUT = 30.0
CA = attacks.TestCa("Hostile Test Root")
_KEY, _CERT = CA.issue("Hostile Test Signer")
SIGNED = attacks.sign_simple(judges.make_pdf(text="Pay 100 baht"),
                             attacks.simple_signer(_KEY, _CERT, [CA.cert]))
POLICY = TrustPolicy(roots=(CA.cert,))
CASES = attacks.hostile_cases(SIGNED)
REFUSALS = {"not_pdf", "encrypted", "too_large", "damaged", "timeout"}


def _check(report: VerificationReport) -> None:
    """A report, JSON-able, and never a pass for a broken file."""
    assert isinstance(report, VerificationReport)
    report.to_json()
    if report.refusal is not None:
        assert report.refusal in REFUSALS
        assert report.signatures == [] and report.indication is Indication.INDETERMINATE
    else:
        for sig in report.signatures:
            assert sig.indication is not Indication.TOTAL_PASSED or sig.coverage != "partial"


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_gets_a_report(name: str) -> None:
    report = verify_pdf_bounded(CASES[name], POLICY, timeout_seconds=TIMEOUT)
    _check(report)
    assert report.size == len(CASES[name])
    if name in ("empty", "not_pdf"):
        assert report.refusal == "not_pdf"
    if name.startswith("truncated_signed") or name in (
            "byte_range_outside_file", "byte_range_negative", "contents_not_hex",
            "contents_odd_hex", "contents_random_der"):
        # a damaged signed file never passes: refused, or a signature that does not pass
        assert report.refusal is not None or report.indication is not Indication.TOTAL_PASSED


@pytest.mark.parametrize("name", ["byte_range_outside_file", "contents_random_der"])
def test_broken_signature_is_a_verdict_not_a_crash(name: str) -> None:
    report = verify_pdf(CASES[name], POLICY)
    assert report.refusal is None, report
    [sig] = report.signatures
    assert sig.indication is not Indication.TOTAL_PASSED
    assert sig.sub_indication is not None and sig.errors


def test_signed_then_garbage_is_not_a_full_pass() -> None:
    report = verify_pdf_bounded(CASES["signed_then_garbage"], POLICY, timeout_seconds=TIMEOUT)
    _check(report)
    if report.refusal is None:
        assert report.signatures[0].coverage != "entire_file"


def test_reference_file_passes_bounded() -> None:
    """The control: the untampered file of these cases passes through the same path."""
    report = verify_pdf_bounded(SIGNED, POLICY, timeout_seconds=TIMEOUT)
    assert report.indication is Indication.TOTAL_PASSED, report
    assert report.signatures[0].format == "PAdES-BASELINE-B"


def test_encrypted_is_refused(tmp_path: Path) -> None:
    src, dst = tmp_path / "plain.pdf", tmp_path / "enc.pdf"
    src.write_bytes(judges.make_pdf())
    subprocess.run(["qpdf", "--encrypt", "u", "o", "256", "--", str(src), str(dst)],
                   check=True)
    report = verify_pdf_bounded(dst.read_bytes(), POLICY, timeout_seconds=TIMEOUT)
    assert report.refusal == "encrypted"


def test_too_large_is_refused_before_any_work() -> None:
    report = verify_pdf_bounded(SIGNED, POLICY, timeout_seconds=TIMEOUT, max_bytes=1000)
    assert report.refusal == "too_large" and report.size == len(SIGNED)
    assert verify_pdf(SIGNED, POLICY, max_bytes=1000).refusal == "too_large"


def test_time_limit_kills_the_child_and_says_timeout() -> None:
    """A limit far below what any verification needs stands in for a file that never ends:
    the child is killed and the report says so."""
    report = verify_pdf_bounded(SIGNED, POLICY, timeout_seconds=0.001)
    assert report.refusal == "timeout"
    assert report.indication is Indication.INDETERMINATE and report.signatures == []
