"""An agency's side of encrypted ID tokens and userinfo, for tests: its EC key agreement key,
the registration metadata that asks for encryption, and opening what the provider sent (decrypt
with the agency's private key, then verify the inner JWT with the provider's published keys)."""

from __future__ import annotations

from typing import Any

import requests
from joserfc import jwe, jwt
from joserfc.jwk import ECKey, KeySet

ALG = "ECDH-ES+A256KW"
REGISTRY = jwe.JWERegistry(algorithms=[ALG, "A256GCM", "A256CBC-HS512"])


def encryption_key(kid: str = "agency-enc-1") -> ECKey:
    """A fresh P-256 key for ECDH-ES, marked for encryption."""
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "enc"})


def encrypted_metadata(key: ECKey, enc: str = "A256GCM", *, id_token: bool = True,
                       userinfo: bool = True) -> dict[str, Any]:
    """Registration metadata asking for encrypted ID tokens and/or userinfo to `key`."""
    meta: dict[str, Any] = {"jwks": {"keys": [key.as_dict(private=False)]}}
    if id_token:
        meta |= {"id_token_encrypted_response_alg": ALG, "id_token_encrypted_response_enc": enc}
    if userinfo:
        meta |= {"userinfo_encrypted_response_alg": ALG, "userinfo_encrypted_response_enc": enc}
    return meta


def decrypt(token: str, key: ECKey) -> tuple[dict[str, Any], str]:
    """The JWE's protected header and its plaintext (the inner JWT)."""
    opened = jwe.decrypt_compact(token, key, registry=REGISTRY)
    assert opened.plaintext is not None
    return dict(opened.headers()), opened.plaintext.decode()


def provider_keys(base: str) -> KeySet:
    return KeySet.import_key_set(requests.get(f"{base}/jwks", timeout=5).json())


def open_nested(token: str, key: ECKey, base: str) -> dict[str, Any]:
    """Decrypt a nested JWT and verify its signature with the provider's JWKS; the claims."""
    header, inner = decrypt(token, key)
    assert header["alg"] == ALG and header["cty"] == "JWT", header
    return dict(jwt.decode(inner, provider_keys(base)).claims)


def is_jwe(token: str) -> bool:
    """Five dot-separated parts: a JWE compact serialization (a JWS has three)."""
    return token.count(".") == 4
