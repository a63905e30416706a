"""The revocation cache (signing/revocation_cache.py): a second B-LT/B-LTA signature reuses the
OCSP answers of the first (no request reaches /pki/ocsp), the documents are still valid at
their level, an entry past its cap or its nextUpdate is fetched again, the entry bound holds,
answers that say nothing reusable are not kept, revocation is seen once the cached answer
expires (at once without the cache), and the offline context never touches it.

Requests are counted on the live provider itself (a WSGI wrapper around its app), so what is
counted is what reached /pki/ocsp over HTTP. The cache's clock is a test clock; pyhanko's own
validation keeps the real time."""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator.authority import AuthorityWithCert

from signing.pades import Level, SigningError, SignRequest, sign_pdf, validate_pdf
from signing.revocation_cache import (
    DEFAULT_MAX_AGE,
    SHARED_CACHE,
    CachingFetcherBackend,
    RevocationCache,
    ocsp_key,
)
from signing.signer import BackendSigner
from signing.validation import offline_context, signing_context
from tests.signing.conftest import SigningEnv, make_signer
from tests.support.pdfjudges import make_pdf

OCSP = "/pki/ocsp"
LT_LEVELS = [Level.B_LT, Level.B_LTA]


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Requests:
    """Paths of the HTTP requests the live provider answered."""

    paths: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> Counter[str]:
        with self.lock:
            seen, self.paths = self.paths, Counter()
        return seen


@pytest.fixture
def requests_seen(signing_env: SigningEnv) -> Requests:
    seen = Requests()
    app = signing_env.op.app
    inner = app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with seen.lock:
            seen.paths[environ.get("PATH_INFO", "")] += 1
        return inner(environ, start_response)  # type: ignore[no-any-return]

    app.wsgi_app = counting
    return seen


class Clock:
    """A clock for the cache that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def sign(env: SigningEnv, signer: BackendSigner, level: Level, **cache: Any) -> bytes:
    """One signature; `cache=...` chooses the cache, nothing means the callers' default."""
    context = signing_context([env.root], env.intermediates(), **cache)
    return sign_pdf(make_pdf(), signer, SignRequest(level=level),
                    timestamper=env.timestamper(), validation_context=context)


def serial_of(signer: BackendSigner) -> int:
    assert signer.signing_cert is not None
    return int(signer.signing_cert.serial_number)


def level_of(env: SigningEnv, pdf: bytes) -> Level | None:
    reports = [r for r in validate_pdf(pdf, env.offline_context()) if r.kind == "signature"]
    assert len(reports) == 1
    assert reports[0].intact and reports[0].valid and reports[0].trusted, reports[0].problems
    return reports[0].level


def dss_ocsps(pdf: bytes) -> list[asn1_ocsp.OCSPResponse]:
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))
    return [asn1_ocsp.OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps]


# --- through pyhanko, against the live responder -------------------------------------------------


@pytest.mark.parametrize("level", LT_LEVELS, ids=[lv.value for lv in LT_LEVELS])
def test_second_signature_reuses_the_ocsp_answers(signing_env: SigningEnv,
                                                  requests_seen: Requests,
                                                  level: Level) -> None:
    env = signing_env
    first = sign(env, env.citizen, level)  # the callers' call, unchanged: the shared cache
    asked = requests_seen.take()
    assert asked[OCSP] >= 1, asked
    second = sign(env, env.citizen, level)
    again = requests_seen.take()
    assert again[OCSP] == 0, again
    assert again["/pki/tsa"] >= 1  # time-stamps are never cached
    assert level_of(env, first) is level
    assert level_of(env, second) is level
    # The second document carries the very answers the first one got, each with the nonce of
    # the first document's request (pyhanko sends one, our responder echoes it): a cached
    # answer with an old nonce is still accepted.
    reused = {r.dump() for r in dss_ocsps(second)}
    assert reused and reused <= {r.dump() for r in dss_ocsps(first)}
    assert all(r.nonce_value is not None for r in dss_ocsps(second))


