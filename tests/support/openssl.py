"""OpenSSL as the independent judge of what the PKI makes: run it as a separate process, on
files written in PEM."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `openssl ARGS`; with `check`, a non-zero exit fails the test with its output."""
    words = [str(a) for a in args]
    result = subprocess.run(["openssl", *words], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(words)} failed:\n{result.stdout}{result.stderr}")
    return result


def run(*args: str | Path, timeout: float = 30) -> str:
    """Run a command and return its stdout followed by its stderr, whatever its exit status."""
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return out.stdout + out.stderr


def write_pem(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    """Write certificates or CRLs to `path`, one PEM block each, and return `path`."""
    path.write_bytes(b"".join(i.public_bytes(serialization.Encoding.PEM) for i in items))
    return path
