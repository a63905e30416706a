"""PAdES documents per second per level, ours beside pyhanko's own signer, in one run.

    .venv/bin/python bench/pades_bench.py [--seconds N] [--level B-B --level B-LT ...]
                                          [--no-cache]

What is measured: one thread signs a fresh copy of the same one-page PDF, over and over, at
each PAdES baseline level. The provider runs in-process on a loopback port (SQLite,
in-memory store), so every B-T time-stamp and every B-LT OCSP answer is a real HTTP round
trip to its /pki/tsa and /pki/ocsp.

Two signers take turns on each level (ours, peer, ours, peer, ... in `SLICES` slices of
about N/`SLICES` seconds each, so a burst of load from elsewhere hits both alike); each
side's figure is its documents over its own time:

  ours   `signing.pades.sign_pdf` with `BackendSigner` over a software P-256 key in the key
         backend (ES256), `signing.timestamps.our_timestamper`, and a fresh
         `signing.validation.signing_context` per document, which reuses OCSP answers and
         CRLs within their validity through the process-wide `signing.revocation_cache`
         (`--no-cache` turns that off, to see what it buys);
  peer   the reference: pyhanko as its documentation uses it. `SimpleSigner` holding an
         in-memory P-256 key (`cryptography` key exported as PKCS#8 for it), whose
         certificate our citizen CA issues the same way as ours (same profile, same chain);
         `pyhanko.sign.signers.sign_pdf` with `PdfSignatureMetadata(subfilter=PADES, ...)`
         and pyhanko's own size estimate for /Contents; `HTTPTimeStamper` on the same /pki/tsa;
         a fresh `ValidationContext(trust_roots=..., other_certs=..., allow_fetching=True)`
         per document with pyhanko's default fetchers (no cache), hard-fail like ours.

Columns, per level:

  docs/s         our signed documents per second
  peer docs/s    the peer's signed documents per second
  ours/peer      the ratio of the two (above 1: we are faster)
  ms/doc         our wall time per document
  crypto ms/doc  time inside KeyBackend.sign during our documents (the document signature,
                 the TSA token, OCSP answers, document time-stamp: all the private-key
                 operations of both sides of the loopback)
  crypto share   crypto ms / total ms: what is left is PDF writing, hashing, CMS building,
                 HTTP, certificate path building and revocation checks in pyhanko

Before timing a level, one document of each side is validated offline
(`signing.pades.validate_pdf`); both must reach the level asked for, or the run stops.
The last line is the bare primitive: the same backend key signing in a loop. No figure here
is asserted anywhere.
"""

from __future__ import annotations

import argparse
import io
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from idp.migrate import upgrade
from idp.pki.service import Pki
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import MemoryStore
from keys.backend import KeyBackend, KeyRef
from signing.pades import Level, SignRequest, sign_pdf, validate_pdf
from signing.signer import BackendSigner, to_asn1
from signing.timestamps import our_timestamper, tsa_url
from signing.validation import offline_context, signing_context
from tests.support.live import serve
from tests.support.pdfjudges import make_pdf

BENCH_KEK = "YmVuY2gta2VrLTMyLWJ5dGVzLWxvbmctLS0tLS0tLS0="
SLICES = 3
SUBJECT = {"GN": "Bench", "SN": "Mark"}


class CryptoClock:
    """Wraps a backend's `sign` to add up the time spent in it."""

    def __init__(self, backend: KeyBackend) -> None:
        self.seconds = 0.0
        inner: Callable[[KeyRef, bytes], bytes] = backend.sign

        def timed(key: KeyRef, data: bytes) -> bytes:
            start = time.perf_counter()
            try:
                return inner(key, data)
            finally:
                self.seconds += time.perf_counter() - start

        backend.sign = timed  # type: ignore[method-assign]


@dataclass
class Tally:
    """Documents, wall seconds and crypto seconds of one side, over all its slices."""

    docs: int = 0
    wall: float = 0.0
    crypto: float = 0.0


def ours(pki: Pki, backend: KeyBackend, issuer: str, use_cache: bool
         ) -> Callable[[bytes, Level], bytes]:
    """One document at a level, signed the way the service signs."""
    key = backend.generate("ES256", "bench-citizen")
    cert = pki.issue("citizen", "citizen_signing", key.public_key(), SUBJECT)
    signer = BackendSigner(backend, key, cert, pki.chain("citizen"))
    timestamper = our_timestamper(issuer)
    roots = [pki.ca("root").cert]
    intermediates = [pki.ca(i).cert for i in ("citizen", "tsa")]

    def sign(pdf: bytes, level: Level) -> bytes:
        # a fresh context per document: pyhanko closes its fetchers after each signature
        context = (signing_context(roots, intermediates) if use_cache
                   else signing_context(roots, intermediates, cache=None))
        return sign_pdf(pdf, signer, SignRequest(level=level), timestamper=timestamper,
                        validation_context=context)

    return sign


