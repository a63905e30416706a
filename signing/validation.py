"""Validation contexts built from our root: one for signing (fetches OCSP answers and CRLs
from the /pki/ URLs in the certificates, to embed them at B-LT/B-LTA) and one for checking
uploads (never fetches: a verifier must not be made to call out to addresses an uploaded file
names; it judges with what the file carries)."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from pyhanko_certvalidator import ValidationContext

from signing.signer import to_asn1


def signing_context(roots: Iterable[x509.Certificate],
                    intermediates: Iterable[x509.Certificate] = ()) -> ValidationContext:
    """For signing with LTV data: trust `roots`, fetch revocation data (hard-fail, so a
    missing OCSP answer stops the signature rather than yielding a B-LT without its data)."""
    return ValidationContext(trust_roots=[to_asn1(c) for c in roots],
                             other_certs=[to_asn1(c) for c in intermediates],
                             allow_fetching=True, revocation_mode="hard-fail")


def offline_context(roots: Iterable[x509.Certificate],
                    intermediates: Iterable[x509.Certificate] = ()) -> ValidationContext:
    """For validating uploads: trust `roots`, never fetch; revocation is soft-fail because
    B-B/B-T signatures carry no revocation data at all."""
    return ValidationContext(trust_roots=[to_asn1(c) for c in roots],
                             other_certs=[to_asn1(c) for c in intermediates],
                             allow_fetching=False, revocation_mode="soft-fail")
