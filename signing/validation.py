"""Validation contexts built from our root: one for signing (fetches OCSP answers and CRLs
from the /pki/ URLs in the certificates, to embed them at B-LT/B-LTA, reusing answers still
valid through `signing.revocation_cache`) and one for checking uploads (never fetches: a
verifier must not be made to call out to addresses an uploaded file names; it judges with
what the file carries, and it never consults the cache either)."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers import OwnedFetcherBackend

from signing.revocation_cache import SHARED_CACHE, CachingFetcherBackend, RevocationCache
from signing.signer import to_asn1


def signing_context(roots: Iterable[x509.Certificate],
                    intermediates: Iterable[x509.Certificate] = (), *,
                    cache: RevocationCache | None = SHARED_CACHE) -> ValidationContext:
    """For signing with LTV data: trust `roots`, fetch revocation data (hard-fail, so a
    missing OCSP answer stops the signature rather than yielding a B-LT without its data).

    OCSP answers and CRLs go through `cache` (the process-wide one by default): an answer
    still within its validity (and at most 5 minutes old) is reused instead of fetched;
    `cache=None` fetches everything afresh with pyhanko's own fetchers. Make one context per
    signature: pyhanko closes its fetchers (here: the caching backend and the HTTP session
    under it, which the context owns) when the signature is done."""
    backend = (OwnedFetcherBackend(CachingFetcherBackend(cache)) if cache is not None
               else None)
    return ValidationContext(trust_roots=[to_asn1(c) for c in roots],
                             other_certs=[to_asn1(c) for c in intermediates],
                             allow_fetching=True, revocation_mode="hard-fail",
                             fetcher_backend=backend)


def offline_context(roots: Iterable[x509.Certificate],
                    intermediates: Iterable[x509.Certificate] = ()) -> ValidationContext:
    """For validating uploads: trust `roots`, never fetch (no fetcher backend at all, so no
    cache either); revocation is soft-fail because B-B/B-T signatures carry no revocation
    data at all."""
    return ValidationContext(trust_roots=[to_asn1(c) for c in roots],
                             other_certs=[to_asn1(c) for c in intermediates],
                             allow_fetching=False, revocation_mode="soft-fail")
