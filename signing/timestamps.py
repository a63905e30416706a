"""The time-stamping client for our RFC 3161 endpoint (/pki/tsa): pyhanko's HTTPTimeStamper
with a bounded timeout, and the TSA URL built the same way the /pki/ blueprint serves it."""

from __future__ import annotations

from pyhanko.sign.timestamps import HTTPTimeStamper

TSA_PATH = "/pki/tsa"
TIMEOUT_SECONDS = 10


def tsa_url(issuer: str) -> str:
    return issuer.rstrip("/") + TSA_PATH


def our_timestamper(issuer: str, timeout: int = TIMEOUT_SECONDS) -> HTTPTimeStamper:
    """A timestamper asking our TSA at `issuer`/pki/tsa (SHA-256 imprints, nonce checked)."""
    return HTTPTimeStamper(tsa_url(issuer), timeout=timeout)
