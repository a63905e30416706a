"""The citizen's side of credentials/authorize: a SAD for a citizen credential is given only
after the person confirmed exactly these hashes, for this agency and credential, with their
own authentication (SCAL2 sole control).

The first call stores a pending confirmation (ephemeral, `CONFIRM_TTL`) keyed by a random id and
answers 202 with the `confirmation_url` the agency sends the person to. Once the person has
confirmed there, the agency's next call with the same hashes finds the confirmation (keyed by
a digest of client, person, credential and the sorted hash list), takes it atomically and gets
the SAD. A confirmation is used once.

The confirmation page itself (the passkey ceremony bound to the hashes, with
`signing.sole_control`) is `idp.csc.confirm_views`.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import jsonify
from flask.typing import ResponseReturnValue

from idp.csc import service as csc
from idp.provider import current_provider

CONFIRM_TTL = 300


def binding(client_id: str, person_id: str, credential_id: str, hash_name: str,
            digests: list[bytes]) -> str:
    """One digest naming exactly what is being confirmed (order of hashes does not matter)."""
    parts = [client_id, person_id, credential_id, hash_name,
             *sorted(csc.b64s(d) for d in digests)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def confirmed_key(bound: str) -> str:
    return f"csc:confirmed:{bound}"


def authorize_citizen(client_id: str, person_id: str, credential_id: str, hash_name: str,
                      digests: list[bytes], count: int) -> ResponseReturnValue:
    p = current_provider()
    bound = binding(client_id, person_id, credential_id, hash_name, digests)
    if p.store.take(confirmed_key(bound)) is not None:
        sad = csc.Sad(credential_id, client_id, person_id, hash_name,
                      tuple(csc.b64s(d) for d in digests), count)
        return jsonify({"SAD": csc.issue_sad(p.store, sad), "expiresIn": csc.SAD_TTL})
    pending_id = secrets.token_urlsafe(24)
    p.store.put(f"csc:pending:{pending_id}", {
        "binding": bound, "client_id": client_id, "person_id": person_id,
        "credential_id": credential_id, "hash_name": hash_name,
        "hashes": [csc.b64s(d) for d in digests]}, CONFIRM_TTL)
    response = jsonify({
        "error": "confirmation_required",
        "error_description": "the person must confirm these hashes with their passkey at "
                             "confirmation_url, then call credentials/authorize again with "
                             "the same hashes",
        "confirmation_url": f"{p.issuer}/csc/v2/confirm/{pending_id}",
        "expiresIn": CONFIRM_TTL})
    response.status_code = 202
    response.headers["Cache-Control"] = "no-store"
    return response