def peer(pki: Pki, issuer: str) -> Callable[[bytes, Level], bytes]:
    """One document at a level, signed the way pyhanko's documentation signs: SimpleSigner
    with the key in memory, pyhanko's sign_pdf, its default fetchers, no cache."""
    private = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue("citizen", "citizen_signing", private.public_key(), SUBJECT)
    pkcs8 = private.private_bytes(serialization.Encoding.DER,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    chain = [to_asn1(c) for c in pki.chain("citizen")]
    signer = signers.SimpleSigner(
        signing_cert=to_asn1(cert), signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(chain))
    timestamper = HTTPTimeStamper(tsa_url(issuer))
    root = to_asn1(pki.ca("root").cert)
    others = [to_asn1(pki.ca(i).cert) for i in ("citizen", "tsa")]

    def sign(pdf: bytes, level: Level) -> bytes:
        lt = level.rank >= Level.B_LT.rank
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=lt, use_pades_lta=level is Level.B_LTA,
            validation_context=ValidationContext(
                trust_roots=[root], other_certs=others, allow_fetching=True,
                revocation_mode="hard-fail") if lt else None)
        out = io.BytesIO()
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer,
                         timestamper=timestamper if level.rank >= Level.B_T.rank else None,
                         output=out)
        return out.getvalue()

    return sign


def reached(pki: Pki, signed: bytes) -> Level | None:
    """The level our validator gives the (only) signature: both sides must reach the level
    asked for, or the comparison would be of different work."""
    context = offline_context([pki.ca("root").cert], [pki.ca(i).cert for i in ("citizen", "tsa")])
    levels = [r.level for r in validate_pdf(signed, context) if r.kind == "signature"]
    return levels[0] if len(levels) == 1 else None


def run_slice(sign: Callable[[bytes, Level], bytes], pdf: bytes, level: Level,
              seconds: float, clock: CryptoClock, tally: Tally) -> None:
    clock.seconds = 0.0
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign(pdf, level)
        count += 1
    tally.docs += count
    tally.wall += time.perf_counter() - start
    tally.crypto += clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="seconds per level and side (default 3)")
    parser.add_argument("--level", action="append", choices=[lv.value for lv in Level])
    parser.add_argument("--no-cache", action="store_true",
                        help="our side without the revocation cache")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    levels = [Level(v) for v in args.level] if args.level else list(Level)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = replace(Settings(), database_url=url, secret_key="bench-" + "x" * 40,
                           kek=BENCH_KEK)
        with serve(settings, MemoryStore()) as op:
            with op.app.app_context():
                pki = current_pki()
            backend: KeyBackend = op.app.extensions["idp"].backend
            sides = {"ours": ours(pki, backend, op.base, not args.no_cache),
                     "peer": peer(pki, op.base)}
            clock = CryptoClock(backend)
            pdf = make_pdf()
            cache_note = "no revocation cache" if args.no_cache else "revocation cache on"
            print(f"PAdES signing, one thread, P-256, TSA/OCSP on loopback, ours: "
                  f"{cache_note}; peer: pyhanko SimpleSigner "
                  f"({platform.python_implementation()} {platform.python_version()})")
            print(f"{'level':<7} {'docs/s':>8} {'peer docs/s':>12} {'ours/peer':>10} "
                  f"{'ms/doc':>8} {'crypto ms/doc':>14} {'crypto share':>13}")
            for level in levels:
                tallies = {name: Tally() for name in sides}
                for name, sign in sides.items():  # warm up (connections, caches), check
                    got = reached(pki, sign(pdf, level))
                    if got is not level:
                        sys.exit(f"{name} signed {level.value} but reached {got}")
                for _ in range(SLICES):
                    for name, sign in sides.items():
                        run_slice(sign, pdf, level, args.seconds / SLICES, clock,
                                  tallies[name])
                mine, theirs = tallies["ours"], tallies["peer"]
                rate, peer_rate = mine.docs / mine.wall, theirs.docs / theirs.wall
                print(f"{level.value:<7} {rate:>8.1f} {peer_rate:>12.1f} "
                      f"{rate / peer_rate:>10.2f} {1000 * mine.wall / mine.docs:>8.1f} "
                      f"{1000 * mine.crypto / mine.docs:>14.2f} "
                      f"{100 * mine.crypto / mine.wall:>12.1f}%")
            key = backend.generate("ES256", "bench-bare")
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.0:
                backend.sign(key, b"x" * 32)
                count += 1
            print(f"reference: ES256 through the backend, bare: "
                  f"{count / (time.perf_counter() - start):,.0f} sign/s")


if __name__ == "__main__":
    main()
