"""The verification page in a real browser (Debian's Chromium, a phone-sized screen, Thai
locale): a person uploads a document a citizen signed with our provider and reads "valid" in
Thai, opens the details, downloads the JSON report; then uploads a copy changed after signing
and reads "not valid" with the reason. No CSP violation, no script error, nothing wider than
the screen. Screenshots in tests/artifacts/e2e/<test>/.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from playwright.sync_api import expect

from idp.pki.views import current_pki
from signing.pades import Level, SignRequest, sign_pdf
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import signing_context
from tests.e2e.conftest import BrowserLog, Demo, Screens
from tests.e2e.test_journey import overflow, submit
from tests.support import pdfattacks as attacks
from tests.support.pdfjudges import make_pdf


def _citizen_signed(demo: Demo, text: str) -> bytes:
    """A B-LT signature by a citizen certificate of the provider's own CA. Run off this
    thread: Playwright keeps an asyncio loop on it, and pyhanko's synchronous API refuses to
    start its own beside it."""
    app = demo.op.app
    with app.app_context():
        pki = current_pki()
    backend = app.extensions["idp"].backend
    key = backend.generate("ES256", "e2e-verify")
    cert = pki.issue("citizen", "citizen_signing", key.public_key(),
                     {"GN": "Somchai", "SN": "Jaidee"})
    signer = BackendSigner(backend, key, cert, pki.chain("citizen"))

    def sign() -> bytes:
        return sign_pdf(make_pdf(text=text), signer, SignRequest(level=Level.B_LT),
                        timestamper=our_timestamper(demo.op.base),
                        validation_context=signing_context(
                            [pki.ca("root").cert], [pki.ca(i).cert for i in ("citizen", "tsa")]))

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(sign).result()


def _upload(page: Any, name: str, data: bytes) -> None:
    page.locator("input[type=file]").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": data})
    submit(page, page.get_by_role("button", name="ตรวจสอบ", exact=True))


def test_a_person_checks_a_signed_document_in_a_real_browser(
        demo: Demo, page: Any, screens: Screens, browser_log: BrowserLog) -> None:
    signed = _citizen_signed(demo, "Pay 100 baht")
    page.goto(demo.op.base + "/verify")
    expect(page.get_by_role("heading", level=1)).to_have_text("ตรวจสอบเอกสารที่ลงลายมือชื่อ")
    screens.shot(page, "verify-form")
    assert overflow(page) == 0

    _upload(page, "contract.pdf", signed)
    verdict = page.locator("[data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ลายมือชื่อถูกต้อง")
    details = page.locator("[data-verify-signature]").first
    expect(details).to_have_attribute("data-indication", "TOTAL_PASSED")
    expect(details).to_contain_text("PAdES-BASELINE-LT")
    expect(details).to_contain_text("Somchai")
    screens.shot(page, "verify-valid")
    assert overflow(page) == 0

    with page.expect_download() as download:
        page.locator("[data-verify-report]").click()
    report = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert report["indication"] == "TOTAL_PASSED"
    assert report["signatures"][0]["format"] == "PAdES-BASELINE-LT"

    page.get_by_role("link", name="ตรวจสอบไฟล์อื่น").click()
    tampered = attacks.flip_signed_byte(signed, b"Pay 100")
    _upload(page, "contract-changed.pdf", tampered)
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "invalid")
    expect(page.locator("[data-verify-reason]")).to_contain_text("ถูกเปลี่ยน")
    screens.shot(page, "verify-invalid")
    assert overflow(page) == 0

    assert not browser_log.csp_violations(), browser_log.messages
    assert not browser_log.errors, browser_log.errors
