"""Subject identifiers (OIDC Core 8): pairwise per sector by default, public on request.

A pairwise `sub` is a keyed hash of the sector and the person, so two agencies in different
sectors cannot join their records, and no one without the key can reverse it to the person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from idp.db import Client


def subject_key(secret_key: str) -> bytes:
    """The key for pairwise subjects, derived from the service secret under its own label."""
    return hmac.new(secret_key.encode(), b"idp/pairwise-subject/v1", hashlib.sha256).digest()


def sector_of(client: Client) -> str:
    """The sector: the host of `sector_identifier_uri`, else of the (single) redirect URI host."""
    uri = client.sector_identifier_uri or (client.redirect_uris[0] if client.redirect_uris else "")
    return urlsplit(uri).hostname or client.client_id


def subject_for(client: Client, person_id: str, key: bytes) -> str:
    if client.subject_type == "public":
        return person_id
    mac = hmac.new(key, f"{sector_of(client)}|{person_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
