"""Signatures per second through each key backend, beside two reference peers in the same run.

    .venv/bin/python bench/sign_bench.py [--seconds N] [--alg ES256 --alg RS256 ...]

For each algorithm (ES256, ES384, RS256, PS256, EdDSA) it measures, one thread, one key:
  raw crypto   `cryptography` private key objects signing directly, no backend
  software     SoftwareBackend (sealed keys; unsealed once, then cached)
  pkcs11       Pkcs11Backend on SoftHSM2, a fresh token in a temporary directory
  openssl      `openssl speed -seconds N` (the system's OpenSSL command) for the matching
               primitive: ecdsap256, ecdsap384, rsa2048 (for RS256 and PS256), ed25519
and prints a table with the ratios backend / raw crypto and backend / openssl.

Run time is bounded: each Python cell gets about N seconds (default 2), cut into 4 slices that
the cells of one algorithm take in turn, and reports its best slice, so load from elsewhere on
the machine hits all of them alike; openssl runs round(N) one-second `openssl speed` passes
(each also spends a second verifying) and reports the best. About 45 s in all with N = 2.

The message is a 256-byte JWS signing input; `openssl speed` signs a short fixed buffer (ECDSA
and RSA sign a digest-sized input), so it carries no hashing cost: that is a difference of a
few percent at most for these key sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography import __version__ as cryptography_version
from cryptography.hazmat.backends.openssl import backend as openssl_backend
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from keys.backend import ALGORITHMS, KeyBackend, KeyBackendError, KeyRef
from keys.software import SoftwareBackend, generate_private_key

OPENSSL_ALGO = {"ES256": "ecdsap256", "ES384": "ecdsap384", "RS256": "rsa2048",
                "PS256": "rsa2048", "EdDSA": "ed25519"}
MESSAGE = secrets.token_bytes(256)
TOKEN_LABEL, USER_PIN, SO_PIN = "idp-bench", "1234", "5678"
ROUNDS = 4


def rate(sign: Callable[[], object], seconds: float) -> float:
    """Signatures per second, one after another for about `seconds`."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(4):
            sign()
        count += 4
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def best_rates(cells: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Each cell's best rate over ROUNDS slices, the cells taking turns slice by slice, so a
    burst of load from elsewhere on the machine hits them alike rather than one of them."""
    for sign in cells.values():
        sign()  # warm up: unseal, find the token object
    best = dict.fromkeys(cells, 0.0)
    for _ in range(ROUNDS):
        for name, sign in cells.items():
            best[name] = max(best[name], rate(sign, seconds / ROUNDS))
    return best


def raw_signer(alg: str) -> Callable[[], bytes]:
    """A `cryptography` key signing directly, the floor of what any backend adds to."""
    a = ALGORITHMS[alg]
    key = generate_private_key(alg)
    if a.kind == "ec" and isinstance(key, ec.EllipticCurvePrivateKey):
        ecdsa = ec.ECDSA(a.hash())
        return lambda: key.sign(MESSAGE, ecdsa)
    if a.kind == "rsa" and isinstance(key, rsa.RSAPrivateKey):
        pkcs1, h = padding.PKCS1v15(), a.hash()
        return lambda: key.sign(MESSAGE, pkcs1, h)
    if a.kind == "rsa-pss" and isinstance(key, rsa.RSAPrivateKey):
        h = a.hash()
        pss = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        return lambda: key.sign(MESSAGE, pss, h)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return lambda: key.sign(MESSAGE)
    raise ValueError(alg)


def openssl_rate(algo: str, seconds: float) -> float | None:
    """Best sign/s of `openssl speed -mr -seconds 1` run round(seconds) times (its machine
    readable lines +F2 rsa, +F4 ecdsa, +F6 eddsa end with ...:sign/s:verify/s)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    best: float | None = None
    for _ in range(max(1, round(seconds))):
        out = subprocess.run([openssl, "speed", "-mr", "-seconds", "1", algo],  # noqa: S603
                             capture_output=True, text=True, check=False, timeout=120).stdout
        for line in out.splitlines():
            if line.startswith(("+F2:", "+F4:", "+F6:")):
                best = max(best or 0.0, float(line.split(":")[-2]))
    return best


def softhsm_backend(directory: Path) -> KeyBackend | str:
    """A Pkcs11Backend on a fresh SoftHSM2 token, or the reason there is none."""
    try:
        from keys.pkcs11 import Pkcs11Backend, find_softhsm_module, init_softhsm_token
    except ImportError as e:
        return f"python-pkcs11 missing ({e})"
    module = find_softhsm_module()
    if module is None:
        return "SoftHSM2 not installed (./dev test installs it)"
    try:
        conf = init_softhsm_token(directory, TOKEN_LABEL, USER_PIN, SO_PIN)
        os.environ["SOFTHSM2_CONF"] = str(conf)
        return Pkcs11Backend(module, TOKEN_LABEL, USER_PIN)
    except KeyBackendError as e:
        return str(e)


def other_token(module: str, label: str | None) -> KeyBackend | str:
    """A Pkcs11Backend on an existing token (a real HSM), or the reason there is none."""
    pin = os.environ.get("PKCS11_PIN")
    if not label or pin is None:
        return "--pkcs11-module needs --pkcs11-token and the PKCS11_PIN environment variable"
    try:
        from keys.pkcs11 import Pkcs11Backend

        return Pkcs11Backend(module, label, pin)
    except (ImportError, KeyBackendError) as e:
        return str(e)


def versions() -> list[str]:
    lines = [f"date       {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
             f"machine    {cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
             f"{platform.release()}",
             f"python     {platform.python_version()}, cryptography {cryptography_version} "
             f"({openssl_backend.openssl_version_text()})"]
    openssl = shutil.which("openssl")
    if openssl:
        text = subprocess.run([openssl, "version"], capture_output=True, text=True,  # noqa: S603
                              check=False).stdout.strip()
        lines.append(f"openssl    {text} (the `openssl speed` peer)")
    util = shutil.which("softhsm2-util")
    if util:
        text = subprocess.run([util, "--version"], capture_output=True, text=True,  # noqa: S603
                              check=False).stdout.strip()
        try:
            from importlib.metadata import version
            p11 = version("python-pkcs11")
        except Exception:
            p11 = "?"
        lines.append(f"softhsm2   {text}, python-pkcs11 {p11}")
    return lines


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time per measurement cell (default 2)")
    parser.add_argument("--alg", action="append", choices=list(ALGORITHMS),
                        help="only these algorithms (repeatable; default all)")
    parser.add_argument("--pkcs11-module", metavar="PATH",
                        help="measure this PKCS#11 module instead of a temporary SoftHSM2 token "
                        "(with --pkcs11-token; the PIN is read from the PKCS11_PIN environment "
                        "variable); it generates and deletes one key per algorithm")
    parser.add_argument("--pkcs11-token", metavar="LABEL", help="token label for --pkcs11-module")
    args = parser.parse_args(argv)
    algs = args.alg or list(ALGORITHMS)

    for line in versions():
        print(line)
    print(f"method     one thread, {len(MESSAGE)}-byte message; each Python cell "
          f"~{args.seconds:g} s in {ROUNDS} interleaved slices, best slice;\n"
          f"           openssl: best of {max(1, round(args.seconds))} x "
          "`openssl speed -seconds 1`\n", flush=True)

    software = SoftwareBackend(secrets.token_bytes(32))
    openssl_cache: dict[str, float | None] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="softhsm-bench-") as tmp:
        hsm = (other_token(args.pkcs11_module, args.pkcs11_token) if args.pkcs11_module
               else softhsm_backend(Path(tmp)))
        if isinstance(hsm, str):
            print(f"pkcs11: not measured: {hsm}", file=sys.stderr)
        for alg in algs:
            print(f"measuring {alg} ...", file=sys.stderr, flush=True)
            made: list[tuple[KeyBackend, KeyRef]] = []
            cells: dict[str, Callable[[], object]] = {"raw": raw_signer(alg)}
            for name, backend in (("software", software), ("pkcs11", hsm)):
                if isinstance(backend, str):
                    continue
                try:
                    key = backend.generate(alg, f"bench-{alg}")
                except KeyBackendError as e:  # e.g. a token without EdDSA
                    print(f"{name} {alg}: {e}", file=sys.stderr)
                    continue
                made.append((backend, key))
                cells[name] = partial(backend.sign, key, MESSAGE)
            rates = best_rates(cells, args.seconds)
            for backend, key in made:
                backend.destroy(key)
            algo = OPENSSL_ALGO[alg]
            if algo not in openssl_cache:
                openssl_cache[algo] = openssl_rate(algo, args.seconds)
            rows.append((alg, rates["raw"], rates.get("software"), rates.get("pkcs11"), algo,
                         openssl_cache[algo]))
        if not isinstance(hsm, str):
            close = getattr(hsm, "close", None)
            if close is not None:
                close()

    header = ("alg", "raw crypto/s", "software/s", "pkcs11/s", "openssl speed/s",
              "soft/raw", "p11/raw", "soft/openssl", "p11/openssl")
    table = [header] + [
        (alg, fmt_rate(raw), fmt_rate(soft), fmt_rate(p11), f"{fmt_rate(ossl)} ({algo})",
         fmt_ratio(soft, raw), fmt_ratio(p11, raw), fmt_ratio(soft, ossl), fmt_ratio(p11, ossl))
        for alg, raw, soft, p11, algo, ossl in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table[1:]:
        out = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                           zip(row[1:], widths[1:], strict=True)]
        print("| " + " | ".join(out) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
