"""The verification service over real HTTP: the page (upload, verdict in Thai and English,
details, the JSON report to download) and `POST /api/v1/verify` (the PDF as the body or as a
multipart field). Our own signed documents pass; tampering, foreign roots and broken files
get their verdict or refusal with the right HTTP status; extra trust anchors from
IDP_VERIFY_TRUST_ANCHORS are honoured. The judging itself is tested in
test_verification_*.py; here the service around it is.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import requests

from idp.settings import Settings
from idp.store import EphemeralStore
from signing.pades import Level, SignRequest, sign_pdf
from tests.signing.conftest import SigningEnv
from tests.support import pdfattacks as attacks
from tests.support.live import Browser, serve
from tests.support.openssl import write_pem
from tests.support.pdfjudges import make_pdf


def _signed(env: SigningEnv, level: Level = Level.B_LT, text: str = "Hello") -> bytes:
    return sign_pdf(make_pdf(text=text), env.citizen, SignRequest(level=level),
                    timestamper=env.timestamper(), validation_context=env.signing_context())


def _api(base: str, pdf: bytes, *, multipart: bool = False) -> requests.Response:
    if multipart:
        return requests.post(base + "/api/v1/verify", timeout=60,
                             files={"file": ("doc.pdf", pdf, "application/pdf")})
    return requests.post(base + "/api/v1/verify", data=pdf, timeout=60,
                         headers={"Content-Type": "application/pdf"})


def _page(base: str, pdf: bytes, lang: str = "en") -> tuple[requests.Response, Browser]:
    browser = Browser(base)
    form = browser.go(f"/verify?lang={lang}")
    token = unescape(re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1])  # type: ignore[index]
    resp = browser.http.post(f"{base}/verify?lang={lang}", timeout=60, allow_redirects=False,
                             data={"csrf_token": token},
                             files={"file": ("licence.pdf", pdf, "application/pdf")})
    return resp, browser


def _attr(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, html[:3000]
    return unescape(found[1])


def test_our_signature_is_valid_on_the_page_and_in_the_api(signing_env: SigningEnv) -> None:
    env = signing_env
    pdf = _signed(env)
    resp, browser = _page(env.op.base, pdf)
    assert resp.status_code == 200, resp.text[:2000]
    assert _attr(resp.text, "data-verdict") == "valid"
    assert "The signatures are valid" in resp.text
    assert _attr(resp.text, "data-verify-format") == "PAdES-BASELINE-LT"
    assert "Somchai" in resp.text and "Certificate chain" in resp.text
    report = browser.http.get(env.op.base + _attr(resp.text, "data-verify-report"), timeout=10)
    assert report.status_code == 200
    assert report.headers["Content-Disposition"].startswith("attachment")
    downloaded: dict[str, Any] = report.json()

    for multipart in (False, True):
        api = _api(env.op.base, pdf, multipart=multipart)
        assert api.status_code == 200, api.text
        body = api.json()
        assert body["indication"] == "TOTAL_PASSED" and body["summary"]["verdict"] == "valid"
        assert body["summary"]["th"] and body["summary"]["en"]
        sig = body["signatures"][0]
        assert sig["format"] == "PAdES-BASELINE-LT"
        assert sig["trust_anchor"] and sig["chain"]
        assert sig["revocation_source"] == "embedded"
        for key in ("signatures", "document_sha256", "indication"):
            assert body[key] == downloaded[key] or key == "signatures"
        assert [s["indication"] for s in body["signatures"]] == \
            [s["indication"] for s in downloaded["signatures"]]


def test_the_page_speaks_thai(signing_env: SigningEnv) -> None:
    resp, _browser = _page(signing_env.op.base, _signed(signing_env, Level.B_T), lang="th")
    assert resp.status_code == 200
    assert "ลายมือชื่อถูกต้อง" in resp.text and "ผลการตรวจสอบ" in resp.text


def test_a_changed_byte_is_invalid_with_hash_failure(signing_env: SigningEnv) -> None:
    env = signing_env
    tampered = attacks.flip_signed_byte(_signed(env, Level.B_B, text="Pay 100"), b"Pay 100")
    api = _api(env.op.base, tampered)
    assert api.status_code == 200
    assert (api.json()["indication"], api.json()["sub_indication"]) == \
        ("TOTAL_FAILED", "HASH_FAILURE")
    resp, _browser = _page(env.op.base, tampered)
    assert _attr(resp.text, "data-verdict") == "invalid"
    assert "changed after it was signed" in resp.text


@pytest.mark.parametrize("body,status,error", [
    (b"GIF89a not a pdf", 422, "not_pdf"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog", 422, "damaged"),
])
def test_files_that_cannot_be_judged_are_refused_clearly(signing_env: SigningEnv, body: bytes,
                                                        status: int, error: str) -> None:
    api = _api(signing_env.op.base, body)
    assert api.status_code == status, api.text
    assert api.json()["error"] == error and api.json()["error_description"]
    resp, _browser = _page(signing_env.op.base, body)
    assert resp.status_code == status and _attr(resp.text, "data-verdict") == "refused"


def test_no_body_and_a_body_over_the_limit(settings: Settings, store: EphemeralStore) -> None:
    small = replace(settings, verify_max_bytes=64 * 1024)
    with serve(small, store) as op:
        empty = requests.post(op.base + "/api/v1/verify", timeout=10)
        assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
        big = _api(op.base, make_pdf() + b"%" + b"x" * (128 * 1024))
        assert big.status_code == 413 and big.json()["error"] == "too_large"
        resp, _browser = _page(op.base, b"%PDF" + b"x" * (128 * 1024))
        assert resp.status_code == 413 and _attr(resp.text, "data-verdict") == "refused"


def test_a_foreign_root_is_trusted_only_when_the_operator_imports_it(
        settings: Settings, store: EphemeralStore, tmp_path: Path) -> None:
    ca = attacks.TestCa("National Root CA (test)")
    key, cert = ca.issue("Foreign Signer")
    pdf = attacks.sign_simple(make_pdf(), attacks.simple_signer(key, cert, [ca.cert]))
    with serve(settings, store) as op:
        body = _api(op.base, pdf).json()
        assert (body["indication"], body["sub_indication"]) == \
            ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    anchors = write_pem(tmp_path / "anchors.pem", ca.cert)
    trusting = replace(settings, verify_trust_anchors=str(anchors),
                       verify_online_revocation=False)
    with serve(trusting, store) as op:
        body = _api(op.base, pdf).json()
        assert body["indication"] == "TOTAL_PASSED", body
        assert "National Root CA" in body["signatures"][0]["trust_anchor"]


def test_an_unsigned_pdf_says_so(signing_env: SigningEnv) -> None:
    body = _api(signing_env.op.base, make_pdf()).json()
    assert body["summary"]["verdict"] == "unsigned" and body["signatures"] == []
