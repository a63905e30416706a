"""PAdES documents per second per level, and the share of that time spent signing.

    .venv/bin/python bench/pades_bench.py [--seconds N] [--level B-B --level B-LT ...]

One thread, one software P-256 key (SoftwareBackend, ES256) for the signer, the provider
running in-process on a loopback port (SQLite, in-memory store) so every B-T time-stamp and
every B-LT OCSP answer is a real HTTP round trip to /pki/tsa and /pki/ocsp. Each level signs
a fresh copy of a one-page PDF for about N seconds (default 3) and reports:

  docs/s         signed documents per second
  ms/doc         wall time per document
  crypto ms/doc  time inside KeyBackend.sign (the document signature, the TSA token, OCSP
                 answers, document time-stamp: all the private-key operations of both sides)
  crypto share   crypto ms / total ms: what is left is PDF writing, hashing, CMS building,
                 HTTP, certificate path building and revocation checks in pyhanko

The reference peer is the same key signing directly in a loop (`raw ES256 sign/s`), printed
on the last line, so the document rates are read against the bare primitive on this machine.
No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idp.migrate import upgrade
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import MemoryStore
from keys.backend import KeyBackend, KeyRef
from signing.pades import Level, SignRequest, sign_pdf
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import signing_context
from tests.support.live import serve
from tests.support.pdfjudges import make_pdf

BENCH_KEK = "YmVuY2gta2VrLTMyLWJ5dGVzLWxvbmctLS0tLS0tLS0="


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


def run_level(level: Level, signer: BackendSigner, clock: CryptoClock, issuer: str,
              context: Callable[[], Any], seconds: float) -> tuple[int, float, float]:
    pdf = make_pdf()
    timestamper = our_timestamper(issuer)
    sign_pdf(pdf, signer, SignRequest(level=level), timestamper=timestamper,
             validation_context=context())  # warm up: connections, caches
    clock.seconds = 0.0
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign_pdf(pdf, signer, SignRequest(level=level), timestamper=timestamper,
                 validation_context=context())
        count += 1
    return count, time.perf_counter() - start, clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--level", action="append", choices=[lv.value for lv in Level])
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
            key = backend.generate("ES256", "bench-citizen")
            cert = pki.issue("citizen", "citizen_signing", key.public_key(),
                             {"GN": "Bench", "SN": "Mark"})
            signer = BackendSigner(backend, key, cert, pki.chain("citizen"))
            clock = CryptoClock(backend)

            def context() -> Any:  # a fresh one per document: pyhanko closes its fetchers
                return signing_context([pki.ca("root").cert],
                                       [pki.ca(i).cert for i in ("citizen", "tsa")])

            print(f"PAdES signing, one thread, software ES256 key, TSA/OCSP on loopback "
                  f"({platform.python_implementation()} {platform.python_version()})")
            print(f"{'level':<7} {'docs/s':>8} {'ms/doc':>8} {'crypto ms/doc':>14} "
                  f"{'crypto share':>13}")
            for level in levels:
                n, wall, crypto = run_level(level, signer, clock, op.base, context,
                                            args.seconds)
                print(f"{level.value:<7} {n / wall:>8.1f} {1000 * wall / n:>8.1f} "
                      f"{1000 * crypto / n:>14.2f} {100 * crypto / wall:>12.1f}%")
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.0:
                backend.sign(key, b"x" * 32)
                count += 1
            print(f"reference: ES256 through the backend, bare: "
                  f"{count / (time.perf_counter() - start):,.0f} sign/s")


if __name__ == "__main__":
    main()
