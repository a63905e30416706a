"""Which pages look different now than when a signature was made.

Why: pyhanko's difference analysis judges later revisions by their structure, and a "shadow
attack" passes it: content hidden in the signed revision and revealed later through an allowed
change (a form field's new appearance, an annotation) is rated as harmless form filling, while
the page a person sees now says something else. EU DSS answers this by rendering the signed
revision and the final document and comparing them; so do we. A difference is not proof of
fraud (filling a form changes the page too), so it is reported as a warning naming the pages,
for the person to look at, and the verdict stays what the standard says.

Both revisions are rendered by poppler's `pdftoppm` as small grey-scale images (PGM, read
without an imaging library), in a fresh private directory in memory, with a time limit; the
verifier's worker process bounds everything else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

MAX_PAGES = 10
DPI = 36
TIMEOUT = 10.0
PIXEL_STEP = 48
"""Grey levels two renderings must differ by for a pixel to count (anti-aliasing noise is less)."""
CHANGED_SHARE = 0.0005
"""Share of a page's pixels that must differ for the page to count as changed (1 in 2000)."""


def _pages(pdf: bytes, folder: Path, name: str, tool: str, max_pages: int) -> list[bytes]:
    source = folder / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [tool, "-gray", "-r", str(DPI), "-f", "1", "-l", str(max_pages), str(source),
         str(folder / name)], capture_output=True, timeout=TIMEOUT, check=True)
    return [p.read_bytes() for p in sorted(folder.glob(f"{name}-*.pgm"))]


def _pixels(pgm: bytes) -> tuple[tuple[int, int], bytes]:
    """The size and the grey bytes of a binary PGM (P5, maxval 255) as pdftoppm writes it."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pgm[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not pgm[end:end + 1].isspace():
            end += 1
        fields.append(pgm[pos:end])
        pos = end
    if fields[0] != b"P5" or fields[3] != b"255":
        raise ValueError("not an 8-bit binary PGM")
    width, height = int(fields[1]), int(fields[2])
    return (width, height), pgm[pos + 1:pos + 1 + width * height]


def _differs(before: bytes, after: bytes) -> bool:
    size_a, pixels_a = _pixels(before)
    size_b, pixels_b = _pixels(after)
    if size_a != size_b:
        return True
    changed = sum(1 for a, b in zip(pixels_a, pixels_b, strict=True) if abs(a - b) > PIXEL_STEP)
    return changed > CHANGED_SHARE * len(pixels_a)


def changed_pages(signed_revision: bytes, final: bytes, max_pages: int = MAX_PAGES
                  ) -> list[int] | None:
    """The page numbers (1-based, among the first `max_pages`) that look different in `final`
    than in `signed_revision`, including pages added or removed; None when the renderings
    could not be made (no pdftoppm, a rendering error, the time limit)."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    shm = "/dev/shm"  # noqa: S108 (a private directory is made inside it)
    base = shm if os.path.isdir(shm) else None
    with tempfile.TemporaryDirectory(prefix="idp-visual-", dir=base) as tmp:
        folder = Path(tmp)
        try:
            before = _pages(signed_revision, folder, "before", tool, max_pages)
            after = _pages(final, folder, "after", tool, max_pages)
            return [n for n in range(1, max(len(before), len(after)) + 1)
                    if n > min(len(before), len(after)) or _differs(before[n - 1], after[n - 1])]
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return None
