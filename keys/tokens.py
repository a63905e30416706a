"""Token signing keys: generation, and the key ring that signs and publishes them.

The key ring is the interface the provider signs through (`KeySource`); where the private keys live
(database today, encrypted or in an HSM with the key lifecycle work) is hidden behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey

SUPPORTED_ALGS = ("ES256", "RS256")


def generate_private_jwk(alg: str) -> dict[str, Any]:
    """A new private key as a JWK dict with `kid`, `alg` and `use` set."""
    key: Key
    if alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    elif alg in ("RS256", "PS256"):
        key = RSAKey.generate_key(2048, private=True)
    elif alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519", private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg}")
    data = key.as_dict(private=True)
    data.update(kid=key.thumbprint(), alg=alg, use="sig")
    return data


class KeySource(Protocol):
    def sign_jwt(self, claims: dict[str, Any], alg: str, typ: str | None = None) -> str: ...
    def public_jwks(self) -> dict[str, Any]: ...
    def verify_jwt(self, token: str, algs: Iterable[str] | None = None) -> jwt.Token: ...


class KeyRing:
    """Signs with the newest key of each algorithm; verifies with any key it holds."""

    def __init__(self, private_jwks: Iterable[dict[str, Any]]) -> None:
        self._keys: dict[str, Key] = {}
        self._by_alg: dict[str, Key] = {}
        for data in private_jwks:
            key = KeySet.import_key_set({"keys": [data]}).keys[0]
            self._keys[data["kid"]] = key
            self._by_alg[data["alg"]] = key

    @property
    def algorithms(self) -> list[str]:
        return sorted(self._by_alg)

    def sign_jwt(self, claims: dict[str, Any], alg: str, typ: str | None = None) -> str:
        key = self._by_alg.get(alg)
        if key is None:
            raise ValueError(f"no signing key for {alg}")
        header: dict[str, Any] = {"alg": alg, "kid": key.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key, algorithms=[alg])

    def public_jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self._keys.items():
            pub = key.as_dict(private=False)
            pub.update(kid=kid, use="sig", alg=key.alg or "")
            keys.append(pub)
        return {"keys": keys}

    def verify_jwt(self, token: str, algs: Iterable[str] | None = None) -> jwt.Token:
        """Verify a JWT we signed; raises joserfc errors on any failure."""
        allowed = list(algs) if algs else self.algorithms
        return jwt.decode(token, KeySet(list(self._keys.values())), algorithms=allowed)