def test_another_signer_asks_only_about_itself(signing_env: SigningEnv,
                                              requests_seen: Requests) -> None:
    env = signing_env
    sign(env, env.citizen, Level.B_LT)
    requests_seen.take()
    other = make_signer(env.pki, env.backend, "citizen", "citizen_signing",
                        {"GN": "Malee", "SN": "Dee"})
    pdf = sign(env, other, Level.B_LT)
    assert requests_seen.take()[OCSP] == 1  # its own certificate; the CA and TSA: cached
    assert level_of(env, pdf) is Level.B_LT
    # Only what this document needed is embedded, not every answer in the cache.
    serials = {int(single["cert_id"]["serial_number"].native)
               for r in dss_ocsps(pdf)
               for single in r.basic_ocsp_response["tbs_response_data"]["responses"]}
    assert serial_of(other) in serials
    assert serial_of(env.citizen) not in serials


def test_an_entry_past_its_cap_is_fetched_again(signing_env: SigningEnv,
                                               requests_seen: Requests) -> None:
    env, clock = signing_env, Clock()
    cache = RevocationCache(clock=clock)
    sign(env, env.citizen, Level.B_LT, cache=cache)
    fetched = requests_seen.take()[OCSP]
    assert fetched >= 1 and len(cache) == fetched
    clock.advance(DEFAULT_MAX_AGE - timedelta(seconds=1))
    sign(env, env.citizen, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] == 0
    clock.advance(timedelta(seconds=1))  # now exactly the cap: no longer served
    pdf = sign(env, env.citizen, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] == fetched
    assert level_of(env, pdf) is Level.B_LT


def test_an_entry_past_its_next_update_is_fetched_again(signing_env: SigningEnv,
                                                       requests_seen: Requests) -> None:
    env, clock = signing_env, Clock()
    cache = RevocationCache(max_age=timedelta(days=7), clock=clock)  # the cap out of the way
    sign(env, env.citizen, Level.B_LT, cache=cache)
    fetched = requests_seen.take()[OCSP]
    clock.advance(timedelta(minutes=59))  # our responder's answers hold for an hour
    sign(env, env.citizen, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] == 0
    clock.advance(timedelta(minutes=2))
    sign(env, env.citizen, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] == fetched


def test_the_entry_bound_holds_while_signing(signing_env: SigningEnv,
                                            requests_seen: Requests) -> None:
    env = signing_env
    cache = RevocationCache(max_entries=2)
    pdf = sign(env, env.citizen, Level.B_LT, cache=cache)
    fetched = requests_seen.take()[OCSP]
    assert fetched > 2 and len(cache) == 2  # the chain needs more answers than it may keep
    sign(env, env.citizen, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] >= 1  # two entries cannot hold the whole chain
    assert len(cache) == 2
    assert level_of(env, pdf) is Level.B_LT


def test_without_the_cache_everything_is_fetched(signing_env: SigningEnv,
                                                requests_seen: Requests) -> None:
    env = signing_env
    sign(env, env.citizen, Level.B_LT, cache=None)
    fetched = requests_seen.take()[OCSP]
    sign(env, env.citizen, Level.B_LT, cache=None)
    assert requests_seen.take()[OCSP] == fetched >= 1


def test_revocation_is_seen_when_the_cached_answer_expires(signing_env: SigningEnv,
                                                          requests_seen: Requests) -> None:
    """The signing service refuses a revoked credential from the database before signing
    (see the module docstring); this is pyhanko's check behind it. A cached `good` holds at
    most `max_age`; without the cache the revocation is seen at once; the `revoked` answer is
    cached in turn, so the certificate keeps failing without asking again."""
    env, clock = signing_env, Clock()
    cache = RevocationCache(clock=clock)
    signer = make_signer(env.pki, env.backend, "citizen", "citizen_signing",
                         {"GN": "Wichai", "SN": "Revoked"})
    sign(env, signer, Level.B_LT, cache=cache)
    env.pki.revoke(serial_of(signer), "keyCompromise")
    with pytest.raises(SigningError):
        sign(env, signer, Level.B_LT, cache=None)
    requests_seen.take()
    # Within the cap the cached answer still stands (what any relying party may do until
    # nextUpdate; the cap keeps it to minutes).
    stale = sign(env, signer, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] == 0 and level_of(env, stale) is Level.B_LT
    clock.advance(DEFAULT_MAX_AGE)
    with pytest.raises(SigningError):
        sign(env, signer, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] >= 1
    with pytest.raises(SigningError):
        sign(env, signer, Level.B_LT, cache=cache)
    assert requests_seen.take()[OCSP] == 0


