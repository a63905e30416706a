"""DPoP proofs (RFC 9449) as an ordered list of small, named checks, and server nonces.

Reading CHECKS tells what a proof must be. The module is pure (no Flask): the caller hands in
the `DPoP` header values, the method, the request URL as the issuer names it, the ephemeral
store (for the `jti` replay cache that every node shares) and the time; the answer is the
proof key's RFC 7638 thumbprint (`jkt`), which is what tokens are bound to.

Decisions, and why:
- Algorithms: ES256, PS256 and EdDSA, the set FAPI 2.0 allows, for every client. RS256 is
  refused even for basic clients: DPoP has no legacy callers to keep working, every library
  that signs RS256 also signs PS256, and one list keeps `dpop_signing_alg_values_supported`
  honest. `none` and the HMAC algorithms can never prove possession of a public key.
- Keys: RSA of at least 2048 bits, EC only on P-256 (what ES256 means), OKP Ed25519 or Ed448;
  the `jwk` header must be a public key (any private member refuses the proof, since a client
  that sends its private key has no key left to prove).
- Freshness: `iat` at most 60 s old and at most 15 s ahead of our clock. FAPI 2.0 requires
  ±10 s of skew to be accepted and ±1 h refused; 60 s in the past also covers a slow network
  or a retry, and a short window keeps the replay cache small. Each `jti` is remembered for
  the whole time a proof could still be accepted (see REPLAY_TTL), per key, with `store.add`,
  which is atomic on Redis: a proof works once across all nodes.
- `htu` is compared with the issuer's URL for the endpoint (issuer + path), never with the
  Host header of the request, so the answer is the same behind a proxy; scheme and host are
  compared case-insensitively and default ports are ignored. An `htu` that carries a query or
  fragment is refused: RFC 9449 4.2 says the claim has none.
- Server nonces (RFC 9449 8 and 9): an HMAC of the current 5-minute window under a key
  derived from IDP_SECRET_KEY, so every node makes and accepts the same nonces with no shared
  state; the current and the previous window are accepted (a nonce lives 5 to 10 minutes).
  A proof that carries a nonce always has it checked; one without a nonce is refused only
  when the server requires nonces (the caller says so).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from idp.store import EphemeralStore

INVALID_PROOF = "invalid_dpop_proof"
USE_NONCE = "use_dpop_nonce"

TYP = "dpop+jwt"
ALGORITHMS = ("ES256", "PS256", "EdDSA")
MAX_PROOF_LENGTH = 4096
"""A proof with an 8192-bit RSA key is about 3.6 kB; anything longer is not a proof."""
MAX_JTI_LENGTH = 128
MAX_NONCE_LENGTH = 128
MAX_URL_LENGTH = 2048
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
MAX_AGE = 60
"""Seconds a proof's `iat` may lie in the past."""
MAX_FUTURE = 15
"""Seconds a proof's `iat` may lie in the future (FAPI 2.0: +10 s must be accepted)."""
REPLAY_TTL = MAX_AGE + MAX_FUTURE + 5
"""A proof accepted now could be accepted until at most MAX_AGE + MAX_FUTURE seconds later."""
NONCE_WINDOW = 300
NONCE_KEY_LABEL = b"idp/dpop-nonce/v1"
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class DpopError(Exception):
    """A proof that is refused; `error` is `invalid_dpop_proof` or `use_dpop_nonce`.

    The description says which rule failed and never quotes the proof or a token."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ProofRequest:
    """What the checks read: the request as the issuer sees it, and the server's policy."""

    headers: Sequence[str]
    method: str
    url: str
    store: EphemeralStore
    now: int
    access_token: str | None = None
    nonces: Collection[str] = ()
    nonce_required: bool = False


@dataclass
class Proof:
    """What the checks fill in, in order: the raw proof, its parts, its key, its thumbprint."""

    raw: str = ""
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    key: ECKey | RSAKey | OKPKey | None = None
    jkt: str = ""


_KINDS: dict[str, type[ECKey] | type[RSAKey] | type[OKPKey]] = {
    "ES256": ECKey, "PS256": RSAKey, "EdDSA": OKPKey}


