"""The PDF of an e-license or e-certificate: one A4 page drawn with pyhanko's own PDF writer.

Text is shaped with HarfBuzz and embedded as a subset of a TrueType font (pyhanko's
`GlyphAccumulator`, the `opentype` extra: fonttools + uharfbuzz), so Thai vowels and tone
marks sit where the font's GPOS/GSUB tables put them, and the text can be copied and searched
(a ToUnicode map is written). The font is Laksaman from Debian's fonts-thai-tlwg (derived
from TH Sarabun PSK, the Thai government's font), found through fontconfig.

The page: the document's titles in Thai and English, the issuing agency, the holder, the
fields, the validity (Buddhist-era dates in Thai, Gregorian in English), the document id, and
a QR code (with a link annotation) leading to `{issuer}/verify/{id}`. The Info dictionary
carries the id as /RegistryDocumentId, so a verifier can find the registry record of an
uploaded copy (`document_id_of`).

No Flask, no database: data in, PDF bytes out. Sealing is the caller's (signing.pades).
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter, init_xobject_dictionary

from signing.registry import THAI_TIME, LicenseType, is_document_id

FONT_FAMILY = "Laksaman"
PAGE = (595.0, 842.0)  # A4 in points
MARGIN = 56.0
ID_KEY = "/RegistryDocumentId"
MONTHS_TH = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม",
             "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


# fontTools names each table it drops from a subset (FFTM, ...) as a warning: not news here.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


class FontMissingError(RuntimeError):
    """No Thai TrueType font: install Debian's fonts-thai-tlwg (or set the path)."""


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path


def _fc_match(pattern: str) -> Path | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(  # noqa: S603 - fc-match, fixed arguments
            [exe, "-f", "%{file}", pattern], capture_output=True, text=True,
            timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out) if out else None
    # fontconfig falls back to any font; only the family we asked for will do.
    if path is None or not path.is_file() or FONT_FAMILY.lower() not in path.name.lower():
        return None
    if path.suffix.lower() not in (".ttf", ".otf"):
        return None
    return path


@functools.cache
def find_fonts() -> Fonts:
    """Laksaman regular and bold through fontconfig; FontMissingError if it is not there."""
    regular = _fc_match(FONT_FAMILY)
    bold = _fc_match(f"{FONT_FAMILY}:bold") or regular
    if regular is None or bold is None:
        raise FontMissingError(
            f"the Thai font {FONT_FAMILY} was not found through fontconfig (fc-match); "
            "install Debian's fonts-thai-tlwg to render e-licenses and e-certificates")
    return Fonts(regular, bold)


@dataclass(frozen=True)
class RenderInput:
    """Everything printed on the document."""

    doc_id: str
    type: LicenseType
    agency_th: str
    agency_en: str
    holder_name: str
    holder_name_en: str | None
    national_id_masked: str | None
    fields: dict[str, str]
    valid_from: datetime
    valid_until: datetime | None
    issued_at: datetime
    verify_url: str


def thai_date(when: datetime) -> str:
    """"1 มกราคม 2569": the day in Thai time, Buddhist era."""
    local = when.astimezone(THAI_TIME)
    return f"{local.day} {MONTHS_TH[local.month - 1]} {local.year + 543}"


def english_date(when: datetime) -> str:
    local = when.astimezone(THAI_TIME)
    return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}"


def _last_day(until: datetime) -> datetime:
    """`valid_until` is exclusive; a date-only end (midnight Thai time) prints as the day
    before, the last day it is valid."""
    local = until.astimezone(THAI_TIME)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return until - timedelta(seconds=1)
    return until


def _pdf_text(value: str) -> generic.TextStringObject:
    return generic.TextStringObject(value)


