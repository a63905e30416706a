"""Tampering with documents we signed: each change gives the indication ETSI EN 319 102-1 names
for it, and what changed after signing is classified (allowed form filling versus forbidden
changes). pdfsig is the independent judge of the changed byte."""

from __future__ import annotations

import pytest

from signing.pades import Level, SignRequest, sign_pdf
from signing.verification import Indication, TrustPolicy, verify_pdf
from tests.signing.conftest import SigningEnv
from tests.support import pdfattacks as attacks
from tests.support import pdfjudges as judges


def _sign(env: SigningEnv, pdf: bytes, level: Level = Level.B_T) -> bytes:
    return sign_pdf(pdf, env.citizen, SignRequest(level=level), timestamper=env.timestamper(),
                    validation_context=env.signing_context())


def _policy(env: SigningEnv) -> TrustPolicy:
    return TrustPolicy(roots=(env.root,))


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T, Level.B_LTA])
def test_changed_byte_is_hash_failure(signing_env: SigningEnv, level: Level) -> None:
    env = signing_env
    signed = _sign(env, judges.make_pdf(text="Pay 100 baht"), level)
    tampered = attacks.flip_signed_byte(signed, b"Pay 100", offset=4)  # "Pay 900 baht"
    report = verify_pdf(tampered, _policy(env))
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, "HASH_FAILURE")
    assert "digest_mismatch" in sig.errors
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED,
                                                          "HASH_FAILURE")
    path = env.work / "tampered.pdf"
    path.write_bytes(tampered)
    sigs, text = judges.pdfsig(path, env.nss)
    assert "Digest Mismatch" in sigs[0].text, text


def test_forged_signature_value_is_sig_crypto_failure(signing_env: SigningEnv) -> None:
    env = signing_env
    forged = attacks.forge_signature_value(_sign(env, judges.make_pdf(), Level.B_B))
    report = verify_pdf(forged, _policy(env))
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED,
                                                    "SIG_CRYPTO_FAILURE")
    assert "signature_invalid" in sig.errors and sig.coverage == "entire_file"


@pytest.mark.parametrize("change", ["append_page", "replace_page_content"])
def test_forbidden_update_after_signing_fails(signing_env: SigningEnv, change: str) -> None:
    """An incremental update that adds a page or swaps page content keeps the signed bytes
    intact (pyhanko: intact and valid) but changes the document people see. The verdict is
    TOTAL_FAILED/FORMAT_FAILURE: not HASH_FAILURE, because no signed byte changed; FORMAT, as
    in ETSI EN 319 102-1's format-checking building block, where EU DSS runs its PDF checks
    (page difference, DocMDP, undefined changes) and fails them with FORMAT_FAILURE."""
    env = signing_env
    signed = _sign(env, judges.make_pdf(text="Pay 100 baht"))
    changed = getattr(attacks, change)(signed)
    assert changed.startswith(signed)
    report = verify_pdf(changed, _policy(env))
    sig = report.signatures[0]
    assert sig.coverage == "entire_revision"
    assert sig.modifications == "forbidden"
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, "FORMAT_FAILURE")
    assert "forbidden_modification" in sig.errors
    assert report.indication is Indication.TOTAL_FAILED
    if change == "append_page":
        assert report.pages == 2


def test_form_filling_after_signing_still_passes(signing_env: SigningEnv) -> None:
    env = signing_env
    signed = _sign(env, attacks.make_form_pdf())
    filled = attacks.fill_text_field(signed, "Approved by the district office")
    report = verify_pdf(filled, _policy(env))
    sig = report.signatures[0]
    assert sig.coverage == "entire_revision"
    assert sig.modifications == "form_filling", sig
    assert sig.indication is Indication.TOTAL_PASSED and sig.errors == []
    assert report.indication is Indication.TOTAL_PASSED
    # what a person sees changed (the filled value): rendered and compared, named as a warning
    assert sig.changed_pages == [1] and "visible_changes_after_signing" in sig.warnings
    untouched = verify_pdf(signed, _policy(env)).signatures[0]
    assert untouched.changed_pages == [] and "visible_changes_after_signing" not in \
        untouched.warnings


def test_byte_change_is_reported_before_a_forbidden_update(signing_env: SigningEnv) -> None:
    """Both at once: the proven hash failure is what the verdict says."""
    env = signing_env
    signed = _sign(env, judges.make_pdf(text="Pay 100 baht"))
    both = attacks.append_page(attacks.flip_signed_byte(signed, b"Pay 100", offset=4))
    sig = verify_pdf(both, _policy(env)).signatures[0]
    assert sig.sub_indication == "HASH_FAILURE"
    assert "forbidden_modification" in sig.errors
