"""Revocation and expiry as ETSI EN 319 102-1 judges them, with our live OCSP responder and CRLs
(the `signing_env` provider), a small test CA for expired certificates, and a silent responder
for "try later".

What ETSI says about a certificate revoked at time R (clauses 5.3.4, 5.5.4):
  - nothing proves when the signature was made (B-B): INDETERMINATE/REVOKED_NO_POE;
  - a signature time-stamp before R proves it existed while the certificate was good: the
    signature passes (TOTAL_PASSED), the report still shows the revocation;
  - a content time-stamp (signed attribute, made before signing) after R proves the signature
    was made with a revoked certificate: TOTAL_FAILED/REVOKED.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from signing.pades import Level, SignRequest, sign_pdf
from signing.signer import BackendSigner
from signing.verification import Indication, TrustPolicy, verify_pdf, verify_pdf_bounded
from tests.signing.conftest import SigningEnv, make_signer
from tests.support import pdfattacks as attacks
from tests.support import pdfjudges as judges


def _fresh_citizen(env: SigningEnv) -> BackendSigner:
    return make_signer(env.pki, env.backend, "citizen", "citizen_signing",
                       {"GN": "Malee", "SN": "Rakdee"})


def _sign(env: SigningEnv, signer: BackendSigner, level: Level) -> bytes:
    return sign_pdf(judges.make_pdf(), signer, SignRequest(level=level),
                    timestamper=env.timestamper(), validation_context=env.signing_context())


def _revoke(env: SigningEnv, signer: BackendSigner) -> None:
    """Revoke, a clear second away from anything signed or stamped before or after it
    (OCSP revocation times and time-stamp times have one-second resolution)."""
    time.sleep(1.1)
    cert = signer.signing_cert
    assert cert is not None
    env.pki.revoke(cert.serial_number, "keyCompromise")
    time.sleep(1.1)


def _online(env: SigningEnv, timeout: float = 5.0) -> TrustPolicy:
    return TrustPolicy(roots=(env.root,), intermediates=tuple(env.intermediates()),
                       online_revocation=True, fetch_timeout=timeout)


def test_online_revocation_good(signing_env: SigningEnv) -> None:
    env = signing_env
    signed = _sign(env, _fresh_citizen(env), Level.B_B)
    sig = verify_pdf(signed, _online(env)).signatures[0]
    assert sig.indication is Indication.TOTAL_PASSED, sig
    assert (sig.revocation_status, sig.revocation_source) == ("good", "online")


def test_bb_revoked_later_is_revoked_no_poe(signing_env: SigningEnv) -> None:
    env = signing_env
    signer = _fresh_citizen(env)
    signed = _sign(env, signer, Level.B_B)
    _revoke(env, signer)
    sig = verify_pdf(signed, _online(env)).signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE,
                                                    "REVOKED_NO_POE"), sig
    assert (sig.revocation_status, sig.revocation_source) == ("revoked", "online")
    assert sig.revocation_time is not None
    # offline the verifier does not know: the file carries nothing, and nothing is fetched
    offline = verify_pdf(signed, TrustPolicy(roots=(env.root,))).signatures[0]
    assert offline.indication is Indication.TOTAL_PASSED
    assert offline.revocation_status == "unknown"


def test_timestamp_before_revocation_passes(signing_env: SigningEnv) -> None:
    """ETSI 5.5.4: the signature time-stamp is a proof of existence before the revocation,
    so the signature is valid; the revocation stays visible in the report."""
    env = signing_env
    signer = _fresh_citizen(env)
    signed = _sign(env, signer, Level.B_T)
    _revoke(env, signer)
    sig = verify_pdf(signed, _online(env)).signatures[0]
    assert sig.indication is Indication.TOTAL_PASSED, sig
    assert sig.revocation_status == "revoked" and sig.revocation_source == "online"
    assert "revoked_after_signing" in sig.warnings
    assert sig.timestamp_time is not None and sig.revocation_time is not None
    assert sig.timestamp_time < sig.revocation_time


def test_lt_signature_keeps_its_embedded_good_status(signing_env: SigningEnv) -> None:
    """B-LT carries the OCSP answer from signing time: embedded data first, no fetch, and it
    proves the certificate was good when the signature was time-stamped."""
    env = signing_env
    signer = _fresh_citizen(env)
    signed = _sign(env, signer, Level.B_LT)
    _revoke(env, signer)
    sig = verify_pdf(signed, _online(env)).signatures[0]
    assert sig.indication is Indication.TOTAL_PASSED
    assert (sig.revocation_status, sig.revocation_source) == ("good", "embedded")


def test_signature_made_after_revocation_is_revoked(signing_env: SigningEnv) -> None:
    env = signing_env
    signer = _fresh_citizen(env)
    _revoke(env, signer)
    signed = attacks.sign_simple(judges.make_pdf(), signer, timestamper=env.timestamper(),
                                 content_timestamp=True)
    sig = verify_pdf(signed, _online(env)).signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, "REVOKED"), sig
    assert sig.revocation_status == "revoked" and "certificate_revoked" in sig.errors


def test_expired_certificate_without_timestamp(tmp_path: object) -> None:
    ca = attacks.TestCa("Expiry Test Root")
    now = datetime.now(UTC)
    key, cert = ca.issue("Expired Signer", not_before=now - timedelta(days=60),
                         not_after=now - timedelta(days=1))
    signed = attacks.sign_simple(judges.make_pdf(), attacks.simple_signer(key, cert,
                                                                          [ca.cert]))
    report = verify_pdf(signed, TrustPolicy(roots=(ca.cert,)))
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE,
                                                    "OUT_OF_BOUNDS_NO_POE"), sig
    assert "certificate_expired" in sig.errors


@pytest.fixture
def silent_responder() -> Iterator[tuple[str, list[int]]]:
    """An HTTP "responder" that accepts connections and never answers; the list counts them."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[int] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(1)
            held.append(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/ocsp", accepted
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_unreachable_responder_is_try_later(silent_responder: tuple[str, list[int]]) -> None:
    url, accepted = silent_responder
    ca = attacks.TestCa("Silent OCSP Root")
    key, cert = ca.issue("Signer With Silent OCSP", ocsp_url=url)
    signed = attacks.sign_simple(judges.make_pdf(),
                                 attacks.simple_signer(key, cert, [ca.cert]))
    # offline: the URL in the certificate is never called
    offline = verify_pdf(signed, TrustPolicy(roots=(ca.cert,)))
    assert offline.indication is Indication.TOTAL_PASSED
    assert offline.signatures[0].revocation_status == "unknown"
    assert accepted == []
    # online, bounded: the fetch times out and the verdict is "try later"
    policy = TrustPolicy(roots=(ca.cert,), online_revocation=True, fetch_timeout=1.0)
    report = verify_pdf_bounded(signed, policy, timeout_seconds=30)
    assert report.refusal is None
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, "TRY_LATER"), sig
    assert sig.revocation_status == "unknown" and "revocation_unavailable" in sig.errors
    assert accepted  # it did try
