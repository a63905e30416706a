"""Independent judges of signed PDFs, run as separate processes: poppler's `pdfsig` (trust
from an NSS database holding our root), `openssl verify / ts -verify / cms -print`, `qpdf`.

pdfsig exits 0 even when a signature is invalid, so its output is parsed; its certificate
verdict is unreliable on Debian 12 (reference/signatures.md), so trust is judged by
`openssl verify` on the certificates `pdfsig -dump` writes out.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, tsp
from cryptography import x509

from tests.support.openssl import openssl, write_pem


def assemble_pdf(objs: list[bytes], root: int = 1, extra_trailer: bytes = b"",
                 header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """A PDF of the numbered objects `objs` (object n is objs[n - 1]) with a correct xref
    table, for building test files byte by byte: valid ones here, hostile ones in
    tests/support/pdfattacks.py."""
    out = bytearray(header)
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, root, extra_trailer, xref)
    return bytes(out)


def make_pdf(pages: int = 1, text: str = "Hello") -> bytes:
    """A small valid PDF with `pages` pages, xref offsets computed."""
    objs: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for i in range(pages):
        stream = f"BT /F1 18 Tf 72 720 Td ({text} {i + 1}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents "
                    f"{4 + 2 * i} 0 R /Resources << /Font << /F1 << /Type /Font /Subtype "
                    f"/Type1 /BaseFont /Helvetica >> >> >> >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return assemble_pdf(objs)


def nss_db(directory: Path, root: x509.Certificate) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
                   check=True, capture_output=True)
    pem = write_pem(directory / "root.pem", root)
    subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", "root", "-t", "CT,C,C",
                    "-i", str(pem)], check=True, capture_output=True)
    return directory


@dataclass
class PdfsigSignature:
    number: int
    text: str

    @property
    def valid(self) -> bool:
        return "Signature Validation: Signature is Valid." in self.text

    @property
    def total(self) -> bool:
        return "Total document signed" in self.text

    @property
    def type(self) -> str:
        m = re.search(r"Signature Type: (\S+)", self.text)
        return m.group(1) if m else ""


def pdfsig(pdf: Path, nss: Path, *extra: str) -> tuple[list[PdfsigSignature], str]:
    """Run pdfsig; return one entry per signature it lists, and the whole output."""
    out = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", *extra, str(pdf)],
                         capture_output=True, text=True, timeout=60, cwd=pdf.parent)
    text = out.stdout + out.stderr
    parts = re.split(r"^Signature #(\d+):\s*$", text, flags=re.M)
    sigs = [PdfsigSignature(int(parts[i]), parts[i + 1]) for i in range(1, len(parts), 2)]
    return sigs, text


def dump_cms(pdf: Path, nss: Path) -> list[Path]:
    """`pdfsig -dump`: each signature's CMS written to FILE.sigN; return those paths."""
    pdfsig(pdf, nss, "-dump")
    return sorted(pdf.parent.glob(pdf.name + ".sig*"))


def signer_certificate(cms_der: bytes) -> x509.Certificate:
    info = cms.ContentInfo.load(cms_der)
    sd = info["content"]
    signer = sd["signer_infos"][0]
    sid = signer["sid"].chosen
    for c in sd["certificates"]:
        cert = c.chosen
        if cert.issuer == sid["issuer"] and cert.serial_number == sid["serial_number"].native:
            return x509.load_der_x509_certificate(cert.dump())
    raise AssertionError("the signer certificate is not in the CMS")


def openssl_verify(cert: x509.Certificate, root_pem: Path, chain_pem: Path, work: Path
                   ) -> str:
    leaf = write_pem(work / f"leaf-{cert.serial_number}.pem", cert)
    return openssl("verify", "-purpose", "any", "-CAfile", root_pem, "-untrusted", chain_pem,
                   leaf).stdout


def signature_timestamp(cms_der: bytes) -> tuple[bytes, bytes]:
    """(token DER, data it stamps = the SignerInfo's signature value) from a CMS."""
    signer = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]
    for attr in signer["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            return attr["values"][0].dump(), signer["signature"].native
    raise AssertionError("no signature time-stamp in the CMS")


def ts_verify(token: bytes, data: bytes, root_pem: Path, chain_pem: Path, work: Path,
              name: str) -> str:
    tok = work / f"{name}.tsr"
    dat = work / f"{name}.dat"
    tok.write_bytes(token)
    dat.write_bytes(data)
    return openssl("ts", "-verify", "-data", dat, "-in", tok, "-token_in", "-CAfile", root_pem,
                   "-untrusted", chain_pem).stdout


def cms_print(cms_der: bytes, work: Path, name: str) -> str:
    path = work / f"{name}.p7s"
    path.write_bytes(cms_der)
    return openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", path).stdout


def byte_range_data(pdf: bytes, contents_der_start_hint: int | None = None) -> list[tuple[
        bytes, bytes]]:
    """For each /ByteRange in the file: (covered bytes, DER of /Contents)."""
    found = []
    for m in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf):
        a, b, c, d = (int(x) for x in m.groups())
        covered = pdf[a:a + b] + pdf[c:c + d]
        hexdata = pdf[a + b:c].strip(b"<> \n")
        der = bytes.fromhex(hexdata.decode())
        # strip zero padding: the DER length tells the real size
        info = cms.ContentInfo.load(der, strict=False)
        found.append((covered, info.dump()))
    return found


def tst_gen_time(token: bytes) -> object:
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    assert isinstance(info, tsp.TSTInfo)
    return info["gen_time"].native


def qr_codes(pdf: bytes, work: Path, page: int = 1) -> list[str]:
    """The QR codes on a page, as a person's phone would read them: the page rendered by
    pdftoppm (poppler), decoded by zbarimg (zbar), both independent of what drew them."""
    source, image = work / "qr-source.pdf", work / "qr-page"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "200", "-f", str(page), "-l", str(page),
                    "-singlefile", str(source), str(image)], check=True, timeout=60)
    done = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable",
                           str(image) + ".png"], capture_output=True, text=True, timeout=60,
                          check=False)
    return [line for line in done.stdout.splitlines() if line]