class _Page:
    """A content stream under construction, with two shaped fonts."""

    def __init__(self, writer: PdfFileWriter, fonts: Fonts) -> None:
        self.writer = writer
        self.ops: list[bytes] = []
        self._handles = [open(fonts.regular, "rb"), open(fonts.bold, "rb")]  # noqa: SIM115
        self.fonts = {
            "/F1": GlyphAccumulator(writer, self._handles[0], 12, bcp47_lang_code="th"),
            "/F2": GlyphAccumulator(writer, self._handles[1], 12, bcp47_lang_code="th"),
        }

    def close(self) -> None:
        for h in self._handles:
            h.close()

    def width(self, text: str, size: int, bold: bool = False) -> float:
        engine = self.fonts["/F2" if bold else "/F1"]
        engine.font_size = size
        return engine.shape(text, with_actual_text=False).x_advance * size

    def text(self, x: float, y: float, text: str, size: int, *, bold: bool = False,
             align: str = "left", gray: float = 0.0) -> None:
        name = "/F2" if bold else "/F1"
        engine = self.fonts[name]
        engine.font_size = size
        shaped = engine.shape(text)
        width = shaped.x_advance * size
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        self.ops.append(b"BT %s %g Tf %g g 1 0 0 1 %g %g Tm %s ET" % (
            name.encode(), size, gray, x, y, shaped.graphics_ops))

    def wrap(self, text: str, size: int, width: float, bold: bool = False) -> list[str]:
        """Greedy lines no wider than `width`: breaks at spaces, and inside a long run (Thai
        has no spaces between words) before a base character, never before a mark."""
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if self.width(candidate, size, bold) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            for cluster in _clusters(word):
                if current and self.width(current + cluster, size, bold) > width:
                    lines.append(current)
                    current = ""
                current += cluster
        if current:
            lines.append(current)
        return lines

    def raw(self, ops: bytes) -> None:
        self.ops.append(ops)


def _clusters(text: str) -> Iterable[str]:
    """Base characters with their combining marks (Thai above/below vowels, tone marks)."""
    cluster = ""
    for ch in text:
        if cluster and unicodedata.category(ch) not in ("Mn", "Mc", "Me"):
            yield cluster
            cluster = ""
        cluster += ch
    if cluster:
        yield cluster


def _qr_xobject(writer: PdfFileWriter, url: str) -> tuple[generic.IndirectObject, float]:
    import qrcode
    from pyhanko.pdf_utils.qr import PdfStreamQRImage

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(url)
    qr.make()
    img = qr.make_image(image_factory=PdfStreamQRImage)
    stream = img.render_command_stream()
    size = (qr.modules_count + 2 * qr.border) * qr.box_size
    xobj = init_xobject_dictionary(stream, size, size)
    xobj.compress()
    return writer.add_object(xobj), float(size)


def render_pdf(data: RenderInput, fonts: Fonts | None = None) -> bytes:
    """The unsigned PDF of one document."""
    fonts = fonts or find_fonts()
    kind = data.type
    info = generic.DictionaryObject({
        generic.NameObject(ID_KEY): _pdf_text(data.doc_id),
    })
    writer = PdfFileWriter(info=info)
    writer.document_meta.title = f"{kind.title_en} {data.doc_id}"
    writer.document_meta.author = data.agency_en or data.agency_th
    writer.document_meta.subject = kind.title_th
    writer.document_meta.creator = "Thai Digital ID registry"
    writer.document_meta.created = data.issued_at
    page = _Page(writer, fonts)
    try:
        _draw(page, data)
        qr_ref, qr_size = _qr_xobject(writer, data.verify_url)
        qr_box = 118.0
        qx, qy = PAGE[0] - MARGIN - qr_box, MARGIN + 24
        page.raw(b"q %g 0 0 %g %g %g cm /QR Do Q" % (qr_box / qr_size, qr_box / qr_size,
                                                    qx, qy))
        page.text(qx + qr_box / 2, qy - 12, "สแกนเพื่อตรวจสอบ / Scan to verify", 9,
                  align="center", gray=0.3)
        content = generic.StreamObject(stream_data=b"\n".join(page.ops))
        content.compress()
        resources = generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject({
                generic.NameObject(n): e.as_resource() for n, e in page.fonts.items()}),
            generic.NameObject("/XObject"): generic.DictionaryObject({
                generic.NameObject("/QR"): qr_ref}),
        })
        pdf_page = PageObject(contents=writer.add_object(content), media_box=(0, 0, *PAGE),
                              resources=resources)
        link = generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Link"),
            generic.NameObject("/Rect"): generic.ArrayObject(map(generic.FloatObject, (
                qx, qy, qx + qr_box, qy + qr_box))),
            generic.NameObject("/Border"): generic.ArrayObject(map(generic.NumberObject,
                                                                   (0, 0, 0))),
            generic.NameObject("/F"): generic.NumberObject(4),  # print
            generic.NameObject("/A"): generic.DictionaryObject({
                generic.NameObject("/S"): generic.NameObject("/URI"),
                generic.NameObject("/URI"): generic.TextStringObject(data.verify_url)}),
        })
        pdf_page[generic.NameObject("/Annots")] = generic.ArrayObject(
            [writer.add_object(link)])
        writer.insert_page(pdf_page)
        writer.root[generic.NameObject("/Lang")] = _pdf_text("th-TH")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    finally:
        page.close()


