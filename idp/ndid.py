"""NDID login glue: settings to client, the callback secret, and request state shared by processes.

`federation.ndid` knows the NDID API and how callbacks fold into a request's state; this module
keeps that state where every process of the provider can see it, the ephemeral store, because
the process that takes a callback from the node is rarely the one serving the person's waiting
page. No Flask here: the views in `idp.authn.ndid_views` call these functions with the settings
and the store.

Concurrency without locks. Callbacks may come twice, out of order, or before the create call
has returned its 202, and several processes may handle them at the same moment. So nothing is
read-modified-written:
- each callback is appended to its request's list by claiming the first free slot with
  `store.add` (set-if-absent is atomic), so two writers never overwrite each other, and an
  identical callback already in a slot is not stored again;
- a reader folds every stored callback with `apply_callback`, which is idempotent and
  orders statuses by block height, so the order of the slots does not matter;
- the request's own record (`attempt`) is written only by the person's requests (create,
  cancel), never by callbacks;
- completing the login is guarded by a `store.add` marker, so it happens once however many
  refreshes of the waiting page race for it.

The national ID number is kept only sealed (`IdentifierProtector.seal`) in the person's
`journey` record, under the login interaction's id; it reaches the node in the request path
and is never written to a log, an audit record, a URL or a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from federation.ndid import (
    CALLBACK_TYPES,
    CreatedRequest,
    IdpNode,
    NdidClient,
    apply_callback,
    new_state,
    record_created,
)
from idp import i18n
from idp.oidc.authorize import AuthorizationRequest, wanted_assurance, weakest_assurance
from idp.settings import Settings
from idp.store import EphemeralStore
from kyc.assurance import Assurance
from kyc.identifiers import TH_CITIZEN_ID, IdentifierProtector

NAMESPACE = "citizen_id"
"""NDID's namespace for the Thai national ID number."""

DEFAULT_LEVELS = Assurance(Decimal("2.1"), Decimal("2.1"))
"""What we ask of a bank when the agency named no level: remote proofing checked with DOPA."""

CLIENT_TIMEOUT = 5.0
MAX_CALLBACKS = 32
"""Slots per request. A request sees about five distinct callbacks (created, pending, one per
answer, closed); duplicates take no slot."""
MAX_CALLBACK_BYTES = 64 * 1024
ORPHAN_TTL = 120
"""Seconds a callback for a request we cannot place yet is kept: long enough for the create
call's 202 to be processed, short enough that junk does not pile up."""
MAX_ORPHANS_PER_MINUTE = 1000
DEADLINE_GRACE = 30
"""Seconds past the request timeout before the waiting page stops waiting for the node's own
`timed_out` callback (which may have been lost) and says the request expired."""
MAX_MESSAGE = 1000
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_TOKEN_LABEL = b"idp ndid callback token v1"
_DIGIT_RUNS = re.compile(r"\d{13,}")
_CALLBACK_PATH = re.compile(r"(/federation/ndid/callback/)[^/\s\"]*")

JOURNEY = "ndid:journey:"
ATTEMPT = "ndid:attempt:"
LINK = "ndid:request:"
CALLBACK = "ndid:callback:"
DONE = "ndid:done:"
SEEN = "ndid:seen:"
ORPHANS = "ndid:orphans:"


# --------------------------------------------------------------------------------------------
# Settings


def callback_token(settings: Settings) -> str | None:
    """The secret path segment of our callback URL. Callbacks carry no signature, so this is
    what keeps strangers from posting them. Outside production, when unset, it is derived
    from the secret key (stable across processes and restarts); production requires it."""
    if settings.ndid_callback_token:
        return settings.ndid_callback_token
    if settings.production:
        return None
    return hmac.new(settings.secret_key.encode(), _TOKEN_LABEL, hashlib.sha256).hexdigest()


def enabled(settings: Settings) -> bool:
    """NDID login is offered: a node to talk to and a callback secret to be reached with."""
    return bool(settings.ndid_url) and callback_token(settings) is not None


def callback_url(settings: Settings) -> str:
    token = callback_token(settings)
    if token is None:
        raise RuntimeError("NDID is not configured")
    return f"{settings.issuer}/federation/ndid/callback/{token}"


