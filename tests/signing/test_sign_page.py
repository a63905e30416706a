"""The signing page over real HTTP: a person with a signing credential and a passkey uploads a
PDF, previews it (PNG pages), confirms with the passkey (software authenticator), downloads
it; the download is judged by pdfsig and pyhanko (B-LT). A confirmation is bound to the
document (no substitution) and used once (no replay); bad uploads get their page, never a
500, and nothing is stored; the audit trail has the hash and never the bytes. Runs on SQLite
+ in-process store and on PostgreSQL + Redis.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from idp import signing_credentials as creds
from idp.authn.views import person_for_persona
from idp.db import AuditEvent, SignatureRecord
from idp.pki.service import Pki
from idp.pki.views import current_pki
from idp.provider import Provider
from idp.settings import Settings
from idp.store import EphemeralStore
from sandbox.personas import get_persona
from signing.pades import Level, validate_pdf
from signing.validation import offline_context
from tests.support import pdfjudges as judges
from tests.support.authenticator import SoftAuthenticator, b64url
from tests.support.live import Browser, LiveProvider, serve

MAX_BYTES = 256 * 1024
MAX_PAGES = 3


def attr(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, f"no {name} on page:\n{html[:3000]}"
    return unescape(found[1])


def post_json(browser: Browser, url: str, body: dict[str, Any], csrf: str) -> requests.Response:
    return browser.http.post(browser.base + url, json=body, timeout=60, allow_redirects=False,
                             headers={"Accept": "application/json", "X-CSRF-Token": csrf})


@dataclass
class Signer:
    op: LiveProvider
    p: Provider
    pki: Pki
    browser: Browser
    key: SoftAuthenticator
    person_id: str
    store: EphemeralStore
    work: Path

    def csrf(self) -> str:
        return attr(self.browser.go("/sign?lang=en").text, "csrf_token\" value")

    def upload(self, data: bytes, name: str = "contract.pdf", **fields: str
               ) -> requests.Response:
        token = self.csrf()
        return self.browser.http.post(
            f"{self.op.base}/sign?lang=en", files={"file": (name, data, "application/pdf")},
            data={"csrf_token": token, **fields}, allow_redirects=False, timeout=60)

    def upload_many(self, documents: list[tuple[str, bytes]], **fields: str
                    ) -> requests.Response:
        token = self.csrf()
        return self.browser.http.post(
            f"{self.op.base}/sign?lang=en",
            files=[("file", (name, data, "application/pdf")) for name, data in documents],
            data={"csrf_token": token, **fields}, allow_redirects=False, timeout=60)

    def uploaded(self, data: bytes, **fields: str) -> str:
        resp = self.upload(data, **fields)
        assert resp.status_code == 303, (resp.status_code, resp.text[:2000])
        handle = resp.headers["Location"].rsplit("/", 1)[-1]
        return handle

    def options(self, handle: str) -> dict[str, Any]:
        page = self.browser.go(f"/sign/{handle}?lang=en")
        assert page.status_code == 200, page.text[:2000]
        resp = post_json(self.browser, attr(page.text, "data-options-url"), {},
                         attr(page.text, "data-csrf"))
        assert resp.status_code == 200, resp.text
        publickey: dict[str, Any] = resp.json()["publicKey"]
        return publickey

    def confirm(self, handle: str, assertion: dict[str, Any]) -> requests.Response:
        page = self.browser.go(f"/sign/{handle}?lang=en")
        csrf = attr(page.text, "data-csrf") if page.status_code == 200 else self.csrf()
        return post_json(self.browser, f"/sign/{handle}/confirm", {"credential": assertion},
                         csrf)

    def stored(self, handle: str) -> dict[str, Any] | None:
        return self.store.get("signdoc:" + handle)


def _login_with_passkey(op: LiveProvider, browser: Browser) -> SoftAuthenticator:
    page = browser.go("/account/login")
    assert "/interaction/" in page.url
    browser.submit("/login", persona="somchai")
    key = SoftAuthenticator(origin=op.base, rp_id="127.0.0.1")
    account = browser.go("/account?lang=en")
    csrf = attr(account.text, "data-csrf")
    resp = post_json(browser, attr(account.text, "data-options-url"), {}, csrf)
    assert resp.status_code == 200, resp.text
    done = post_json(browser, attr(account.text, "data-verify-url"),
                     {"credential": key.create(resp.json()["publicKey"])}, csrf)
    assert done.status_code == 200, done.text
    return key


@pytest.fixture
def signer(settings: Settings, store: EphemeralStore, tmp_path: Path) -> Iterator[Signer]:
    small = replace(settings, signing_max_bytes=MAX_BYTES, signing_max_pages=MAX_PAGES)
    with serve(small, store) as op:
        p: Provider = op.app.extensions["idp"]
        with op.app.app_context():
            pki = current_pki()
        browser = Browser(op.base)
        key = _login_with_passkey(op, browser)
        persona = get_persona("somchai")
        assert persona is not None
        person_id = person_for_persona(p, persona)
        from decimal import Decimal

        from kyc.assurance import Assurance
        acr = Assurance(Decimal(persona.ial), Decimal(persona.aal)).acr(p.issuer)
        creds.issue_credential(p, pki, person_id, acr)
        yield Signer(op, p, pki, browser, key, person_id, store, tmp_path)


def _audit(s: Signer, type_: str) -> list[AuditEvent]:
    with s.p.db.session() as db:
        rows = list(db.scalars(select(AuditEvent).where(AuditEvent.type == type_)))
        db.expunge_all()
        return rows


def test_upload_preview_confirm_download_judged_b_lt(signer: Signer) -> None:
    s = signer
    pdf = judges.make_pdf(pages=2, text="Contract")
    digest = hashlib.sha256(pdf).hexdigest()
    handle = s.uploaded(pdf)
    page = s.browser.go(f"/sign/{handle}?lang=en")
    assert page.status_code == 200
    assert digest in page.text and "contract.pdf" in page.text
    images = re.findall(r'<img src="(/sign/[^"]+\.png)"', page.text)
    assert len(images) == 2
    png = s.browser.http.get(s.op.base + images[0], timeout=30)
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")

    options = s.options(handle)
    assert options["userVerification"] == "required"
    assert [d["id"] for d in options["allowCredentials"]] == \
        [b64url(c.credential_id) for c in s.key.credentials]
    done = s.confirm(handle, s.key.get(options))
    assert done.status_code == 200, done.text
    result = s.browser.go(done.json()["redirect"] + "?lang=en")
    assert result.status_code == 200 and "/download" in result.text

    download = s.browser.http.get(f"{s.op.base}/sign/{handle}/1/download", timeout=30)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    signed = download.content
    assert signed.startswith(pdf)
    path = s.work / "signed.pdf"
    path.write_bytes(signed)
    nss = judges.nss_db(s.work / "nss", s.pki.ca("root").cert)
    sigs, text = judges.pdfsig(path, nss)
    # B-LT: the DSS follows the signature as an incremental update, so pdfsig says "not
    # total document signed" (the signature covers everything before the DSS)
    assert len(sigs) == 1 and sigs[0].valid and "Certificate is Trusted" in sigs[0].text, text
    assert sigs[0].type == "ETSI.CAdES.detached", text
    context = offline_context([s.pki.ca("root").cert],
                              [s.pki.ca(i).cert for i in ("citizen", "tsa")])
    reports = [r for r in validate_pdf(signed, context) if r.kind == "signature"]
    assert [r.level for r in reports] == [Level.B_LT]

    # gone after download (not kept)
    assert s.stored(handle) is None
    again = s.browser.http.get(f"{s.op.base}/sign/{handle}/1/download", timeout=30)
    assert again.status_code == 404

    # the audit trail and the signature record: the hash, never the bytes nor the ID
    events = _audit(s, "signing.signed")
    assert len(events) == 1 and events[0].person_id == s.person_id
    data = json.dumps(events[0].data)
    assert digest in data and "Contract" not in data and "1345951597671" not in data
    assert "JVBER" not in data  # base64 of %PDF
    with s.p.db.session() as db:
        records = list(db.scalars(select(SignatureRecord)))
        assert [(r.document_sha256, r.level, r.person_id) for r in records] == \
            [(digest, "B-LT", s.person_id)]


def test_a_confirmation_for_one_document_cannot_sign_another(signer: Signer) -> None:
    s = signer
    a = s.uploaded(judges.make_pdf(text="Pay 100 baht"))
    b = s.uploaded(judges.make_pdf(text="Pay 100000 baht"))
    assertion_for_a = s.key.get(s.options(a))
    substituted = s.confirm(b, assertion_for_a)
    assert substituted.status_code == 403, substituted.text
    assert substituted.json()["error"] == "sign_confirmation_invalid"
    assert not _audit(s, "signing.signed")
    assert not s.stored(b).get("signed")  # type: ignore[union-attr]
    # the confirmation was spent on the attempt: not even A can use it now
    assert s.confirm(a, assertion_for_a).status_code == 403
    assert _audit(s, "signing.confirmation_refused")


def test_a_confirmation_cannot_be_replayed(signer: Signer) -> None:
    s = signer
    handle = s.uploaded(judges.make_pdf(), level="B-B", keep="yes")
    assertion = s.key.get(s.options(handle))
    assert s.confirm(handle, assertion).status_code == 200
    # a second upload of the same bytes: the same hash, a fresh handle; the old assertion
    # still fails (its challenge is used up)
    again = s.uploaded(judges.make_pdf(), level="B-B")
    replay = s.confirm(again, assertion)
    assert replay.status_code == 403
    assert len(_audit(s, "signing.signed")) == 1
    # kept: the download does not delete it
    assert s.browser.http.get(f"{s.op.base}/sign/{handle}/1/download", timeout=30
                              ).status_code == 200
    assert s.stored(handle) is not None


def test_no_passkey_confirmation_no_signature(signer: Signer) -> None:
    s = signer
    handle = s.uploaded(judges.make_pdf())
    options = s.options(handle)
    without_uv = s.key.get(options, uv=False)
    assert s.confirm(handle, without_uv).status_code in (400, 401, 403)
    assert s.confirm(handle, {}).status_code == 400
    other = SoftAuthenticator(origin=s.op.base, rp_id="127.0.0.1")
    other.create({"rp": {"id": "127.0.0.1"}, "user": {"id": "AA"},
                  "pubKeyCredParams": [{"alg": -7}], "challenge": "AA"})
    forged = other.get({**s.options(handle), "allowCredentials": []})
    assert s.confirm(handle, forged).status_code in (400, 401, 403)
    assert s.browser.http.get(f"{s.op.base}/sign/{handle}/1/download",
                              timeout=30).status_code == 404
    assert not _audit(s, "signing.signed")


def _encrypted_pdf(work: Path) -> bytes:
    import subprocess

    src, dst = work / "plain.pdf", work / "locked.pdf"
    src.write_bytes(judges.make_pdf())
    subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--", str(src), str(dst)],
                   check=True, timeout=30)
    return dst.read_bytes()


@pytest.mark.parametrize("case,status,code", [
    ("not_pdf", 400, "sign_error_not_pdf"),
    ("damaged", 400, "sign_error_damaged"),
    ("encrypted", 400, "sign_error_encrypted"),
    ("too_many_pages", 400, "sign_error_too_many_pages"),
    ("too_large", 413, "sign_error_too_large"),
    ("far_too_large", 413, "sign_error_too_large"),
    ("no_file", 400, "sign_error_no_file"),
])
def test_bad_uploads_get_their_page_and_nothing_is_stored(signer: Signer, case: str,
                                                          status: int, code: str) -> None:
    s = signer
    pdf = judges.make_pdf()
    data = {
        "not_pdf": b"GIF89a not a pdf at all",
        "damaged": pdf[: len(pdf) // 2] + b"\n%%EOF\n",
        "too_many_pages": judges.make_pdf(pages=MAX_PAGES + 1),
        "too_large": pdf + b"%" + b"x" * MAX_BYTES + b"\n%%EOF\n",
        "far_too_large": b"%PDF-1.7\n" + b"x" * (4 * MAX_BYTES),
        "no_file": b"",
    }.get(case) if case != "encrypted" else _encrypted_pdf(s.work)
    assert data is not None
    before = _store_keys(s)
    resp = s.upload(data, name="" if case == "no_file" else "x.pdf")
    assert resp.status_code == status, resp.text[:2000]
    assert code in resp.text
    assert _store_keys(s) == before


def _store_keys(s: Signer) -> int:
    """How many uploads are stored (memory store: count; Redis: scan)."""
    inner = getattr(s.store, "_data", None)
    if isinstance(inner, dict):
        return sum(1 for k in inner if str(k).startswith("signdoc:"))
    client = getattr(s.store, "_r", None)
    if client is not None:
        return len(list(client.scan_iter("*signdoc:*")))
    pytest.skip("cannot list this store")


def test_not_logged_in_is_401_and_no_credential_is_explained(signer: Signer) -> None:
    s = signer
    anonymous = requests.get(f"{s.op.base}/sign?lang=en", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 401 and "/account/login" in anonymous.text
    handle = s.uploaded(judges.make_pdf())
    assert requests.get(f"{s.op.base}/sign/{handle}/1/page/1.png", timeout=10
                        ).status_code == 401
    # another session (even of the same person) cannot see or sign it
    other = Browser(s.op.base)
    other.go("/account/login")
    other.submit("/login", persona="somchai")
    assert other.http.get(f"{s.op.base}/sign/{handle}?lang=en", timeout=10).status_code == 404
    creds.revoke_credential(s.pki, s.person_id)
    page = s.browser.go("/sign?lang=en")
    assert page.status_code == 403 and "/account#signing" in page.text


# --- batches, levels, the visible signature, logout ------------------------------------------


def _judged(s: Signer, signed: bytes, name: str) -> list[judges.PdfsigSignature]:
    path = s.work / name
    path.write_bytes(signed)
    sigs, text = judges.pdfsig(path, judges.nss_db(s.work / f"nss-{name}", s.pki.ca("root").cert))
    # pdfsig does not check document time-stamps (B-LTA's last one): it lists them as unknown
    sigs = [sig for sig in sigs if sig.type != "unknown"]
    assert sigs and all(sig.valid for sig in sigs), text
    return sigs


def _levels(s: Signer, signed: bytes) -> list[Level | None]:
    context = offline_context([s.pki.ca("root").cert],
                              [s.pki.ca(i).cert for i in ("citizen", "tsa")])
    return [r.level for r in validate_pdf(signed, context) if r.kind == "signature"]


def test_a_batch_is_previewed_confirmed_once_and_signed_whole(signer: Signer) -> None:
    import io
    import zipfile

    s = signer
    documents = [(f"form-{n}.pdf", judges.make_pdf(pages=n, text=f"Form {n}")) for n in (1, 2, 3)]
    digests = [hashlib.sha256(data).hexdigest() for _name, data in documents]
    resp = s.upload_many(documents, level="B-T")
    assert resp.status_code == 303, resp.text[:2000]
    handle = resp.headers["Location"].rsplit("/", 1)[-1]
    page = s.browser.go(f"/sign/{handle}?lang=en")
    assert page.status_code == 200
    assert all(d in page.text for d in digests)
    assert "These are the 3 documents" in page.text and "all 3 of these" in page.text
    images = re.findall(r'<img src="(/sign/[^"]+\.png)"', page.text)
    assert images == [f"/sign/{handle}/{n}/page/{p}.png" for n in (1, 2, 3)
                      for p in range(1, n + 1)]
    assert s.browser.http.get(s.op.base + images[-1], timeout=30).content.startswith(b"\x89PNG")

    # one passkey confirmation over the three hashes signs all three
    done = s.confirm(handle, s.key.get(s.options(handle)))
    assert done.status_code == 200, done.text
    result = s.browser.go(done.json()["redirect"] + "?lang=en")
    assert "All 3 documents are signed" in result.text and "download.zip" in result.text
    archive = s.browser.http.get(f"{s.op.base}/sign/{handle}/download.zip", timeout=30)
    assert archive.status_code == 200 and archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert sorted(z.namelist()) == [f"form-{n}-signed.pdf" for n in (1, 2, 3)]
        for (name, original), entry in zip(documents, sorted(z.namelist()), strict=True):
            signed = z.read(entry)
            assert signed.startswith(original)
            _judged(s, signed, name)
            assert _levels(s, signed) == [Level.B_T]
    assert s.stored(handle) is None  # not kept: gone with the ZIP

    events = _audit(s, "signing.signed")
    assert sorted(e.data["document_sha256"] for e in events) == sorted(digests)
    assert {e.data["batch"] for e in events} == {3}
    with s.p.db.session() as db:
        assert sorted(r.document_sha256 for r in db.scalars(select(SignatureRecord))) == \
            sorted(digests)


def test_a_batch_confirmation_is_bound_to_exactly_its_documents(signer: Signer) -> None:
    s = signer
    a, b, c = (judges.make_pdf(text=t) for t in ("A", "B", "C"))
    first = s.upload_many([("a.pdf", a), ("b.pdf", b)])
    second = s.upload_many([("a.pdf", a), ("c.pdf", c)])
    one, two = (r.headers["Location"].rsplit("/", 1)[-1] for r in (first, second))
    assertion = s.key.get(s.options(one))
    assert s.confirm(two, assertion).status_code == 403
    assert not _audit(s, "signing.signed")


def test_a_batch_too_many_files_or_one_bad_file_is_refused_whole(signer: Signer) -> None:
    from idp.sign_views import BATCH_MAX

    s = signer
    before = _store_keys(s)
    many = [(f"{n}.pdf", judges.make_pdf(text=str(n))) for n in range(BATCH_MAX + 1)]
    resp = s.upload_many(many)
    assert resp.status_code == 400 and "sign_error_too_many_files" in resp.text
    assert f"at most {BATCH_MAX} files" in resp.text
    resp = s.upload_many([("good.pdf", judges.make_pdf()), ("bad.pdf", b"not a pdf")])
    assert resp.status_code == 400 and "sign_error_not_pdf" in resp.text
    assert attr(resp.text, "data-sign-error") == "sign_error_not_pdf"
    assert re.search(r"data-sign-error-file>bad\.pdf<", resp.text)
    # the size limit holds for the batch as a whole
    half = judges.make_pdf() + b"%" + b"x" * (MAX_BYTES // 2) + b"\n%%EOF\n"
    resp = s.upload_many([("one.pdf", half), ("two.pdf", half)])
    assert resp.status_code == 413 and "sign_error_too_large" in resp.text
    assert _store_keys(s) == before


@pytest.mark.parametrize("level", [Level.B_B, Level.B_LTA])
def test_visible_signature_at_the_level_chosen_on_the_page(signer: Signer, level: Level
                                                           ) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    s = signer
    handle = s.uploaded(judges.make_pdf(text="Visible"), level=level.value, visible="yes")
    assert level.value in s.browser.go(f"/sign/{handle}?lang=en").text
    assert s.confirm(handle, s.key.get(s.options(handle))).status_code == 200
    signed = s.browser.http.get(f"{s.op.base}/sign/{handle}/1/download", timeout=30).content
    sigs = _judged(s, signed, f"visible-{level.value}.pdf")
    assert sigs[0].type == "ETSI.CAdES.detached"
    assert _levels(s, signed) == [level]
    # the signature's widget has an area on page 1 and an appearance (name, time, QR code)
    reader = PdfFileReader(io_bytes(signed))
    field = reader.embedded_regular_signatures[0].sig_field
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    assert x2 - x1 > 50 and y2 - y1 > 20
    assert "/AP" in field
    appearance = field["/AP"]["/N"].data
    assert b"/QR Do" in appearance and b"Verify" in appearance
    assert judges.qr_codes(signed, s.work) == [s.op.base + "/verify"]


def io_bytes(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def test_logging_out_deletes_kept_documents(signer: Signer) -> None:
    s = signer
    kept = s.uploaded(judges.make_pdf(text="Kept"), keep="yes")
    assert s.confirm(kept, s.key.get(s.options(kept))).status_code == 200
    assert s.browser.http.get(f"{s.op.base}/sign/{kept}/1/download", timeout=30
                              ).status_code == 200
    unsigned = s.uploaded(judges.make_pdf(text="Not yet"))
    assert s.stored(kept) is not None and s.stored(unsigned) is not None
    s.browser.go("/logout")
    done = s.browser.submit("/logout", confirm="yes")
    assert done.status_code == 200
    assert s.stored(kept) is None and s.stored(unsigned) is None
    assert _store_keys(s) == 0


def test_a_new_login_in_the_browser_deletes_the_old_sessions_documents(signer: Signer) -> None:
    s = signer
    kept = s.uploaded(judges.make_pdf(text="Kept"), keep="yes")
    s.browser.go("/account/login?prompt=login")
    s.browser.submit("/login", persona="somchai")
    assert s.stored(kept) is None
