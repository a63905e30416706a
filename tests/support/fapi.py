"""Client-side pieces of a FAPI 2.0-style agency for tests: a key pair, private_key_jwt client
assertions (RFC 7523) and the body parameters that carry one. Plain functions over joserfc,
so any test (token endpoint, PAR, DPoP) can act as such an agency."""

from __future__ import annotations

import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def ec_key(kid: str = "agency-1") -> ECKey:
    """A fresh P-256 key with a kid; register `key.as_dict(private=False)` in the client's jwks."""
    return ECKey.generate_key("P-256", parameters={"kid": kid})


def client_assertion(key: ECKey, client_id: str, aud: str, alg: str = "ES256",
                     **overrides: Any) -> str:
    """A signed client assertion living 60 s, with a fresh jti; `overrides` replace or add
    claims (an `exp` in the past, a wrong `iss`, ...)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": aud,
                              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    claims.update(overrides)
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


def assertion_params(key: ECKey, client_id: str, aud: str, **overrides: Any) -> dict[str, str]:
    """The form parameters that authenticate a request with private_key_jwt."""
    return {"client_id": client_id, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(key, client_id, aud, **overrides)}