def token_matches(settings: Settings, given: str) -> bool:
    """Constant-time check of a callback's path token (both sides hashed first, so the
    comparison takes the same time whatever the lengths)."""
    expected = callback_token(settings)
    if expected is None or not settings.ndid_url:
        return False
    a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(a, b)


def _redact(text: str) -> str:
    return _CALLBACK_PATH.sub(r"\1[token]", _DIGIT_RUNS.sub("[id]", text))


class _RedactIdentifiers(logging.Filter):
    """urllib3 logs each request line at DEBUG, and NDID paths carry the national ID
    (`/utility/idp/citizen_id/{id}`, `/rp/requests/citizen_id/{id}`); a sandbox node in the
    same process posts to our callback URL, whose path holds the callback secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def _guard_http_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactIdentifiers) for f in logger.filters):
        logger.addFilter(_RedactIdentifiers())


def client_for(settings: Settings) -> NdidClient:
    """The REST client for our own NDID node."""
    if not settings.ndid_url:
        raise RuntimeError("NDID is not configured")
    _guard_http_logs()
    return NdidClient(settings.ndid_url, timeout=CLIENT_TIMEOUT)


def state_ttl(settings: Settings) -> int:
    """How long a request's records live: the whole request, plus a login interaction."""
    return settings.ndid_request_timeout + settings.interaction_ttl


# --------------------------------------------------------------------------------------------
# What we ask


def levels_for(req: AuthorizationRequest, issuer: str) -> Assurance:
    """The levels a bank must reach: an essential acr's, else the weakest of acr_values,
    else IAL 2.1 / AAL 2.1."""
    return (wanted_assurance(req, issuer) or weakest_assurance(req.acr_values, issuer)
            or DEFAULT_LEVELS)


def request_message(name_th: str, name_en: str) -> str:
    """The text the bank app shows and the bank signs, in Thai then English, naming the
    agency. It never carries the ID number."""
    th = i18n.translate("ndid_request_message", "th", agency=name_th or name_en)
    en = i18n.translate("ndid_request_message", "en", agency=name_en or name_th)
    return _DIGIT_RUNS.sub("", f"{th}\n{en}")[:MAX_MESSAGE]


def qualifying(banks: list[IdpNode], levels: Assurance, mode: int) -> list[IdpNode]:
    """Banks that can answer at the levels asked (the node filters too; we check again)."""
    out = []
    for b in banks:
        if b.max_ial < levels.ial or b.max_aal < levels.aal:
            continue
        if b.ial is not None and b.ial < levels.ial:
            continue
        if mode in (2, 3) and b.mode_list is not None and mode not in b.mode_list:
            continue
        out.append(b)
    return out


def list_banks(settings: Settings, client: NdidClient, citizen_id: str, levels: Assurance
               ) -> list[IdpNode]:
    """The live list of banks for this person at these levels: in modes 2 and 3 only the
    banks that hold the identity, in mode 1 every bank."""
    mode = settings.ndid_mode
    if mode == 1:
        found = client.list_idps(levels.ial, levels.aal)
    else:
        found = client.list_idps(levels.ial, levels.aal, NAMESPACE, citizen_id, mode=mode)
    return qualifying(found, levels, mode)


def registered_anywhere(settings: Settings, client: NdidClient, citizen_id: str) -> bool:
    """Whether any bank holds the identity at any level (modes 2 and 3); always true in
    mode 1, where identities are not registered on the platform."""
    if settings.ndid_mode == 1:
        return True
    return bool(client.list_idps("1.1", "1", NAMESPACE, citizen_id, mode=settings.ndid_mode))


# --------------------------------------------------------------------------------------------
# The person's journey (per login interaction) and their request attempts


def bank_view(bank: IdpNode) -> dict[str, str]:
    return {"node_id": bank.node_id, "name_th": bank.name_th, "name_en": bank.name_en,
            "max_ial": str(bank.max_ial), "max_aal": str(bank.max_aal)}


@dataclass
class Journey:
    """What the person gave and saw during one login interaction. `sealed_id` is the
    citizen ID sealed under the provider's identifier key; `attempt` the reference_id of the
    request in progress or last finished."""

    sealed_id: str
    banks: list[dict[str, str]] = field(default_factory=list)
    attempt: str | None = None

    def citizen_id(self, protector: IdentifierProtector) -> str:
        return protector.unseal(TH_CITIZEN_ID, self.sealed_id)

    def bank(self, node_id: str) -> dict[str, str] | None:
        return next((b for b in self.banks if b["node_id"] == node_id), None)


