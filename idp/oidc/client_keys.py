"""How strong an agency's public key must be, and which algorithms may sign its client
assertions (FAPI 2.0 Security Profile 5.4: RSA keys of at least 2048 bits, elliptic curve keys
of at least 224 bits; only PS256, ES256 and EdDSA for the high-assurance profile).

The key rule holds for every client, not only fapi2 ones: a 1024-bit RSA key or an unknown
curve is unsafe whoever holds it, so registration (inline `jwks`) refuses it, and the token
endpoint refuses it again for keys it reads from a `jwks_uri`, which may change at any time.

Plain Python (no Flask): `idp.clients` checks registrations with it, `idp.oidc.server` checks
client assertions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

MIN_RSA_BITS = 2048
MIN_EC_BITS = 224
# The curves joserfc can use, by field size; an unlisted curve cannot be judged, so it is refused.
EC_CURVE_BITS = {"P-256": 256, "P-384": 384, "P-521": 521, "secp256k1": 256}
OKP_CURVES = frozenset({"Ed25519", "Ed448", "X25519", "X448"})

# What may sign a client assertion. HS256 (client_secret_jwt) is never accepted: clients here
# authenticate with a secret sent as is, or with their own key pair. RS256 only outside fapi2.
BASIC_ASSERTION_ALGS = ("ES256", "PS256", "RS256", "EdDSA")
FAPI2_ASSERTION_ALGS = ("PS256", "ES256", "EdDSA")


class WeakKeyError(ValueError):
    """A key too weak (or of a kind this provider cannot judge) to trust; the message says
    why in words and never echoes the key material."""


def _b64_int_bits(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise WeakKeyError("the RSA key has no modulus")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise WeakKeyError("the RSA key's modulus is not base64url") from None
    return int.from_bytes(raw, "big").bit_length()


def check_key_strength(jwk: Mapping[str, Any]) -> None:
    """Refuse a public JWK weaker than FAPI 2.0 allows: RSA under 2048 bits, an elliptic
    curve under 224 bits or unknown, an unknown OKP curve, or any other key type."""
    kty = jwk.get("kty")
    if kty == "RSA":
        bits = _b64_int_bits(jwk.get("n"))
        if bits < MIN_RSA_BITS:
            raise WeakKeyError(f"RSA keys must have at least {MIN_RSA_BITS} bits "
                               f"(this one has {bits})")
    elif kty == "EC":
        curve = jwk.get("crv")
        field_bits = EC_CURVE_BITS.get(curve) if isinstance(curve, str) else None
        if field_bits is None:
            raise WeakKeyError("EC keys must use P-256, P-384, P-521 or secp256k1")
        if field_bits < MIN_EC_BITS:  # pragma: no cover (every listed curve is strong enough)
            raise WeakKeyError(f"EC keys must have at least {MIN_EC_BITS} bits")
    elif kty == "OKP":
        if jwk.get("crv") not in OKP_CURVES:
            raise WeakKeyError("OKP keys must use Ed25519, Ed448, X25519 or X448")
    else:
        raise WeakKeyError("keys must be of type RSA, EC or OKP")


def assertion_algorithms(profile: str, registered: str | None) -> tuple[str, ...]:
    """The `alg` values a client's assertion may use: the profile's list, narrowed to the one
    the client registered as `token_endpoint_auth_signing_alg` (when it did), so a key
    compromise under a weaker algorithm the agency never uses cannot be exploited."""
    allowed = FAPI2_ASSERTION_ALGS if profile == "fapi2" else BASIC_ASSERTION_ALGS
    if registered:
        return (registered,) if registered in allowed else ()
    return allowed
