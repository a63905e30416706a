"""Encrypting ID tokens and userinfo responses to an agency (OIDC Core 10.2, 16.14; OIDC
Registration 2: `id_token_encrypted_response_alg`/`_enc`, `userinfo_encrypted_response_alg`/`_enc`).

What we send is a nested JWT: signed by us first, so the agency can still prove who issued it
after decrypting, then encrypted to the agency's own public key with JWE compact serialization,
`ECDH-ES+A256KW` key agreement and the content cipher it registered (`A256GCM` or
`A256CBC-HS512`), with `cty: "JWT"` saying that a JWT is inside (OIDC Core 10.2 and RFC 7519 5.2).

The recipient key is an EC key from the agency's `jwks` (checked at registration) or its
`jwks_uri` (fetched when encrypting, briefly cached): one marked `use: enc`, or with no `use`
at all, on P-256, P-384 or P-521, and not pinned to another algorithm. Its `kid` (if any) goes
into the JWE header, so an agency holding several keys knows which one to decrypt with.

Nothing here ever falls back to sending plaintext: when the key cannot be had, the caller gets
an `EncryptionKeyError` and must fail the response. Choosing the key and encrypting are pure
functions; only `client_encryption_key` reads the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from idp.db import Client
from idp.fetch import FetchError, fetch_jwks
from idp.oidc.client_keys import WeakKeyError, check_key_strength

KEY_AGREEMENT = "ECDH-ES+A256KW"
CONTENT_ENCRYPTIONS = ("A256GCM", "A256CBC-HS512")
ENCRYPTION_CURVES = frozenset({"P-256", "P-384", "P-521"})
# joserfc's default registry allows only its "recommended" algorithms; naming exactly ours
# keeps anything else (RSA1_5, direct encryption, ...) out even if the registry changes.
_REGISTRY = jwe.JWERegistry(algorithms=[KEY_AGREEMENT, *CONTENT_ENCRYPTIONS])


class EncryptionKeyError(ValueError):
    """The agency's encryption key cannot be had or used. The message is safe to return to
    the agency (it names the registration problem, never key material) and starts with
    `invalid_client_metadata`, the RFC 7591 name of what the agency must fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid_client_metadata: {reason}")


def choose_recipient_key(jwks: Mapping[str, Any]) -> ECKey:
    """The agency key to encrypt to: the first EC key for encryption (explicit `use: enc`
    first, then keys with no `use`), on a curve ECDH-ES works with, strong enough, and not
    pinned by `alg` to something other than our key agreement."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise EncryptionKeyError("the client's JWKS has no keys")
    candidates = [k for k in keys if isinstance(k, dict) and k.get("kty") == "EC"
                  and k.get("crv") in ENCRYPTION_CURVES and k.get("use", "enc") == "enc"
                  and k.get("alg", KEY_AGREEMENT) == KEY_AGREEMENT]
    candidates.sort(key=lambda k: 0 if k.get("use") == "enc" else 1)
    for data in candidates:
        try:
            check_key_strength(data)
            return ECKey.import_key({k: v for k, v in data.items()
                                     if k not in ("key_ops", "x5c")})  # type: ignore[arg-type]
        except (WeakKeyError, JoseError, ValueError, TypeError):
            continue
    raise EncryptionKeyError("the client's JWKS has no usable EC key for encryption "
                             "(use enc, P-256, P-384 or P-521)")


def client_encryption_key(client: Client,
                          fetch: Callable[[str], dict[str, Any]] = fetch_jwks) -> ECKey:
    """The client's encryption key, from its inline `jwks` or fetched from its `jwks_uri`."""
    if client.jwks:
        return choose_recipient_key(client.jwks)
    if not client.jwks_uri:
        raise EncryptionKeyError("the client has neither jwks nor jwks_uri")
    try:
        return choose_recipient_key(fetch(client.jwks_uri))
    except FetchError as exc:
        raise EncryptionKeyError(f"the client's jwks_uri cannot be read ({exc})") from None


def encrypt(plaintext: str | bytes, key: ECKey, enc: str, *, cty: str | None = None) -> str:
    """JWE compact serialization of `plaintext` to `key` with ECDH-ES+A256KW and `enc`."""
    if enc not in CONTENT_ENCRYPTIONS:
        raise EncryptionKeyError(f"unsupported content encryption {enc!r}")
    protected: dict[str, Any] = {"alg": KEY_AGREEMENT, "enc": enc}
    if key.kid:
        protected["kid"] = key.kid
    if cty:
        protected["cty"] = cty
    return jwe.encrypt_compact(protected, plaintext, key, registry=_REGISTRY)


def encrypt_jwt(signed_jwt: str, key: ECKey, enc: str) -> str:
    """A nested JWT: the signed JWT, encrypted, with `cty: "JWT"` (RFC 7519 5.2)."""
    return encrypt(signed_jwt, key, enc, cty="JWT")


def id_token_encrypted(client: Client) -> bool:
    """Whether this client's ID tokens are encrypted (it registered a key agreement)."""
    return bool(client.id_token_encrypted_response_alg)


def userinfo_encrypted(client: Client) -> bool:
    """Whether this client's userinfo responses are encrypted."""
    return bool(client.userinfo_encrypted_response_alg)