def new_journey(protector: IdentifierProtector, citizen_id: str) -> Journey:
    return Journey(sealed_id=protector.seal(TH_CITIZEN_ID, citizen_id))


def load_journey(store: EphemeralStore, interaction_id: str) -> Journey | None:
    data = store.get(JOURNEY + interaction_id)
    if data is None:
        return None
    try:
        return Journey(sealed_id=str(data["sealed_id"]), banks=list(data.get("banks") or []),
                       attempt=data.get("attempt"))
    except (KeyError, TypeError):
        return None


def save_journey(settings: Settings, store: EphemeralStore, interaction_id: str,
                 journey: Journey) -> None:
    store.put(JOURNEY + interaction_id, {"sealed_id": journey.sealed_id, "banks": journey.banks,
                                         "attempt": journey.attempt}, state_ttl(settings))


def drop_journey(store: EphemeralStore, interaction_id: str) -> None:
    store.delete(JOURNEY + interaction_id)


def load_attempt(store: EphemeralStore, reference_id: str | None) -> dict[str, Any] | None:
    if not reference_id or not _REFERENCE.fullmatch(reference_id):
        return None
    return store.get(ATTEMPT + reference_id)


def start_request(settings: Settings, store: EphemeralStore, client: NdidClient, *,
                  interaction_id: str, citizen_id: str, bank: dict[str, str],
                  levels: Assurance, message: str) -> str:
    """Create the NDID request for one bank; returns its reference_id (fresh per attempt).

    The attempt record is written before the create call, so a create_request_result that
    arrives before the 202 finds it. Raises NdidError (and forgets the attempt) when the
    node refuses or cannot be reached.
    """
    reference_id = secrets.token_urlsafe(32)
    mode = settings.ndid_mode
    attempt: dict[str, Any] = {
        "interaction_id": interaction_id, "mode": mode, "min_ial": str(levels.ial),
        "min_aal": str(levels.aal), "bank": bank, "request_message": message,
        "request_id": None, "initial_salt": None,
        "deadline": time.time() + settings.ndid_request_timeout,
    }
    ttl = state_ttl(settings)
    store.put(ATTEMPT + reference_id, attempt, ttl)
    try:
        created = client.create_request(
            NAMESPACE, citizen_id, reference_id=reference_id,
            callback_url=callback_url(settings), mode=mode, idp_id_list=[bank["node_id"]],
            request_message=message, min_ial=levels.ial, min_aal=levels.aal, min_idp=1,
            request_timeout=settings.ndid_request_timeout,
            bypass_identity_check=None if mode == 1 else False)
    except Exception:
        store.delete(ATTEMPT + reference_id)
        raise
    attempt.update(request_id=created.request_id, initial_salt=created.initial_salt)
    store.put(ATTEMPT + reference_id, attempt, ttl)
    _link(store, created.request_id, reference_id, ttl)
    return reference_id


def close_request(settings: Settings, client: NdidClient, reference_id: str,
                  attempt: dict[str, Any]) -> bool:
    """Ask the node to close the request (the person cancelled, or refused and left). The
    node answers by callback; a failure here is not the person's problem, so False."""
    request_id = attempt.get("request_id")
    if not request_id:
        return False
    try:
        client.close_request(reference_id, callback_url(settings), request_id)
    except Exception:  # NdidError, NdidUnavailable: the request ends by timeout anyway
        return False
    return True


def request_state(store: EphemeralStore, reference_id: str, attempt: dict[str, Any]
                  ) -> dict[str, Any]:
    """The request's state now: what we asked, the 202, and every stored callback folded in
    (any order, duplicates harmless). A stored callback that does not fit is skipped."""
    state = new_state(reference_id, mode=int(attempt["mode"]), min_ial=attempt["min_ial"],
                      min_aal=attempt["min_aal"])
    request_id = attempt.get("request_id")
    if not request_id:
        return state
    state = record_created(state, CreatedRequest(request_id, attempt.get("initial_salt") or ""))
    for body in stored_callbacks(store, request_id):
        try:
            state = apply_callback(state, body)
        except ValueError:
            continue
    return state


