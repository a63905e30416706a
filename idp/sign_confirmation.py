"""The passkey confirmation of exact documents (sole control), shared by the signing page
(`idp.sign_views`) and the CSC confirmation page (`idp.csc.confirm_views`).

Both pages run the same JSON ceremony with `static/passkey.js`: `options` issues a
sole-control challenge (`signing.sole_control`) over the hashes of what will be signed and
offers the person's own passkeys; `confirm` redeems that challenge against the documents
recomputed on the server and verifies the assertion. Only *what* is confirmed differs, so
everything else lives here once.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from idp import ratelimit
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.passkey_views import (
    MAX_ASSERTION_BYTES,
    check_csrf_header,
    json_body,
    json_error,
    json_response,
    rate_limited,
    record_event,
    relying_party_for,
    user_handle_key,
)
from idp.provider import Provider
from signing import sole_control


def ceremony_session(p: Provider, limit: ratelimit.Limit) -> sso.SsoSession | Response:
    """The preamble of every JSON ceremony endpoint, in order: the per-address rate limit,
    the CSRF header, a logged-in session. Returns the session, or the response to send."""
    limited = rate_limited(p, limit, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    _handle, current = flow.current_session(p)
    if current is None:
        return json_error("passkey_login_required", 401)
    return current


def options_response(p: Provider, current: sso.SsoSession, signer: str, hashes: list[str],
                     context: dict[str, str], ttl: int = sole_control.CHALLENGE_TTL,
                     ) -> Response:
    """WebAuthn request options whose challenge is the sole-control challenge over `hashes`,
    offering only the person's own passkeys (user verification required)."""
    with p.db.session() as s:
        allowed = [(r.credential_id, list(r.transports))
                   for r in passkeys.credentials_of(s, current.person_id)]
    if not allowed:
        return json_error("sign_no_passkey", 403)
    challenge = sole_control.issue(p.store, signer, hashes, context, ttl=ttl)
    publickey, _random = passkeys.authentication_options(relying_party_for(p), allowed)
    publickey["challenge"] = passkeys.b64url(challenge)
    return json_response({"publicKey": publickey})


def sent_assertion() -> Any:
    """The `credential` member of the bounded JSON body (None when absent or malformed)."""
    body = json_body(MAX_ASSERTION_BYTES)
    return body.get("credential") if body else None


def confirm_documents(p: Provider, credential: Any, current: sso.SsoSession, signer: str,
                      documents: list[bytes], context: dict[str, str],
                      ) -> passkeys.StoredCredential:
    """The passkey assertion that confirms exactly these documents: the challenge is
    redeemed once and recomputed from `documents`, the passkey must be the person's own with
    user verification, and its sign count must move on. Raises passkeys.PasskeyError,
    carrying the audit event to record."""
    if not isinstance(credential, dict):
        raise passkeys.PasskeyError("passkey_bad_request")
    challenge_b64 = passkeys.client_data_of(credential).get("challenge")
    if not isinstance(challenge_b64, str) or len(challenge_b64) > 200:
        raise passkeys.PasskeyError("passkey_bad_request", reason="challenge")
    challenge = passkeys.b64url_decode(challenge_b64)
    try:
        sole_control.redeem(p.store, challenge, signer, documents, context)
    except sole_control.SoleControlError as exc:
        raise passkeys.PasskeyError("sign_confirmation_invalid",
                                    audit="signing.confirmation_refused",
                                    reason=exc.code) from None
    with p.db.session() as s:
        row = passkeys.find_credential(s, passkeys.credential_id_of(credential))
        stored = passkeys.StoredCredential.of(row) if row else None
    if stored is None or stored.person_id != current.person_id:
        raise passkeys.PasskeyError("passkey_unknown", audit="signing.confirmation_refused",
                                    reason="unknown_credential")
    assertion = passkeys.verify_assertion(
        relying_party_for(p), credential, challenge, stored,
        passkeys.user_handle(user_handle_key(p), stored.person_id))
    with p.db.session() as s:
        if not passkeys.record_use(s, stored, assertion):
            raise passkeys.PasskeyError("passkey_clone_suspected",
                                        audit="passkey.clone_suspected",
                                        reason="sign_count_race")
    return stored


def refused(p: Provider, exc: passkeys.PasskeyError, person_id: str,
            client_id: str | None = None) -> Response:
    """A failed confirmation: its audit event, then the JSON error (a confirmation that does
    not match the documents is 403, like any refusal to act)."""
    if exc.audit:
        record_event(p, exc.audit, person_id, client_id, reason=exc.reason)
    status = 403 if exc.code == "sign_confirmation_invalid" else exc.status
    return json_error(exc.code, status, **exc.fmt)
