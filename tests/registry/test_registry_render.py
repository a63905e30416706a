"""The e-license PDF before sealing: Thai and English text that extracts back as written, a
QR code that encodes the verification link (read back module by module), a link annotation,
the id in /Info, HarfBuzz shaping of Thai marks, a PNG that poppler can draw, and a clear
error when the font is missing."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import qrcode
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing import render
from signing.registry import TYPES, new_document_id, verify_url
from signing.render import (
    FontMissingError,
    RenderInput,
    document_id_of,
    english_date,
    render_pdf,
    thai_date,
)

ISSUER = "https://id.example.go.th"


def sample(doc_id: str | None = None, **changes: object) -> RenderInput:
    doc_id = doc_id or new_document_id()
    values: dict[str, object] = dict(
        doc_id=doc_id, type=TYPES["business_license"], agency_th="กรมพัฒนาธุรกิจการค้า",
        agency_en="Department of Business Development", holder_name="นายสมชาย ใจดี",
        holder_name_en="Mr Somchai Jaidee", national_id_masked="1-XXXX-XXXXX-67-1",
        fields={"license_number": "กทม. 0123/2569", "business_name": "ร้านก๋วยเตี๋ยวป้าน้อย",
                "business_type": "ร้านอาหารและเครื่องดื่ม",
                "address": "เลขที่ ๑๒๓ ถนนสุขุมวิท แขวงคลองเตยเหนือ เขตวัฒนา กรุงเทพมหานคร"},
        valid_from=datetime(2025, 12, 31, 17, tzinfo=UTC),
        valid_until=datetime(2030, 12, 31, 17, tzinfo=UTC),
        issued_at=datetime(2026, 1, 5, 3, tzinfo=UTC), verify_url=verify_url(ISSUER, doc_id))
    values.update(changes)
    return RenderInput(**values)  # type: ignore[arg-type]


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True, text=True)
    return done.stdout


def test_text_extracts_as_written(tmp_path: Path) -> None:
    data = sample()
    pdf = render_pdf(data)
    assert pdf.startswith(b"%PDF-") and b"/FontFile2" in pdf
    text = " ".join(text_of(pdf, tmp_path).split())
    for expected in ("ใบอนุญาตประกอบกิจการ", "Business Operation Licence",
                     "กรมพัฒนาธุรกิจการค้า", "นายสมชาย ใจดี", "ร้านก๋วยเตี๋ยวป้าน้อย",
                     "1 มกราคม 2569", "31 ธันวาคม 2573", "31 December 2030",
                     "1-XXXX-XXXXX-67-1", data.doc_id, data.verify_url,
                     "สแกนเพื่อตรวจสอบ"):
        assert expected in text, expected
    assert document_id_of(pdf) == data.doc_id


def test_qr_code_encodes_the_verification_link() -> None:
    data = sample()
    reader = PdfFileReader(io.BytesIO(render_pdf(data)))
    page = reader.root["/Pages"]["/Kids"][0]
    stream = page["/Resources"]["/XObject"]["/QR"].get_object().data.decode()
    drawn = {(int(float(r)), int(float(c)))
             for c, r in re.findall(r"(-?[\d.]+) (-?[\d.]+) 1 1 re", stream)}
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(data.verify_url)
    qr.make()
    expected = {(r, c) for r, row in enumerate(qr.modules) for c, dark in enumerate(row)
                if dark}
    assert drawn == expected
    link = page["/Annots"][0].get_object()
    assert link["/Subtype"] == "/Link" and str(link["/A"]["/URI"]) == data.verify_url


def test_thai_marks_are_shaped() -> None:
    """HarfBuzz applies the font's tables: over a tall consonant (ป) the tone mark is the
    font's low variant pulled left, which a plain character-to-glyph mapping would not do."""
    page = render._Page(PdfFileWriter(), render.find_fonts())
    try:
        engine = page.fonts["/F1"]
        plain = engine.shape("ป", with_actual_text=False).graphics_ops
        shaped = engine.shape("ป้า", with_actual_text=False).graphics_ops
        assert plain != shaped
        # a TJ position adjustment between the consonant and its mark
        assert re.search(rb"<[0-9a-f]{4}> -?\d+ <", shaped), shaped
        assert page.width("ป้า", 14) == pytest.approx(page.width("ปา", 14))
        assert page.wrap("ก๋วยเตี๋ยว" * 20, 14, 100) and all(
            line[0] not in "\u0e48\u0e49\u0e4a\u0e4b\u0e35\u0e34\u0e31"
            for line in page.wrap("ก๋วยเตี๋ยว" * 20, 14, 100))
    finally:
        page.close()


def test_draws_with_poppler(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(render_pdf(sample(fields={"license_number": "1",
                                               "business_name": "x " * 150,
                                               "business_type": "ก" * 300})))
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "page")],
                   check=True, capture_output=True)
    png = tmp_path / "page-1.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000


def test_dates() -> None:
    when = datetime(2026, 12, 31, 18, tzinfo=UTC)  # 1 Jan 2027, 01:00 in Thailand
    assert thai_date(when) == "1 มกราคม 2570"
    assert english_date(when) == "1 January 2027"


def test_document_id_of_bad_input() -> None:
    assert document_id_of(b"") is None
    assert document_id_of(b"%PDF-1.7 garbage %%EOF") is None
    assert document_id_of(render_pdf(sample(doc_id="../../etc"))) is None


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    render.find_fonts.cache_clear()
    monkeypatch.setattr(render, "_fc_match", lambda _pattern: None)
    try:
        with pytest.raises(FontMissingError, match="fonts-thai-tlwg"):
            render_pdf(sample())
    finally:
        render.find_fonts.cache_clear()