def _draw(page: _Page, data: RenderInput) -> None:
    kind = data.type
    w, h = PAGE
    left, right = MARGIN, w - MARGIN
    center = w / 2
    # Frame: a double border in the government's dark blue.
    page.raw(b"q 0.09 0.2 0.45 RG 2 w %g %g %g %g re S 0.6 w %g %g %g %g re S Q" % (
        28, 28, w - 56, h - 56, 34, 34, w - 68, h - 68))
    y = h - 96
    for line in page.wrap(data.agency_th, 16, right - left, bold=True):
        page.text(center, y, line, 16, bold=True, align="center")
        y -= 20
    if data.agency_en:
        for line in page.wrap(data.agency_en, 12, right - left):
            page.text(center, y, line, 12, align="center", gray=0.25)
            y -= 16
    y -= 28
    page.text(center, y, kind.title_th, 30, bold=True, align="center")
    y -= 30
    page.text(center, y, kind.title_en, 18, bold=True, align="center", gray=0.2)
    y -= 44
    intro = "ออกให้แก่ / Issued to" if kind.kind == "e-license" else \
        "มอบให้แก่ / Awarded to"
    page.text(center, y, intro, 12, align="center", gray=0.3)
    y -= 30
    for line in page.wrap(data.holder_name, 22, right - left, bold=True):
        page.text(center, y, line, 22, bold=True, align="center")
        y -= 26
    if data.holder_name_en:
        for line in page.wrap(data.holder_name_en, 14, right - left):
            page.text(center, y, line, 14, align="center")
            y -= 18
    if data.national_id_masked:
        page.text(center, y, f"เลขประจำตัวประชาชน / ID No. {data.national_id_masked}", 11,
                  align="center", gray=0.3)
        y -= 16
    y -= 22
    label_w = 190.0
    rows: list[tuple[str, str, str]] = [
        (spec.th, spec.en, data.fields[spec.name])
        for spec in kind.fields if spec.name in data.fields]
    valid = f"{thai_date(data.valid_from)} / {english_date(data.valid_from)}"
    rows.append(("ใช้ได้ตั้งแต่", "Valid from", valid))
    if data.valid_until is not None:
        last = _last_day(data.valid_until)
        rows.append(("ใช้ได้ถึง", "Valid until", f"{thai_date(last)} / {english_date(last)}"))
    for th, en, value in rows:
        page.text(left + 10, y, th, 13, bold=True)
        page.text(left + 10, y - 13, en, 9, gray=0.35)
        lines = page.wrap(value, 14, right - left - label_w - 10)[:4]
        for i, line in enumerate(lines):
            page.text(left + label_w, y - 17 * i, line, 14)
        y -= max(17 * len(lines), 24) + 12
        if y < 230:  # keep clear of the footer and the QR code
            break
    # Footer: issue date, the document id and the verification link.
    foot = MARGIN + 98
    page.text(left + 4, foot, f"ออกให้ ณ วันที่ {thai_date(data.issued_at)}", 12)
    page.text(left + 4, foot - 15, f"Issued on {english_date(data.issued_at)}", 10, gray=0.3)
    page.text(left + 4, foot - 38, "เลขที่เอกสาร / Document ID", 10, gray=0.3)
    page.text(left + 4, foot - 52, data.doc_id, 10)
    page.text(left + 4, foot - 74, "ตรวจสอบได้ที่ / Verify at", 10, gray=0.3)
    for i, line in enumerate(page.wrap(data.verify_url, 9, 330)[:3]):
        page.text(left + 4, foot - 88 - 11 * i, line, 9)
    page.text(left + 4, MARGIN - 6,
              "เอกสารนี้ลงลายมือชื่ออิเล็กทรอนิกส์ (ตราประทับ) โดยหน่วยงานผู้ออก / "
              "Sealed electronically by the issuing agency", 8, gray=0.4)


def document_id_of(pdf: bytes) -> str | None:
    """The registry id a PDF names (its Info /RegistryDocumentId), or None. Reads with
    pyhanko's decoding limits and never raises on a broken file: whether the file is the
    one issued is for the registry's hash to say, not for this."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=DecodeLimits())
        info = reader.trailer_view.get("/Info")
        value = info.get_object().get(ID_KEY) if info is not None else None
    except Exception:  # a hostile or broken upload is "no id", never an error
        return None
    if not isinstance(value, str):
        return None
    text = str(value)
    return text if is_document_id(text) else None
