"""Build DPoP proofs (RFC 9449) as a client would, with joserfc, including broken ones.

`DpopKey.proof(...)` makes a valid proof; its keyword arguments override or drop any header
member or claim (None drops it), and `sign_with` signs with another key than the one in the
header, so each negative test changes exactly one thing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from keys.jws import b64url

Key = ECKey | RSAKey | OKPKey
_ALG = {"EC": "ES256", "RSA": "PS256", "OKP": "EdDSA"}


class _AnyRegistry(JWSRegistry):
    """Signs whatever a test asks for (HS256 included), without joserfc's warnings."""

    max_header_length = 8192
    max_signature_length = 4096

    def get_alg(self, name: str) -> Any:
        return self.algorithms[name]


_REGISTRY = _AnyRegistry(strict_check_header=False)


def ath(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode()).digest())


def _sign(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """A compact JWS; `alg: none` gets an empty signature, as an attacker would send it."""
    if header.get("alg") == "none":
        h = b64url(json.dumps(header).encode())
        c = b64url(json.dumps(claims).encode())
        return f"{h}.{c}."
    return jws.serialize_compact(header, json.dumps(claims).encode(), key,
                                 algorithms=[header["alg"]], registry=_REGISTRY)


@dataclass
class DpopKey:
    """A client's DPoP key pair."""

    key: Key = field(default_factory=lambda: ECKey.generate_key("P-256"))

    @classmethod
    def ec(cls) -> DpopKey:
        return cls(ECKey.generate_key("P-256"))

    @classmethod
    def rsa(cls, bits: int = 2048) -> DpopKey:
        """An RSA key; below 2048 bits joserfc warns, which is what the weak-key test wants."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            return cls(RSAKey.generate_key(bits, auto_kid=False))

    @classmethod
    def ed25519(cls) -> DpopKey:
        return cls(OKPKey.generate_key("Ed25519"))

    @property
    def alg(self) -> str:
        return _ALG[self.key.key_type]

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(self, method: str, url: str, access_token: str | None = None,
              nonce: str | None = None, sign_with: Any = None, **override: Any) -> str:
        """A proof for `method url`; `override` sets header members (typ, alg, jwk) and
        claims (jti, htm, htu, iat, ath, nonce); a value of None removes the member."""
        header: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url,
                                  "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = ath(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        for name, value in override.items():
            target = header if name in ("typ", "alg", "jwk", "kid", "crit") else claims
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
        return _sign(header, claims, sign_with if sign_with is not None else self.key)
