"""Verifications per second, per PAdES level, beside two reference verifiers in the same run.

    .venv/bin/python bench/verify_bench.py [--seconds N] [--level B-B --level B-LTA ...]

The provider runs in-process on a loopback port (SQLite, in-memory store) and signs one
one-page PDF per level with a software P-256 citizen key (TSA and OCSP over real HTTP). Then,
one thread, each verifier checks that same document again and again for about N seconds
(default 3) and reports documents per second:

  api            POST /api/v1/verify over HTTP: the whole service (trust policy, a worker
                 process with the time limit, the ETSI report, the registry lookup, JSON;
                 the per-address rate limit is lifted for the run)
  bounded        signing.verification.verify_pdf_bounded: the same without HTTP
  in-process     signing.verification.verify_pdf: the judging alone, no worker process
  pyhanko        the reference peer: pyhanko's own validate_pdf_signature on each embedded
                 signature with the same trust roots and no fetching, as its documentation
                 shows; no ETSI indications, no difference analysis report, no isolation
  pdfsig         an independent verifier (poppler, a process per document, NSS trusting our
                 root): integrity and certificate trust only, no time-stamps or LTV

The ratio columns are in-process / pyhanko (what our ETSI report costs over the bare library)
and api / in-process (what isolation and HTTP cost). Online revocation is off for every
verifier, so the figures measure verification and not the OCSP responder. No figure here is
asserted anywhere.
"""

from __future__ import annotations

import argparse
import logging
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature

from idp import ratelimit
from idp.migrate import upgrade
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import MemoryStore
from keys.backend import KeyBackend
from signing.pades import Level, SignRequest, sign_pdf
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import offline_context, signing_context
from signing.verification import TrustPolicy, verify_pdf, verify_pdf_bounded
from tests.support.live import serve
from tests.support.pdfjudges import make_pdf, nss_db

BENCH_KEK = "YmVuY2gta2VrLTMyLWJ5dGVzLWxvbmctLS0tLS0tLS0="


def rate(call: Callable[[], object], seconds: float) -> float:
    call()  # warm up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - start)


def measure(base: str, pdf: bytes, path: Path, policy: TrustPolicy, nss: Path,
            bare_pyhanko: Callable[[bytes], None], seconds: float) -> dict[str, float]:
    session = requests.Session()
    pdfsig = ["pdfsig", "-nssdir", f"sql:{nss}", str(path)]

    def api() -> None:
        answer = session.post(base + "/api/v1/verify", data=pdf, timeout=60,
                              headers={"Content-Type": "application/pdf"})
        assert answer.status_code == 200 and answer.json()["indication"] == "TOTAL_PASSED", \
            answer.text[:300]

    return {
        "api": rate(api, seconds),
        "bounded": rate(lambda: verify_pdf_bounded(pdf, policy), seconds),
        "in-proc": rate(lambda: verify_pdf(pdf, policy), seconds),
        "pyhanko": rate(lambda: bare_pyhanko(pdf), seconds),
        "pdfsig": rate(lambda: subprocess.run(pdfsig, capture_output=True, check=False),  # noqa: S603
                       seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--level", action="append", choices=[lv.value for lv in Level])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # one client asks again and again: lift the per-address limit for this run only
    ratelimit.VERIFY_PER_ADDRESS = ratelimit.Limit("verify-ip", 10**9, 300)
    levels = [Level(v) for v in args.level] if args.level else list(Level)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = replace(Settings(), database_url=url, secret_key="bench-" + "x" * 40,
                           kek=BENCH_KEK, verify_online_revocation=False)
        with serve(settings, MemoryStore()) as op:
            with op.app.app_context():
                pki = current_pki()
            backend: KeyBackend = op.app.extensions["idp"].backend
            key = backend.generate("ES256", "bench-citizen")
            cert = pki.issue("citizen", "citizen_signing", key.public_key(),
                             {"GN": "Bench", "SN": "Mark"})
            signer = BackendSigner(backend, key, cert, pki.chain("citizen"))
            root = pki.ca("root").cert
            intermediates = [pki.ca(i).cert for i in ("citizen", "seal", "tsa")]
            policy = TrustPolicy(roots=(root,), intermediates=tuple(intermediates))
            nss = nss_db(Path(tmp) / "nss", root)

            def bare_pyhanko(pdf: bytes) -> None:
                from io import BytesIO

                for sig in PdfFileReader(BytesIO(pdf)).embedded_regular_signatures:
                    validate_pdf_signature(sig, offline_context([root], intermediates))

            print(f"PDF verification, one thread, one-page PDF signed with ES256 "
                  f"({platform.python_implementation()} {platform.python_version()})")
            print(f"{'level':<7} {'api':>7} {'bounded':>8} {'in-proc':>8} {'pyhanko':>8} "
                  f"{'pdfsig':>7} {'in-proc/pyhanko':>16} {'api/in-proc':>12}   docs/s")
            for level in levels:
                pdf = sign_pdf(make_pdf(), signer, SignRequest(level=level),
                               timestamper=our_timestamper(op.base),
                               validation_context=signing_context([root], intermediates))
                path = Path(tmp) / f"{level.value}.pdf"
                path.write_bytes(pdf)
                figures = measure(op.base, pdf, path, policy, nss, bare_pyhanko,
                                  args.seconds)
                print(f"{level.value:<7} {figures['api']:>7.1f} {figures['bounded']:>8.1f} "
                      f"{figures['in-proc']:>8.1f} {figures['pyhanko']:>8.1f} "
                      f"{figures['pdfsig']:>7.1f} "
                      f"{figures['in-proc'] / figures['pyhanko']:>16.2f} "
                      f"{figures['api'] / figures['in-proc']:>12.2f}")


if __name__ == "__main__":
    main()
