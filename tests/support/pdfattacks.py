"""Builders of tampered and hostile PDFs, for the verifier's tests (and the /verify page's).

Tampering of signed files (each returns new bytes, the input is untouched):
  flip_signed_byte        one byte inside the signed /ByteRange changed;
  forge_signature_value   the CMS SignerInfo's signature value changed (same length);
  append_page             an incremental update adding a page;
  replace_page_content    an incremental update giving page 1 new content;
  fill_text_field         an incremental update filling a text form field (allowed);
A small test CA with `cryptography` (`TestCa`) for certificates a real CA would not issue:
expired ones, self-signed signers, OCSP pointers at unreachable responders; `simple_signer`
turns a key and certificate into a pyhanko signer.

Hostile files (plain bytes, no signing needed): `hostile_cases()` names each one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.support.pdfjudges import assemble_pdf, make_pdf

# --- tampering with signed files ----------------------------------------------------------------

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def byte_ranges(pdf: bytes) -> list[tuple[int, int, int, int]]:
    return [tuple(int(x) for x in m.groups())  # type: ignore[misc]
            for m in _BYTE_RANGE.finditer(pdf)]


def flip_signed_byte(pdf: bytes, needle: bytes, offset: int = 0, new: bytes = b"9") -> bytes:
    """Change the byte at `needle`+`offset` (which must lie inside the first signed range)."""
    out = bytearray(pdf)
    at = out.index(needle) + offset
    a, b, _, _ = byte_ranges(pdf)[0]
    assert a <= at < a + b, "the byte is not inside the signed range"
    out[at:at + 1] = new
    return bytes(out)


def forge_signature_value(pdf: bytes, index: int = 0) -> bytes:
    """Flip one bit in the SignerInfo's signature value of the `index`-th signature, keeping
    the DER the same length, so the digest still matches and only the signature fails."""
    a, b, c, _ = byte_ranges(pdf)[index]
    hex_start = a + b + 1  # after "<"
    hexdata = pdf[hex_start:c - 1]
    der = bytes.fromhex(hexdata.decode())
    info = cms.ContentInfo.load(der, strict=False)
    sig_value = info["content"]["signer_infos"][0]["signature"].native
    real = info.dump()
    at = real.index(sig_value) + len(sig_value) // 2
    forged = bytearray(real)
    forged[at] ^= 0x01
    new_hex = bytes(forged).hex().encode()
    new_hex += b"0" * (len(hexdata) - len(new_hex))
    return pdf[:hex_start] + new_hex + pdf[c - 1:]


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)


def _finish(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def append_page(pdf: bytes, text: str = "Added after signing") -> bytes:
    """An incremental update adding a page at the end (a forbidden change)."""
    w = _writer(pdf)
    stream = generic.StreamObject(stream_data=f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode())
    page = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Page"),
        generic.pdf_name("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(x) for x in (0, 0, 595, 842)]),
        generic.pdf_name("/Contents"): w.add_object(stream),
        generic.pdf_name("/Resources"): generic.DictionaryObject(),
    })
    w.insert_page(page)
    return _finish(w)


def replace_page_content(pdf: bytes, text: str = "Pay 900000 baht") -> bytes:
    """An incremental update replacing page 1's content stream (a forbidden change)."""
    w = _writer(pdf)
    page_ref = w.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    stream = generic.StreamObject(stream_data=f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode())
    page[generic.pdf_name("/Contents")] = w.add_object(stream)
    w.update_container(page)
    return _finish(w)


def make_form_pdf(field_name: str = "Remark") -> bytes:
    """A one-page PDF with an empty text field `field_name`, for form-filling tests."""
    base = make_pdf()
    w = _writer(base)
    page_ref = w.root["/Pages"]["/Kids"][0]
    widget = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Widget"),
        generic.pdf_name("/FT"): generic.pdf_name("/Tx"),
        generic.pdf_name("/T"): generic.TextStringObject(field_name),
        generic.pdf_name("/Rect"): generic.ArrayObject(
            [generic.NumberObject(x) for x in (72, 600, 372, 630)]),
        generic.pdf_name("/F"): generic.NumberObject(4),
        generic.pdf_name("/P"): page_ref,
        generic.pdf_name("/DA"): generic.pdf_string("/Helv 12 Tf 0 g"),
    })
    widget_ref = w.add_object(widget)
    page = page_ref.get_object()
    page[generic.pdf_name("/Annots")] = generic.ArrayObject([widget_ref])
    w.update_container(page)
    helv = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
    })
    w.root[generic.pdf_name("/AcroForm")] = generic.DictionaryObject({
        generic.pdf_name("/Fields"): generic.ArrayObject([widget_ref]),
        generic.pdf_name("/DA"): generic.pdf_string("/Helv 12 Tf 0 g"),
        generic.pdf_name("/DR"): generic.DictionaryObject({
            generic.pdf_name("/Font"): generic.DictionaryObject({
                generic.pdf_name("/Helv"): w.add_object(helv)})}),
    })
    w.update_root()
    return _finish(w)