def test_the_offline_context_never_fetches_nor_uses_the_cache(signing_env: SigningEnv,
                                                             requests_seen: Requests) -> None:
    env = signing_env
    pdf = sign(env, env.citizen, Level.B_LTA)
    requests_seen.take()
    before = (SHARED_CACHE.hits, SHARED_CACHE.misses, len(SHARED_CACHE))
    context = offline_context([env.root], env.intermediates())
    assert not context.fetching_allowed
    assert level_of(env, pdf) is Level.B_LTA
    assert (SHARED_CACHE.hits, SHARED_CACHE.misses, len(SHARED_CACHE)) == before
    assert sum(requests_seen.take().values()) == 0


def test_the_context_owns_and_closes_its_backend(signing_env: SigningEnv) -> None:
    context = signing_context([signing_env.root], signing_env.intermediates())
    assert context.fetching_allowed
    assert isinstance(context._owned_fetcher_backend, CachingFetcherBackend)


# --- the table itself, with answers made here ---------------------------------------------------


@dataclass
class Issuer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def authority(self) -> AuthorityWithCert:
        return AuthorityWithCert(asn1_x509.Certificate.load(
            self.cert.public_bytes(serialization.Encoding.DER)))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: Issuer | None, key: ec.EllipticCurvePrivateKey,
          serial: int) -> x509.Certificate:
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject))
            .issuer_name(issuer.cert.subject if issuer else _name(subject))
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=9))
            .sign(issuer.key if issuer else key, hashes.SHA256()))


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Issuer(key, _cert("Test CA", None, key, 1))


def leaf(issuer: Issuer, serial: int) -> asn1_x509.Certificate:
    cert = _cert(f"Leaf {serial}", issuer, ec.generate_private_key(ec.SECP256R1()), serial)
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def answer(issuer: Issuer, about: asn1_x509.Certificate,
           next_update: timedelta | None = timedelta(hours=1)) -> asn1_ocsp.OCSPResponse:
    now = datetime.now(UTC).replace(microsecond=0)
    cert = x509.load_der_x509_certificate(about.dump())
    der = (x509_ocsp.OCSPResponseBuilder()
           .add_response(cert=cert, issuer=issuer.cert, algorithm=hashes.SHA1(),  # noqa: S303 (pyhanko's CertID)
                         cert_status=x509_ocsp.OCSPCertStatus.GOOD, this_update=now,
                         next_update=now + next_update if next_update else None,
                         revocation_time=None, revocation_reason=None)
           .responder_id(x509_ocsp.OCSPResponderEncoding.HASH, issuer.cert)
           .sign(issuer.key, hashes.SHA256())
           .public_bytes(serialization.Encoding.DER))
    return asn1_ocsp.OCSPResponse.load(der)


def keep(cache: RevocationCache, issuer: Issuer, about: asn1_x509.Certificate,
         response: asn1_ocsp.OCSPResponse | None = None) -> bool:
    key = ocsp_key(about, issuer.authority)
    assert key is not None
    return cache.put_ocsp(key, response or answer(issuer, about), issuer.authority)


def cached(cache: RevocationCache, issuer: Issuer, about: asn1_x509.Certificate) -> bool:
    key = ocsp_key(about, issuer.authority)
    assert key is not None
    return cache.get_ocsp(key) is not None


