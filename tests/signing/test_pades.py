"""PAdES signing judged by independent tools: pdfsig (integrity, coverage, PAdES type),
openssl verify (trust of the signer), openssl ts -verify (signature and document
time-stamps), openssl cms -print (signed attributes), and pyhanko's own validation (the level
reached). Plus tampering, two signatures in sequence, and refused inputs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from signing.pades import (
    Appearance,
    DocumentError,
    Level,
    SignRequest,
    check_input,
    sign_pdf,
    validate_pdf,
)
from signing.signer import BackendSigner
from tests.signing.conftest import SigningEnv
from tests.support import pdfjudges as judges

LEVELS = [Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA]


def _sign(env: SigningEnv, pdf: bytes, signer: BackendSigner, level: Level,
          **kw: object) -> bytes:
    return sign_pdf(pdf, signer, SignRequest(level=level, **kw),  # type: ignore[arg-type]
                    timestamper=env.timestamper(), validation_context=env.signing_context())


def _write(env: SigningEnv, name: str, data: bytes) -> Path:
    path = env.work / name
    path.write_bytes(data)
    return path


def _judge_signatures(env: SigningEnv, path: Path, count: int) -> list[Path]:
    """pdfsig: every signature valid, PAdES type; openssl verify: every signer trusted."""
    sigs, text = judges.pdfsig(path, env.nss)
    assert len(sigs) >= count, text
    pades = [s for s in sigs if s.type == "ETSI.CAdES.detached"]
    assert len(pades) == count, text
    for s in pades:
        assert s.valid, text
    dumps = judges.dump_cms(path, env.nss)
    assert len(dumps) >= count
    return dumps


@pytest.mark.parametrize("level", LEVELS, ids=[lv.value for lv in LEVELS])
def test_each_level_judged(signing_env: SigningEnv, level: Level) -> None:
    env = signing_env
    pdf = judges.make_pdf()
    signed = _sign(env, pdf, env.citizen, level, reason="Approval")
    assert signed.startswith(pdf)  # an incremental update
    path = _write(env, f"{level.value}.pdf", signed)

    sigs, text = judges.pdfsig(path, env.nss)
    pades = [s for s in sigs if s.type == "ETSI.CAdES.detached"]
    assert len(pades) == 1 and pades[0].valid, text
    if level.rank < Level.B_LT.rank:
        assert pades[0].total, text
    else:  # the DSS (and document time-stamp) are later incremental updates
        assert "Not total document signed" in pades[0].text, text

    cms_der = judges.byte_range_data(signed)[0][1]
    cert = judges.signer_certificate(cms_der)
    assert "OK" in judges.openssl_verify(cert, env.root_pem, env.chain_pem, env.work)

    printed = judges.cms_print(cms_der, env.work, level.value)
    assert "signingTime" not in printed and "signing-time" not in printed.lower()
    assert "signingCertificateV2" in printed or "id-smime-aa-signingCertificateV2" in printed

    if level.rank >= Level.B_T.rank:
        token, data = judges.signature_timestamp(cms_der)
        out = judges.ts_verify(token, data, env.root_pem, env.chain_pem, env.work, "sigts")
        assert "Verification: OK" in out
    if level is Level.B_LTA:
        covered, doc_ts = judges.byte_range_data(signed)[-1]
        out = judges.ts_verify(doc_ts, covered, env.root_pem, env.chain_pem, env.work, "docts")
        assert "Verification: OK" in out

    reports = validate_pdf(signed, env.offline_context())
    sig_reports = [r for r in reports if r.kind == "signature"]
    assert len(sig_reports) == 1
    r = sig_reports[0]
    assert r.intact and r.valid and r.trusted, r.problems
    assert r.level is level, (r.level, r.problems)
    if level.rank >= Level.B_T.rank:
        assert r.timestamp_valid


def test_byte_changed_after_signing_is_detected(signing_env: SigningEnv) -> None:
    env = signing_env
    signed = bytearray(_sign(env, judges.make_pdf(text="Pay 100 baht"), env.citizen,
                             Level.B_T))
    at = signed.index(b"Pay 100")
    signed[at + 4] = ord("9")  # "Pay 900 baht": inside the signed byte range
    path = _write(env, "tampered.pdf", bytes(signed))
    sigs, text = judges.pdfsig(path, env.nss)
    assert sigs and "Digest Mismatch" in sigs[0].text and not sigs[0].valid, text
    report = validate_pdf(bytes(signed), env.offline_context())[0]
    assert not report.intact and report.level is None
    assert "changed after signing" in " ".join(report.problems)


def test_citizen_lt_then_agency_lta_both_valid(signing_env: SigningEnv) -> None:
    env = signing_env
    first = _sign(env, judges.make_pdf(), env.citizen, Level.B_LT)
    second = _sign(env, first, env.seal, Level.B_LTA)
    assert second.startswith(first)
    path = _write(env, "two.pdf", second)
    dumps = _judge_signatures(env, path, 2)
    subjects = set()
    for der in (judges.byte_range_data(second)[i][1] for i in (0, 1)):
        cert = judges.signer_certificate(der)
        assert "OK" in judges.openssl_verify(cert, env.root_pem, env.chain_pem, env.work)
        subjects.add(cert.subject.rfc4514_string())
    assert len(subjects) == 2 and dumps
    reports = [r for r in validate_pdf(second, env.offline_context()) if r.kind == "signature"]
    assert [r.field_name for r in reports] == ["Signature1", "Signature2"]
    assert all(r.intact and r.valid and r.trusted for r in reports)
    assert reports[1].level is Level.B_LTA
    assert reports[0].level is not None and reports[0].level.rank >= Level.B_LT.rank


def test_visible_signature_with_verification_link(signing_env: SigningEnv) -> None:
    env = signing_env
    look = Appearance(signer_name="Somchai Jaidee", verify_url="https://id.example/verify/x1")
    signed = _sign(env, judges.make_pdf(), env.citizen, Level.B_T, appearance=look)
    path = _write(env, "visible.pdf", signed)
    sigs, text = judges.pdfsig(path, env.nss)
    assert sigs[0].valid and sigs[0].total, text
    assert b"/AP" in signed[len(judges.make_pdf()):]
    # The box draws a QR code: the widget's appearance paints a /QR form of many modules.
    from pyhanko.pdf_utils.reader import PdfFileReader
    reader = PdfFileReader(io.BytesIO(signed))
    widget = reader.root["/Pages"]["/Kids"][0]["/Annots"][0].get_object()
    appearance = widget["/AP"]["/N"]
    assert b"/QR Do" in appearance.data
    qr = appearance["/Resources"]["/XObject"]["/QR"].get_object()
    assert qr.data.count(b" re") > 100


def test_rsa_key_signs_through_backend(signing_env: SigningEnv) -> None:
    from tests.signing.conftest import make_signer
    env = signing_env
    signer = make_signer(env.pki, env.backend, "citizen", "citizen_signing",
                         {"GN": "Malee", "SN": "Dee"}, alg="RS256")
    signed = _sign(env, judges.make_pdf(), signer, Level.B_B)
    sigs, text = judges.pdfsig(_write(env, "rsa.pdf", signed), env.nss)
    assert sigs[0].valid, text
    assert signer.calls == 1  # the dry run did not spend a real signature


def _encrypted_pdf(tmp: Path) -> bytes:
    import subprocess
    src = tmp / "plain.pdf"
    src.write_bytes(judges.make_pdf())
    dst = tmp / "enc.pdf"
    subprocess.run(["qpdf", "--encrypt", "u", "o", "256", "--", str(src), str(dst)], check=True)
    return dst.read_bytes()


@pytest.mark.parametrize("case", ["not_pdf", "truncated", "encrypted", "too_large",
                                  "too_many_pages", "garbage_after_header"])
def test_bad_inputs_refused(case: str, tmp_path: Path) -> None:
    pdf = judges.make_pdf()
    kw: dict[str, int] = {}
    expected = case
    if case == "not_pdf":
        data = b"PK\x03\x04 this is a zip file" + b"\x00" * 100
    elif case == "truncated":
        data, expected = pdf[: len(pdf) // 2], "damaged"
    elif case == "garbage_after_header":
        data, expected = b"%PDF-1.7\n" + b"\xff" * 500 + b"\n%%EOF\n", "damaged"
    elif case == "encrypted":
        data = _encrypted_pdf(tmp_path)
    elif case == "too_large":
        data, kw = pdf, {"max_bytes": 100}
    else:
        data, kw = judges.make_pdf(pages=3), {"max_pages": 2}
    with pytest.raises(DocumentError) as err:
        check_input(data, **kw)
    assert err.value.code == expected
    assert "Traceback" not in err.value.message


def test_good_input_passes_check() -> None:
    assert check_input(judges.make_pdf(pages=2)) == 2
