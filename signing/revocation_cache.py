"""OCSP answers and CRLs reused across signatures while they are valid.

Why: a B-LT or B-LTA signature embeds the revocation data of the signer's and the TSA's
chains, and pyhanko fetches it afresh for every document: a validation context cannot be
reused (pyhanko releases its fetchers when a signature is done), so `signing_context` builds
one per document, and without this module every document costs one OCSP round trip to our
own /pki/ocsp per certificate in those chains (three for a citizen's signature). An OCSP
answer says how long it may be relied on (nextUpdate), so asking again within that time
only buys the responder's signature on the same statement.

How: `CachingFetcherBackend` is a pyhanko_certvalidator `FetcherBackend` that wraps another
one (by default the aiohttp backend pyhanko itself would have used) and hands out its
fetchers with the OCSP and CRL ones wrapped: before a request goes out, the process-wide
`RevocationCache` is asked; after one comes back, its answer is stored there. Each wrapped
fetcher still records what *this* context was served, because pyhanko embeds exactly
`ValidationContext.ocsps` / `.crls` in the document's DSS: pre-seeding a context with the
whole cache (`ocsps=`) would put every other person's OCSP answers into every document.
The certificate fetcher is not wrapped (our chains are passed in, nothing is fetched).

What is stored, and for how long:
  - keyed by the question: for OCSP the issuer (hashes of its name and public key) and the
    certificate's serial number; for CRLs the distribution-point URLs of the certificate
    (and whether delta CRLs were asked for);
  - only a `successful` OCSP answer that contains a SingleResponse for exactly that issuer
    and serial, every SingleResponse with a nextUpdate; only CRLs that all have a
    nextUpdate, and only when every URL gave one (a partial answer is not cached);
  - served while now < min(nextUpdate, stored + `max_age`) (5 minutes by default), never
    after; then the next signature fetches afresh;
  - at most `max_entries` entries (expired ones are dropped first, then the least recently
    used);
  - as DER bytes, parsed again for each use, so no asn1crypto object (whose lazy parsing
    caches are not thread safe) is shared between threads. One lock guards the table and is
    never held across a network call; two threads that miss at once both fetch, and the
    later answer wins, which is harmless.
pyhanko validates every answer it is given, cached or not (signature, responder, CertID,
thisUpdate/nextUpdate against the validation time), so a cached answer is trusted no more
than a fresh one; the cache only saves the round trip.

OCSP nonces: pyhanko puts a nonce in each request and compares it with the answer's only
when the answer arrives (`process_ocsp_response_data`, on the request it just sent); its
OCSP validation never looks at nonces. A cached answer therefore carries the nonce of an
earlier request of ours, and is accepted. That is sound: the nonce protects against an old
answer *replayed by someone else*; here we replay an answer we received and checked
ourselves, within the validity its responder gave it, exactly as an RFC 5019 client (no
nonces, answers cached until nextUpdate) does.

Revocation, and why the cache need not be bypassed for a citizen's certificate: the
signing service decides whether a credential may sign from the database, before pyhanko is
involved: a citizen's credential is revoked by `idp.signing_credentials` (the certificate
is revoked, the credential leaves `active_credential`, the key is destroyed) and a seal is
refused unless its certificate row is `good` (`idp.csc.seals.active_seal`). Our OCSP
responder answers from that same database, so for our own certificates a fresh answer
cannot know more than that check already knew; the answer embedded by pyhanko is evidence
for later verifiers, not the gate. What a cached `good` can do is delay, by at most
`max_age`, pyhanko's own hard-fail on a certificate revoked by other means while its
credential stays usable (today: `idp ca revoke SERIAL` on a citizen certificate, since
`active_credential` does not look at the certificate's status). OCSP itself allows that
much: any relying party may rely on the answer until its nextUpdate (one hour for ours),
so the cap keeps us well inside what the responder already promised. A `revoked` answer
is cached too (revocation is final here: certificateHold is refused by `keys.ca`), so a
revoked certificate keeps failing without asking again. Callers that must see revocation
at once pass `cache=None` to `signing_context`; uploads are validated with
`offline_context`, which never fetches and never uses this cache.

Freshness as a verifier sees it: pyhanko fetches revocation data before it signs, so even
without the cache the embedded answers' thisUpdate precedes the signature time-stamp by a
moment; with it, by at most `max_age`. A verifier whose policy wants revocation data issued
after the best signature time would need data fetched after signing (a later DSS update),
which neither flow provides; the cap keeps the gap small for one that tolerates minutes.

Plain Python (no Flask), like the rest of `signing/`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms, crl, ocsp, x509
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers import CRLFetcher, FetcherBackend, Fetchers, OCSPFetcher
from pyhanko_certvalidator.util import get_relevant_crl_dps, issuer_serial

#: How long an answer is reused at most, whatever its nextUpdate says.
DEFAULT_MAX_AGE = timedelta(minutes=5)
#: How many answers the process keeps at most (a few KiB each).
DEFAULT_MAX_ENTRIES = 1024
#: CertID hash algorithms we can check an answer against (pyhanko asks with SHA-1).
_CERT_ID_HASHES = ("sha1", "sha256")

Clock = Callable[[], datetime]
OcspKey = tuple[str, bytes, bytes, int]
CrlKey = tuple[str, tuple[str, ...], bool]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Entry:
    ders: tuple[bytes, ...]  # one OCSP response, or the CRLs of a certificate's URLs
    expires: datetime


# --- what an answer is worth -------------------------------------------------------------------


def ocsp_key(cert: x509.Certificate | cms.AttributeCertificateV2,
             authority: Authority) -> OcspKey | None:
    """The question an OCSP request asks: which issuer (SHA-256 of its name and public key),
    which serial. None for attribute certificates, which are not cached."""
    if not isinstance(cert, x509.Certificate):
        return None
    return ("ocsp", authority.name.sha256, authority.public_key.sha256,
            int(cert.serial_number))


def _answers(response: ocsp.OCSPResponse, authority: Authority, serial: int) -> bool:
    """Whether one SingleResponse is about `serial` from `authority` (its CertID hashes)."""
    basic = response.basic_ocsp_response
    for single in basic["tbs_response_data"]["responses"]:
        cid = single["cert_id"]
        algo = cid["hash_algorithm"]["algorithm"].native
        if algo not in _CERT_ID_HASHES or int(cid["serial_number"].native) != serial:
            continue
        if (bytes(cid["issuer_name_hash"].native) == getattr(authority.name, algo)
                and bytes(cid["issuer_key_hash"].native) == getattr(authority.public_key, algo)):
            return True
    return False


def ocsp_valid_until(response: ocsp.OCSPResponse, authority: Authority,
                     serial: int) -> datetime | None:
    """When a fetched OCSP answer stops being worth reusing: the earliest nextUpdate of its
    SingleResponses. None (do not cache) unless it is `successful`, answers this issuer and
    serial, and every SingleResponse has a nextUpdate."""
    try:
        if response["response_status"].native != "successful":
            return None
        if response["response_bytes"]["response_type"].native != "basic_ocsp_response":
            return None
        if not _answers(response, authority, serial):
            return None
        updates = [single["next_update"].native for single in
                   response.basic_ocsp_response["tbs_response_data"]["responses"]]
    except (ValueError, KeyError, TypeError):  # an answer we cannot read is not cached
        return None
    if not updates or any(u is None for u in updates):
        return None
    return min(updates)


def crl_valid_until(crls: Iterable[crl.CertificateList]) -> datetime | None:
    """The earliest nextUpdate of `crls`; None if there is none or one has no nextUpdate."""
    updates = []
    for item in crls:
        try:
            updates.append(item["tbs_cert_list"]["next_update"].native)
        except (ValueError, KeyError, TypeError):
            return None
    if not updates or any(u is None for u in updates):
        return None
    return min(updates)


def crl_urls(cert: x509.Certificate | cms.AttributeCertificateV2,
             use_deltas: bool) -> tuple[str, ...]:
    """The http(s) URLs pyhanko fetches CRLs from for `cert` (its distribution points, full
    names only, as pyhanko's fetchers read them), sorted."""
    urls: set[str] = set()
    for point in get_relevant_crl_dps(cert, use_deltas=use_deltas):
        name = point["distribution_point"]
        if name.name != "full_name":
            continue
        for general in name.chosen:
            if general.name == "uniform_resource_identifier":
                url = str(general.native)
                if url.lower().startswith(("http://", "https://")):
                    urls.add(url)
    return tuple(sorted(urls))


# --- the cache ----------------------------------------------------------------------------------


class RevocationCache:
    """A bounded, thread-safe table of revocation answers, each served until
    min(its nextUpdate, stored + `max_age`). `clock` is for tests."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_age: timedelta = DEFAULT_MAX_AGE, clock: Clock = _now) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _get(self, key: Hashable) -> tuple[bytes, ...] | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now >= entry.expires:
                del self._entries[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.ders

    def _put(self, key: Hashable, ders: tuple[bytes, ...], valid_until: datetime) -> bool:
        now = self._clock()
        expires = min(valid_until, now + self.max_age)
        if expires <= now:
            return False
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self.max_entries:
                for stale in [k for k, e in self._entries.items() if now >= e.expires]:
                    del self._entries[stale]
            while len(self._entries) >= self.max_entries:
                self._entries.popitem(last=False)
            self._entries[key] = _Entry(ders, expires)
        return True

    def get_ocsp(self, key: OcspKey) -> ocsp.OCSPResponse | None:
        """A still-valid answer to this question, freshly parsed, or None."""
        ders = self._get(key)
        return ocsp.OCSPResponse.load(ders[0]) if ders else None

    def put_ocsp(self, key: OcspKey, response: ocsp.OCSPResponse,
                 authority: Authority) -> bool:
        """Keep `response` if it is worth keeping (see `ocsp_valid_until`); whether it was."""
        until = ocsp_valid_until(response, authority, key[3])
        return until is not None and self._put(key, (response.dump(),), until)

    def get_crls(self, key: CrlKey) -> list[crl.CertificateList] | None:
        ders = self._get(key)
        return [crl.CertificateList.load(der) for der in ders] if ders else None

    def put_crls(self, key: CrlKey, crls: list[crl.CertificateList]) -> bool:
        """Keep `crls` if every URL of the key gave one and all have a nextUpdate."""
        if len(crls) != len(key[1]):
            return False
        until = crl_valid_until(crls)
        return until is not None and self._put(key, tuple(c.dump() for c in crls), until)


#: The process-wide cache `signing.validation.signing_context` uses unless told otherwise.
SHARED_CACHE = RevocationCache()


# --- pyhanko fetchers that consult it ----------------------------------------------------------


class CachingOCSPFetcher(OCSPFetcher):
    """Asks the cache, else `inner`; remembers what it served to this one context."""

    def __init__(self, inner: OCSPFetcher, cache: RevocationCache) -> None:
        self._inner = inner
        self._cache = cache
        self._served: dict[tuple[bytes, Hashable], ocsp.OCSPResponse] = {}

    async def fetch(self, cert: x509.Certificate | cms.AttributeCertificateV2,
                    authority: Authority) -> ocsp.OCSPResponse:
        tag = (issuer_serial(cert), authority.hashable)
        served = self._served.get(tag)
        if served is not None:
            return served
        key = ocsp_key(cert, authority)
        response = self._cache.get_ocsp(key) if key is not None else None
        if response is None:
            response = await self._inner.fetch(cert, authority)
            if key is not None:
                self._cache.put_ocsp(key, response, authority)
        self._served[tag] = response
        return response

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return list(self._served.values())

    def fetched_responses_for_cert(self, cert: x509.Certificate | cms.AttributeCertificateV2
                                   ) -> Iterable[ocsp.OCSPResponse]:
        target = issuer_serial(cert)
        return [resp for (subject, _), resp in self._served.items() if subject == target]


class CachingCRLFetcher(CRLFetcher):
    """Asks the cache (by the certificate's CRL URLs), else `inner`; remembers what it
    served to this one context."""

    def __init__(self, inner: CRLFetcher, cache: RevocationCache) -> None:
        self._inner = inner
        self._cache = cache
        self._by_cert: dict[bytes, list[crl.CertificateList]] = {}

    async def fetch(self, cert: x509.Certificate | cms.AttributeCertificateV2, *,
                    use_deltas: bool | None = None) -> Iterable[crl.CertificateList]:
        who = issuer_serial(cert)
        known = self._by_cert.get(who)
        if known is not None:
            return known
        deltas = True if use_deltas is None else use_deltas  # pyhanko's fetchers' default
        urls = crl_urls(cert, deltas)
        key: CrlKey = ("crl", urls, deltas)
        crls = self._cache.get_crls(key) if urls else None
        if crls is None:
            crls = list(await self._inner.fetch(cert, use_deltas=deltas))
            if urls:
                self._cache.put_crls(key, crls)
        self._by_cert[who] = crls
        return crls

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        unique: dict[bytes, crl.CertificateList] = {}
        for crls in self._by_cert.values():
            for item in crls:
                unique.setdefault(item.dump(), item)
        return list(unique.values())

    def fetched_crls_for_cert(self, cert: x509.Certificate | cms.AttributeCertificateV2
                              ) -> Iterable[crl.CertificateList]:
        return self._by_cert[issuer_serial(cert)]  # KeyError: not asked yet (pyhanko's API)


def _default_inner() -> FetcherBackend:
    """The backend pyhanko uses when given none (aiohttp), imported late as pyhanko does."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
    return AIOHttpFetcherBackend()


class CachingFetcherBackend(FetcherBackend):
    """`inner`'s fetchers with OCSP and CRL fetching going through `cache`. Closing it
    closes `inner`; give it to a context as `OwnedFetcherBackend(...)` so pyhanko closes it
    when the signature is done, as it does with the backend it makes for itself."""

    def __init__(self, cache: RevocationCache, inner: FetcherBackend | None = None) -> None:
        self.cache = cache
        self.inner = inner if inner is not None else _default_inner()

    def get_fetchers(self) -> Fetchers:
        fetchers = self.inner.get_fetchers()
        return Fetchers(ocsp_fetcher=CachingOCSPFetcher(fetchers.ocsp_fetcher, self.cache),
                        crl_fetcher=CachingCRLFetcher(fetchers.crl_fetcher, self.cache),
                        cert_fetcher=fetchers.cert_fetcher)

    async def close(self) -> None:
        await self.inner.close()


__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_ENTRIES",
    "SHARED_CACHE",
    "CachingCRLFetcher",
    "CachingFetcherBackend",
    "CachingOCSPFetcher",
    "RevocationCache",
    "crl_urls",
    "crl_valid_until",
    "ocsp_key",
    "ocsp_valid_until",
]