def test_the_bound_drops_the_least_recently_used(issuer: Issuer) -> None:
    cache = RevocationCache(max_entries=3)
    certs = [leaf(issuer, serial) for serial in range(10, 15)]
    for cert in certs[:3]:
        assert keep(cache, issuer, cert)
    assert cached(cache, issuer, certs[0])  # read: now the most recently used
    for cert in certs[3:]:
        assert keep(cache, issuer, cert)
    assert len(cache) == 3
    assert [cached(cache, issuer, c) for c in certs] == [True, False, False, True, True]


def test_expired_entries_go_before_live_ones(issuer: Issuer) -> None:
    clock = Clock()
    cache = RevocationCache(max_entries=2, clock=clock)
    old, live, new = (leaf(issuer, serial) for serial in (20, 21, 22))
    keep(cache, issuer, old)
    clock.advance(DEFAULT_MAX_AGE - timedelta(seconds=10))
    keep(cache, issuer, live)
    clock.advance(timedelta(seconds=20))  # `old` has expired, `live` has not
    keep(cache, issuer, new)
    assert [cached(cache, issuer, c) for c in (old, live, new)] == [False, True, True]


def test_an_answer_without_next_update_is_not_kept(issuer: Issuer) -> None:
    cache = RevocationCache()
    cert = leaf(issuer, 30)
    assert not keep(cache, issuer, cert, answer(issuer, cert, next_update=None))
    assert len(cache) == 0 and not cached(cache, issuer, cert)


def test_an_answer_about_another_certificate_is_not_kept(issuer: Issuer) -> None:
    cache = RevocationCache()
    asked, other = leaf(issuer, 31), leaf(issuer, 32)
    assert not keep(cache, issuer, asked, answer(issuer, other))
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger = Issuer(other_key, _cert("Other CA", None, other_key, 2))
    assert not keep(cache, stranger, asked, answer(issuer, asked))
    assert len(cache) == 0


def test_an_error_answer_is_not_kept(issuer: Issuer) -> None:
    cache = RevocationCache()
    cert = leaf(issuer, 33)
    refusal = asn1_ocsp.OCSPResponse({"response_status": "try_later"})
    assert not keep(cache, issuer, cert, refusal)


def test_served_until_next_update_when_it_is_sooner_than_the_cap(issuer: Issuer) -> None:
    clock = Clock()
    cache = RevocationCache(clock=clock)
    cert = leaf(issuer, 34)
    keep(cache, issuer, cert, answer(issuer, cert, next_update=timedelta(minutes=2)))
    clock.advance(timedelta(seconds=100))
    assert cached(cache, issuer, cert)
    clock.advance(timedelta(seconds=30))
    assert not cached(cache, issuer, cert)
    assert not keep(cache, issuer, cert, answer(issuer, cert, next_update=timedelta(0)))


def test_each_read_is_a_fresh_parse(issuer: Issuer) -> None:
    cache = RevocationCache()
    cert = leaf(issuer, 35)
    response = answer(issuer, cert)
    keep(cache, issuer, cert, response)
    key = ocsp_key(cert, issuer.authority)
    assert key is not None
    one, two = cache.get_ocsp(key), cache.get_ocsp(key)
    assert one is not None and two is not None and one is not two
    assert one.dump() == two.dump() == response.dump()


def test_threads_share_it_within_the_bound(issuer: Issuer) -> None:
    cache = RevocationCache(max_entries=8)
    certs = [leaf(issuer, serial) for serial in range(100, 124)]
    answers = {c.serial_number: answer(issuer, c) for c in certs}
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(200):
                cert = certs[(offset + i) % len(certs)]
                if not cached(cache, issuer, cert):
                    keep(cache, issuer, cert, answers[cert.serial_number])
                assert len(cache) <= 8
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 8
    assert cache.hits > 0 and cache.misses > 0


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        RevocationCache(max_entries=0)
    with pytest.raises(ValueError):
        RevocationCache(max_age=timedelta(0))
