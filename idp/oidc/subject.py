"""Subject identifiers (OIDC Core 8): pairwise per sector by default, public on request.

A pairwise `sub` is a keyed hash of the sector and the person, so two agencies in different
sectors cannot join their records, and no one without the key can reverse it to the person.
"""

from __future__ import annotations

import hashlib
import hmac

from idp.clients import sector_of
from idp.db import Client
from keys.jws import b64url


def subject_key(secret_key: str) -> bytes:
    """The key for pairwise subjects, derived from the service secret under its own label."""
    return hmac.new(secret_key.encode(), b"idp/pairwise-subject/v1", hashlib.sha256).digest()


def subject_for(client: Client, person_id: str, key: bytes) -> str:
    if client.subject_type == "public":
        return person_id
    mac = hmac.new(key, f"{sector_of(client)}|{person_id}".encode(), hashlib.sha256).digest()
    return b64url(mac)