def fill_text_field(pdf: bytes, value: str, field_name: str = "Remark") -> bytes:
    """An incremental update setting the text field's value and its appearance (allowed
    form filling after an approval signature)."""
    w = _writer(pdf)
    fields = w.root["/AcroForm"]["/Fields"]
    target = None
    for ref in fields:
        if ref.get_object().get("/T") == field_name:
            target = ref
    assert target is not None, "no such field"
    widget = target.get_object()
    widget[generic.pdf_name("/V")] = generic.TextStringObject(value)
    ap = RawContent(f"/Tx BMC BT /Helv 12 Tf 2 10 Td ({value}) Tj ET EMC".encode(),
                    box=BoxConstraints(300, 30))
    ap_stream = ap.as_form_xobject()
    ap_stream[generic.pdf_name("/Resources")] = generic.DictionaryObject({
        generic.pdf_name("/Font"): w.root["/AcroForm"]["/DR"]["/Font"]})
    widget[generic.pdf_name("/AP")] = generic.DictionaryObject(
        {generic.pdf_name("/N"): w.add_object(ap_stream)})
    w.update_container(widget)
    return _finish(w)


# --- a small test CA ----------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Verifier Test CA"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class TestCa:
    """A root (or self-signed signer) made with `cryptography`, outside our PKI, for
    certificates with past validity or revocation pointers we choose."""

    name: str = "Test Root"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(
        ec.SECP256R1()))
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(_name(self.name)).issuer_name(_name(self.name))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=400)).not_valid_after(now + timedelta(days=400))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256()))

    def issue(self, cn: str, *, not_before: datetime | None = None,
              not_after: datetime | None = None, ocsp_url: str | None = None
              ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A signing certificate (digitalSignature + nonRepudiation) under this root."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=1))
            .not_valid_after(not_after or now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False))
        if ocsp_url:
            builder = builder.add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(ocsp_url))]),
                critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


def self_signed_signer(cn: str = "Self Made Signer") -> tuple[ec.EllipticCurvePrivateKey,
                                                                x509.Certificate]:
    """A signer whose certificate is its own issuer (a forged identity: no CA vouches)."""
    ca = TestCa(cn)
    return ca.key, ca.cert


def simple_signer(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
                  chain: Sequence[x509.Certificate] = ()) -> signers.SimpleSigner:
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    registry = SimpleCertificateStore()
    registry.register_multiple([asn1_x509.Certificate.load(
        c.public_bytes(serialization.Encoding.DER)) for c in chain])
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key), cert_registry=registry)


def sign_simple(pdf: bytes, signer: signers.Signer, *, pades: bool = True,
                timestamper: object | None = None, content_timestamp: bool = False) -> bytes:
    """Sign with pyhanko directly: PAdES (default) or the pyhanko default adbe.pkcs7.detached,
    optionally with a signature time-stamp and a content time-stamp (signed attribute)."""
    from pyhanko.sign.ades.api import CAdESSignedAttrSpec
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=SigSeedSubFilter.PADES if pades else None,
        cades_signed_attr_spec=CAdESSignedAttrSpec(timestamp_content=True)
        if content_timestamp else None)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer, timestamper=timestamper  # type: ignore[arg-type]
                      ).sign_pdf(_writer(pdf), output=out, bytes_reserved=16 * 1024)
    return out.getvalue()


# --- hostile files ------------------------------------------------------------------------------


def _with_xref(objs: list[bytes], root: int = 1, extra_trailer: bytes = b"") -> bytes:
    return assemble_pdf(objs, root, extra_trailer, header=b"%PDF-1.7\n")