def begin_completion(settings: Settings, store: EphemeralStore, reference_id: str) -> bool:
    """True for exactly one caller per request: the one that may finish the login."""
    return store.add(DONE + reference_id, {"at": int(time.time())}, state_ttl(settings))


def undo_completion(store: EphemeralStore, reference_id: str) -> None:
    store.delete(DONE + reference_id)


def first_sight(settings: Settings, store: EphemeralStore, reference_id: str, what: str
                ) -> bool:
    """True the first time an outcome of this request is seen: audit it once."""
    return store.add(f"{SEEN}{what}:{reference_id}", {"at": int(time.time())},
                     state_ttl(settings))


# --------------------------------------------------------------------------------------------
# Callbacks from the node


class MalformedCallback(ValueError):
    """The body is not a callback we can read. The message never echoes the body."""


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _no_constants(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def parse_callback(raw: bytes) -> dict[str, Any]:
    """A callback body as a dict, checked for what we rely on: a `type`, a well-formed
    `request_id`, and (for the types we know) the fields `apply_callback` needs."""
    if len(raw) > MAX_CALLBACK_BYTES:
        raise MalformedCallback("callback body too large")
    try:
        body = json.loads(raw, parse_float=_finite_float, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedCallback("callback body is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedCallback("callback body is not an object")
    kind = body.get("type")
    if not isinstance(kind, str) or not 0 < len(kind) <= 64:
        raise MalformedCallback("callback has no type")
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise MalformedCallback("callback has no well-formed request_id")
    try:
        apply_callback(None, body)
    except (ValueError, TypeError, AttributeError):
        raise MalformedCallback("callback fields are malformed") from None
    return body


def receive_callback(settings: Settings, store: EphemeralStore, body: dict[str, Any]) -> str:
    """Keep one parsed callback for whoever reads its request next. Returns what happened:
    "stored", "duplicate", "ignored" (a type we do not use, or too many unplaceable
    callbacks) or "full"."""
    if body.get("type") not in CALLBACK_TYPES:
        return "ignored"
    request_id: str = body["request_id"]
    ttl = state_ttl(settings)
    if body.get("type") == "create_request_result":
        ref = body.get("reference_id")
        attempt = load_attempt(store, ref if isinstance(ref, str) else None)
        if attempt is not None and attempt.get("request_id") in (None, request_id):
            _link(store, request_id, str(ref), ttl)
    if store.get(LINK + request_id) is None:
        # Ours but early (before the 202), or not ours at all: keep it briefly, bounded.
        if store.incr(f"{ORPHANS}{int(time.time() // 60)}", 120) > MAX_ORPHANS_PER_MINUTE:
            return "ignored"
        ttl = ORPHAN_TTL
    return _append(store, request_id, body, ttl)


def _slot(request_id: str, index: int) -> str:
    return f"{CALLBACK}{request_id}:{index}"


def _append(store: EphemeralStore, request_id: str, body: dict[str, Any], ttl: int) -> str:
    for index in range(1, MAX_CALLBACKS + 1):
        if store.add(_slot(request_id, index), {"body": body}, ttl):
            return "stored"
        held = store.get(_slot(request_id, index))
        if held is not None and held.get("body") == body:
            return "duplicate"
    return "full"


def stored_callbacks(store: EphemeralStore, request_id: str) -> list[dict[str, Any]]:
    """Every callback kept for the request, in slot order (which is not block order)."""
    out = []
    for index in range(1, MAX_CALLBACKS + 1):
        held = store.get(_slot(request_id, index))
        if held is None:
            break
        body = held.get("body")
        if isinstance(body, dict):
            out.append(body)
    return out


def _link(store: EphemeralStore, request_id: str, reference_id: str, ttl: int) -> None:
    """Mark the request as ours, and keep the callbacks that came before we knew it (they
    were stored for ORPHAN_TTL) as long as the rest."""
    store.put(LINK + request_id, {"reference_id": reference_id}, ttl)
    for index in range(1, MAX_CALLBACKS + 1):
        held = store.get(_slot(request_id, index))
        if held is None:
            break
        store.put(_slot(request_id, index), held, ttl)