def _invalid(description: str) -> DpopError:
    return DpopError(INVALID_PROOF, description)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        raise _invalid(f"the DPoP proof {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise _invalid(f"the DPoP proof {what} is not a JSON object")
    return value


def access_token_hash(access_token: str) -> str:
    """RFC 9449 4.2 `ath`: base64url(SHA-256(the ASCII access token))."""
    return b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


def normalise_url(url: str) -> str | None:
    """scheme://host[:port]/path with scheme and host in lower case and a default port dropped;
    None when `url` is not an absolute http(s) URL. Query and fragment are not kept."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


# --- the checks, in order ----------------------------------------------------------------------


def check_single_header(req: ProofRequest, proof: Proof) -> None:
    """RFC 9449 4.3 (1): exactly one DPoP header."""
    if len(req.headers) != 1:
        raise _invalid("send exactly one DPoP header" if req.headers
                       else "a DPoP proof is required")
    proof.raw = req.headers[0].strip()


def check_compact_jws(req: ProofRequest, proof: Proof) -> None:
    """(2) a compact JWS of bounded length: three base64url parts, header and claims JSON."""
    if len(proof.raw) > MAX_PROOF_LENGTH:
        raise _invalid(f"the DPoP proof is longer than {MAX_PROOF_LENGTH} characters")
    parts = proof.raw.split(".")
    # An empty signature is let through to be refused by name: alg none (check_alg).
    if len(parts) != 3 or not parts[0] or not parts[1] or "=" in proof.raw:
        raise _invalid("the DPoP proof is not a compact JWS")
    proof.header = _b64_json(parts[0], "header")
    proof.claims = _b64_json(parts[1], "payload")


def check_typ(req: ProofRequest, proof: Proof) -> None:
    """(4) `typ` is dpop+jwt, so no other kind of JWT can pass for a proof."""
    if proof.header.get("typ") != TYP:
        raise _invalid(f"the DPoP proof header typ must be {TYP}")


def check_alg(req: ProofRequest, proof: Proof) -> None:
    """(5) an asymmetric algorithm we allow; never none or HMAC."""
    if proof.header.get("alg") not in ALGORITHMS:
        raise _invalid(f"the DPoP proof alg must be one of {', '.join(ALGORITHMS)}")
    if "crit" in proof.header:
        raise _invalid("the DPoP proof header has crit members this server does not know")


def check_jwk(req: ProofRequest, proof: Proof) -> None:
    """(7) `jwk` is a public key (no private member) of the kind `alg` needs."""
    jwk = proof.header.get("jwk")
    if not isinstance(jwk, dict):
        raise _invalid("the DPoP proof header has no jwk")
    if PRIVATE_JWK_MEMBERS & set(jwk):
        raise _invalid("the DPoP proof jwk must be a public key (it has private members)")
    if jwk.get("kty") != _KINDS[proof.header["alg"]].key_type:
        raise _invalid("the DPoP proof jwk does not fit its alg")


def _rsa_bits(jwk: dict[str, Any]) -> int:
    n = jwk.get("n")
    if not isinstance(n, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def check_key_strength(req: ProofRequest, proof: Proof) -> None:
    """RSA of 2048 to 8192 bits, EC on P-256 (what ES256 means), OKP on Ed25519 or Ed448;
    judged before the key is imported, so a weak key costs no work and no library warning."""
    jwk = proof.header["jwk"]
    kty = jwk["kty"]
    if kty == "RSA" and not MIN_RSA_BITS <= _rsa_bits(jwk) <= MAX_RSA_BITS:
        raise _invalid(f"the DPoP proof RSA key must have {MIN_RSA_BITS} to "
                       f"{MAX_RSA_BITS} bits")
    if kty == "EC" and jwk.get("crv") != "P-256":
        raise _invalid("the DPoP proof EC key must be on P-256 for ES256")
    if kty == "OKP" and jwk.get("crv") not in ("Ed25519", "Ed448"):
        raise _invalid("the DPoP proof OKP key must be Ed25519 or Ed448")
    try:
        key = _KINDS[proof.header["alg"]].import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        raise _invalid("the DPoP proof jwk is not a valid public key") from None
    raw = key.raw_value
    if key.is_private or not isinstance(raw, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
                                        | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raise _invalid("the DPoP proof jwk must be a public signing key")
    proof.key = key


class _Registry(JWSRegistry):
    """Exactly our algorithms, headers big enough for an RSA `jwk`, and no warning for EdDSA:
    FAPI 2.0 names it, and the alg check has already decided what is allowed."""

    max_header_length = MAX_PROOF_LENGTH
    max_signature_length = 1024

    def get_alg(self, name: str) -> Any:
        if name not in ALGORITHMS:
            return super().get_alg(name)
        return self.algorithms[name]


_REGISTRY = _Registry(algorithms=ALGORITHMS, strict_check_header=False)


def check_signature(req: ProofRequest, proof: Proof) -> None:
    """(6, 8) the signature verifies with the key in the header; the thumbprint follows."""
    assert proof.key is not None
    try:
        jws.deserialize_compact(proof.raw, proof.key, algorithms=[proof.header["alg"]],
                                registry=_REGISTRY)
    except (JoseError, ValueError, TypeError):
        raise _invalid("the DPoP proof signature does not verify with its jwk") from None
    proof.jkt = proof.key.thumbprint()


def check_jti(req: ProofRequest, proof: Proof) -> None:
    """(9) a `jti` of bounded length; its uniqueness is checked last (check_replay)."""
    jti = proof.claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise _invalid(f"the DPoP proof needs a jti of 1 to {MAX_JTI_LENGTH} characters")


def check_htm(req: ProofRequest, proof: Proof) -> None:
    """(10) `htm` is the method of this request."""
    if proof.claims.get("htm") != req.method.upper():
        raise _invalid("the DPoP proof htm does not match the request method")


def check_htu(req: ProofRequest, proof: Proof) -> None:
    """(11) `htu` is the URL of this request as the issuer names it, with no query or
    fragment; scheme and host case and a default port do not matter."""
    htu = proof.claims.get("htu")
    if not isinstance(htu, str) or not htu or len(htu) > MAX_URL_LENGTH:
        raise _invalid("the DPoP proof needs an htu")
    if "?" in htu or "#" in htu:
        raise _invalid("the DPoP proof htu must not have a query or fragment")
    got = normalise_url(htu)
    if got is None or got != normalise_url(req.url):
        raise _invalid("the DPoP proof htu does not match the request URL")


def check_iat(req: ProofRequest, proof: Proof) -> None:
    """(12) `iat` within MAX_AGE seconds in the past and MAX_FUTURE in the future."""
    iat = proof.claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _invalid("the DPoP proof needs a numeric iat")
    if iat < req.now - MAX_AGE:
        raise _invalid(f"the DPoP proof is too old (iat more than {MAX_AGE} s ago)")
    if iat > req.now + MAX_FUTURE:
        raise _invalid(f"the DPoP proof iat is more than {MAX_FUTURE} s in the future")


def check_ath(req: ProofRequest, proof: Proof) -> None:
    """(13) with an access token, `ath` is its hash, so the proof is for this token only."""
    if req.access_token is None:
        return
    ath = proof.claims.get("ath")
    if not isinstance(ath, str):
        raise _invalid("the DPoP proof needs ath (the hash of the access token)")
    if not hmac.compare_digest(ath.encode(), access_token_hash(req.access_token).encode()):
        raise _invalid("the DPoP proof ath does not match the access token")


def check_nonce(req: ProofRequest, proof: Proof) -> None:
    """(RFC 9449 8, 9) a nonce we issued recently; missing only when none is required."""
    nonce = proof.claims.get("nonce")
    if nonce is None:
        if req.nonce_required:
            raise DpopError(USE_NONCE, "this server requires a DPoP nonce in the proof")
        return
    if (not isinstance(nonce, str) or len(nonce) > MAX_NONCE_LENGTH
            or not any(hmac.compare_digest(nonce.encode(), n.encode()) for n in req.nonces)):
        raise DpopError(USE_NONCE, "the DPoP nonce is unknown or has expired")


def check_replay(req: ProofRequest, proof: Proof) -> None:
    """(9) the `jti` was not seen before for this key, on any node. Last, so a proof refused
    for another reason does not use up its jti."""
    key = "dpop-jti:" + hashlib.sha256(f"{proof.jkt}:{proof.claims['jti']}".encode()).hexdigest()
    if not req.store.add(key, {"seen": 1}, REPLAY_TTL):
        raise _invalid("the DPoP proof was already used (jti replay)")


CHECKS: tuple[Callable[[ProofRequest, Proof], None], ...] = (
    check_single_header,
    check_compact_jws,
    check_typ,
    check_alg,
    check_jwk,
    check_key_strength,
    check_signature,
    check_jti,
    check_htm,
    check_htu,
    check_iat,
    check_ath,
    check_nonce,
    check_replay,
)


def validate_proof(req: ProofRequest) -> str:
    """Run every check in order; the proof key's thumbprint (RFC 7638, SHA-256, base64url)."""
    proof = Proof()
    for check in CHECKS:
        check(req, proof)
    return proof.jkt


# --- server nonces -----------------------------------------------------------------------------


def nonce_key(secret_key: str) -> bytes:
    """A key for nonces only, derived from IDP_SECRET_KEY, so every node makes the same ones."""
    return hmac.new(secret_key.encode(), NONCE_KEY_LABEL, hashlib.sha256).digest()


def nonce_for(key: bytes, now: int, windows_back: int = 0) -> str:
    """The nonce of the window `now` falls in (or of one `windows_back` before it)."""
    window = int(now) // NONCE_WINDOW - windows_back
    return b64url(hmac.new(key, str(window).encode(), hashlib.sha256).digest()[:24])


def accepted_nonces(key: bytes, now: int) -> frozenset[str]:
    """The current window's nonce and the previous one's: a nonce lives 5 to 10 minutes."""
    return frozenset({nonce_for(key, now), nonce_for(key, now, 1)})