def deeply_nested(depth: int = 100_000, kind: str = "array") -> bytes:
    """A page whose /Annots (array) or an extra key (dict) nests `depth` levels."""
    nest = (b"[" * depth + b"]" * depth) if kind == "array" else (
        b"<< /A " * depth + b"1" + b" >>" * depth)
    return _with_xref([
        b"<< /Type /Catalog /Pages 2 0 R /Deep " + nest + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
    ])


def cyclic_parent() -> bytes:
    """Two page-tree nodes that are each other's /Parent and /Kids."""
    return _with_xref([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>",
    ])


def self_referencing_length() -> bytes:
    """A stream whose /Length is an indirect reference to the stream itself."""
    return _with_xref([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R >>",
        b"<< /Length 4 0 R >>\nstream\nBT ET\nendstream",
    ])


def cyclic_object_stream() -> bytes:
    """A cross-reference stream saying object 3 (the page) lives in object stream 4, and
    object 4 lives in object stream 3: resolving either needs the other first."""
    out = bytearray(b"%PDF-1.7\n")
    offsets: dict[int, int] = {}
    for num, body in ((1, b"<< /Type /Catalog /Pages 2 0 R >>"),
                      (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    rows = [bytes([0, 0, 0, 0]),
            bytes([1]) + offsets[1].to_bytes(2, "big") + b"\x00",
            bytes([1]) + offsets[2].to_bytes(2, "big") + b"\x00",
            bytes([2, 0, 4, 0]),  # object 3: in object stream 4, index 0
            bytes([2, 0, 3, 0])]  # object 4: in object stream 3, index 0
    data = b"".join(rows)
    xref_at = len(out)
    out += (b"5 0 obj\n<< /Type /XRef /Size 5 /W [1 2 1] /Root 1 0 R /Length %d >>\nstream\n"
            % len(data)) + data + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def xref_into_garbage() -> bytes:
    """Every xref offset points into random bytes."""
    pdf = bytearray(make_pdf())
    xref = pdf.rindex(b"xref\n")
    entries = re.sub(rb"\d{10} 00000 n", b"0000000003 00000 n", bytes(pdf[xref:]))
    return bytes(pdf[:xref]) + entries


def huge_declared_length() -> bytes:
    """A content stream declaring /Length 2^62."""
    return _with_xref([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R >>",
        b"<< /Length 4611686018427387904 >>\nstream\nBT ET\nendstream",
    ])


def fake_signature(byte_range: bytes = b"[0 10 99999990 10]", contents: bytes = b"<00ff>"
                   ) -> bytes:
    """A signature field whose /ByteRange and /Contents are whatever the caller says."""
    return _with_xref([
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Annots [4 0 R] >>",
        b"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] "
        b"/P 3 0 R /V 5 0 R >>",
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange "
        + byte_range + b" /Contents " + contents + b" >>",
    ])


def hostile_cases(signed: bytes | None = None) -> dict[str, bytes]:
    """Every hostile input by name; with `signed` (a signed PDF) also truncations of it."""
    plain = make_pdf()
    cases: dict[str, bytes] = {
        "empty": b"",
        "not_pdf": b"PK\x03\x04 a zip file, not a PDF" + bytes(200),
        "header_only": b"%PDF-1.7\n",
        "garbage_after_header": b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n",
        "deep_array": deeply_nested(100_000, "array"),
        "deep_dict": deeply_nested(100_000, "dict"),
        "cyclic_parent": cyclic_parent(),
        "self_referencing_length": self_referencing_length(),
        "cyclic_object_stream": cyclic_object_stream(),
        "xref_into_garbage": xref_into_garbage(),
        "huge_declared_length": huge_declared_length(),
        "byte_range_outside_file": fake_signature(),
        "byte_range_negative": fake_signature(b"[0 -5 -10 20]"),
        "contents_not_hex": fake_signature(b"[0 10 20 10]", b"(not hex at all)"),
        "contents_odd_hex": fake_signature(b"[0 10 20 10]", b"<abc>"),
        "contents_random_der": fake_signature(b"[0 10 20 10]", b"<3082ffff0102030405>"),
    }
    for fraction in (0.1, 0.5, 0.9):
        cases[f"truncated_plain_{int(fraction * 100)}"] = plain[: int(len(plain) * fraction)]
    if signed is not None:
        for fraction in (0.25, 0.5, 0.75, 0.99):
            cases[f"truncated_signed_{int(fraction * 100)}"] = signed[
                : int(len(signed) * fraction)]
        cases["signed_then_garbage"] = signed + bytes(range(256)) * 4
    return cases


Builder = Callable[[bytes], bytes]
