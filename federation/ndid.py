"""NDID relying-party client (API v6) and the pure logic of its callbacks. No Flask here.

`NdidClient` talks REST to our own NDID node: list banks, create a request, close it, read the
data authoritative sources sent. Everything else arrives later as callbacks POSTed to the
`callback_url` we gave; `apply_callback` folds each one into a plain dict (the state of one
request), and `login_outcome` reads the state with the acceptance rule of
`reference/ndid-rp-api.md`:

    accepted only when status == "completed", every accepting answer has ial >= min_ial and
    aal >= min_aal, and in modes 2 and 3 valid_signature and valid_ial are both true.

Callbacks are unsigned, may come twice, out of order, and before the create call returns, so:
- the state is keyed by request_id (every callback carries it) and by reference_id (ours; the
  create_request_result and the 202 link the two);
- applying the same callback twice changes nothing, and a request_status with a lower
  block_height never replaces a higher one;
- the thresholds come from what we asked (`new_state`), not from what a callback says.

Levels are `Decimal`, never float: they go out as JSON numbers written from the Decimal text
(2.3 stays 2.3) and come back through `level()`. A national ID number is sent in the request
path and nowhere else: it is never part of an error message, a log line or the state.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple
from urllib.parse import quote

import requests

IAL_LEVELS: tuple[Decimal, ...] = tuple(
    Decimal(v) for v in ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3"))
AAL_LEVELS: tuple[Decimal, ...] = tuple(Decimal(v) for v in ("1", "2.1", "2.2", "3"))
MODES = (1, 2, 3)
MAX_MESSAGE = 300

Outcome = Literal["pending", "accepted", "rejected", "timed_out", "errored", "closed"]
CALLBACK_TYPES = frozenset({"create_request_result", "request_status", "close_request_result"})


# --------------------------------------------------------------------------------------------
# Errors


class NdidError(Exception):
    """An error answered by the NDID node (`code` is NDID's), or 0 when there is none to
    report. `message` never holds personal data."""

    def __init__(self, code: int, message: str, http_status: int,
                 details: Mapping[str, Any] | None = None) -> None:
        self.code = code
        self.message = _scrub(message)
        self.http_status = http_status
        self.details = details
        super().__init__(f"NDID error {code}: {self.message} (HTTP {http_status})")


class NdidUnavailable(NdidError):
    """The node could not be reached or did not answer in time (code 0, HTTP status 0)."""


_DIGIT_RUNS = re.compile(r"\d{13,}")


def _scrub(message: str) -> str:
    """No identifier survives in a message, whatever the node put there."""
    return _DIGIT_RUNS.sub("[redacted]", str(message))[:MAX_MESSAGE]


# --------------------------------------------------------------------------------------------
# Levels and JSON


def level(value: Any) -> Decimal:
    """A level as Decimal. Accepts Decimal, int and decimal text; a float (as a JSON parser
    without parse_float=Decimal gives it) is read through its shortest repr, so 2.3 stays 2.3.
    Raises ValueError for anything else."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not a level")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a level") from None
    if not d.is_finite():
        raise ValueError("not a level")
    return d


def _level_arg(value: Decimal | str | int, scale: tuple[Decimal, ...], name: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, int or str, never a float")
    d = level(value)
    if d not in scale:
        raise ValueError(f"{name} {d} is not on the scale")
    return next(v for v in scale if v == d)


def to_json(value: Any) -> str:
    """JSON text with every Decimal written as a number from its own digits. Floats are
    refused, so a level can never be rounded on its way out."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("NaN and infinity are not JSON numbers")
        text = str(value)
        return text if "E" not in text else format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not sent to NDID; use Decimal")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{to_json(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def parse_node_name(node_name: str) -> tuple[str, str]:
    """(Thai, English) display names from an NDID node_name, which is JSON text with
    marketing_name_th and marketing_name_en; a plain name is used for both."""
    try:
        data = json.loads(node_name)
    except (ValueError, TypeError):
        return node_name, node_name
    if not isinstance(data, dict):
        return node_name, node_name
    th = data.get("marketing_name_th") or data.get("marketing_name_en") or node_name
    en = data.get("marketing_name_en") or th
    return str(th), str(en)


# --------------------------------------------------------------------------------------------
# Client


@dataclass(frozen=True)
class CreatedRequest:
    request_id: str
    initial_salt: str


@dataclass(frozen=True)
class IdpNode:
    node_id: str
    node_name: str
    name_th: str
    name_en: str
    max_ial: Decimal
    max_aal: Decimal
    agent: bool
    supported_feature_list: tuple[str, ...]
    ial: Decimal | None = None
    """The identity's IAL at this bank (only when listed for a namespace and identifier)."""
    mode_list: tuple[int, ...] | None = None


class NdidClient:
    """REST client for our own NDID node (API v6, relying-party role)."""

    def __init__(self, base_url: str, *, timeout: float = 5,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
              body: Mapping[str, Any] | None = None, ok: tuple[int, ...] = (200,),
              missing_ok: bool = False) -> requests.Response | None:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = to_json(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            resp = self.session.request(method, self.base_url + path, params=params, data=data,
                                        headers=headers, timeout=self.timeout,
                                        allow_redirects=False)
        except requests.RequestException as exc:
            # `from None`: a requests exception carries the URL, and the URL may carry an ID.
            raise NdidUnavailable(0, f"NDID node unreachable ({type(exc).__name__})",
                                  0) from None
        if resp.status_code in ok:
            return resp
        if missing_ok and resp.status_code == 404:
            return None
        raise _error_from(resp)

    def list_idps(self, min_ial: Decimal | str | int, min_aal: Decimal | str | int,
                  namespace: str | None = None, identifier: str | None = None, *,
                  mode: int | None = None) -> list[IdpNode]:
        """`GET /utility/idp` or, with namespace and identifier, the banks that hold that
        identity (`GET /utility/idp/{namespace}/{identifier}`, optionally for one mode)."""
        params = {"min_ial": str(_level_arg(min_ial, IAL_LEVELS, "min_ial")),
                  "min_aal": str(_level_arg(min_aal, AAL_LEVELS, "min_aal"))}
        if (namespace is None) != (identifier is None):
            raise ValueError("give both namespace and identifier, or neither")
        path = "/utility/idp"
        if namespace is not None and identifier is not None:
            path += f"/{_segment(namespace)}/{_segment(identifier)}"
            if mode is not None:
                params["mode"] = str(mode)
        resp = self._call("GET", path, params=params)
        assert resp is not None
        data = _json(resp)
        if not isinstance(data, list):
            raise _malformed(resp)
        try:
            return [_idp_node(item) for item in data]
        except (KeyError, TypeError, ValueError):
            raise _malformed(resp) from None

    def create_request(self, namespace: str, identifier: str, *, reference_id: str,
                       callback_url: str, mode: int, idp_id_list: list[str],
                       request_message: str, min_ial: Decimal | str | int,
                       min_aal: Decimal | str | int, min_idp: int = 1, request_timeout: int,
                       data_request_list: list[dict[str, Any]] | None = None,
                       bypass_identity_check: bool | None = None) -> CreatedRequest:
        """`POST /rp/requests/{namespace}/{identifier}` → 202 {request_id, initial_salt}.
        Everything else arrives by callback at `callback_url`."""
        body: dict[str, Any] = {
            "reference_id": reference_id,
            "callback_url": callback_url,
            "mode": mode,
            "idp_id_list": list(idp_id_list),
        }
        if data_request_list is not None:
            body["data_request_list"] = data_request_list
        body.update({
            "request_message": request_message,
            "min_ial": _level_arg(min_ial, IAL_LEVELS, "min_ial"),
            "min_aal": _level_arg(min_aal, AAL_LEVELS, "min_aal"),
            "min_idp": min_idp,
            "request_timeout": request_timeout,
        })
        if bypass_identity_check is not None:
            body["bypass_identity_check"] = bypass_identity_check
        resp = self._call("POST", f"/rp/requests/{_segment(namespace)}/{_segment(identifier)}",
                          body=body, ok=(202,))
        assert resp is not None
        data = _json(resp)
        if not (isinstance(data, dict) and isinstance(data.get("request_id"), str)
                and isinstance(data.get("initial_salt"), str) and data["request_id"]):
            raise _malformed(resp)
        return CreatedRequest(request_id=data["request_id"], initial_salt=data["initial_salt"])

    def close_request(self, reference_id: str, callback_url: str, request_id: str) -> None:
        """`POST /rp/request_close` → 202; the result (or 25001/25002/25003) comes as a
        close_request_result callback."""
        self._call("POST", "/rp/request_close", ok=(202,),
                   body={"reference_id": reference_id, "callback_url": callback_url,
                         "request_id": request_id})

    def request_data(self, request_id: str) -> list[dict[str, Any]] | None:
        """`GET /rp/request_data/{request_id}`: data from authoritative sources; None when the
        node knows no such request (404)."""
        resp = self._call("GET", f"/rp/request_data/{_segment(request_id)}", missing_ok=True)
        if resp is None:
            return None
        data = _json(resp)
        if not isinstance(data, list):
            raise _malformed(resp)
        return data

    def request_details(self, request_id: str) -> dict[str, Any] | None:
        """`GET /utility/requests/{request_id}`, the request as the chain holds it (a polling
        fallback when callbacks are lost); None when unknown (404)."""
        resp = self._call("GET", f"/utility/requests/{_segment(request_id)}", missing_ok=True)
        if resp is None:
            return None
        data = _json(resp)
        if not isinstance(data, dict):
            raise _malformed(resp)
        return data

    def idp_error_codes(self) -> list[dict[str, Any]]:
        """`GET /utility/idp_error_codes`: [{error_code, description}]."""
        resp = self._call("GET", "/utility/idp_error_codes")
        assert resp is not None
        data = _json(resp)
        if not isinstance(data, list):
            raise _malformed(resp)
        return data


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json(resp: requests.Response) -> Any:
    try:
        return json.loads(resp.content, parse_float=Decimal)
    except ValueError:
        raise _malformed(resp) from None


def _malformed(resp: requests.Response) -> NdidError:
    return NdidError(0, "unexpected answer from the NDID node", resp.status_code)


def _error_from(resp: requests.Response) -> NdidError:
    try:
        data = json.loads(resp.content, parse_float=Decimal)
        err = data["error"]
        code, message = int(err["code"]), str(err["message"])
    except (ValueError, TypeError, KeyError):
        return NdidError(0, f"unexpected HTTP {resp.status_code} from the NDID node",
                         resp.status_code)
    details = data.get("details")
    return NdidError(code, message, resp.status_code,
                     details if isinstance(details, dict) else None)


def _idp_node(item: Mapping[str, Any]) -> IdpNode:
    name_th, name_en = parse_node_name(str(item["node_name"]))
    ial = item.get("ial")
    modes = item.get("mode_list")
    return IdpNode(
        node_id=str(item["node_id"]), node_name=str(item["node_name"]), name_th=name_th,
        name_en=name_en, max_ial=level(item["max_ial"]), max_aal=level(item["max_aal"]),
        agent=bool(item.get("agent", False)),
        supported_feature_list=tuple(str(f) for f in item.get("supported_feature_list") or ()),
        ial=None if ial is None else level(ial),
        mode_list=None if modes is None else tuple(int(m) for m in modes))


# --------------------------------------------------------------------------------------------
# Callback state (plain, JSON-compatible dicts, so any store can keep them)


@dataclass(frozen=True)
class BankAnswer:
    """The accepting answer a login rests on: goes with the proofing event."""

    idp_id: str
    ial: Decimal
    aal: Decimal
    signature: str | None
    valid_signature: bool | None
    valid_ial: bool | None


class LoginOutcome(NamedTuple):
    result: Outcome
    answer: BankAnswer | None = None
    reason: str | None = None


def new_state(reference_id: str, *, mode: int, min_ial: Decimal | str | int,
              min_aal: Decimal | str | int, request_id: str | None = None) -> dict[str, Any]:
    """The state of a request we are about to create: what we ask is what we check."""
    if mode not in MODES:
        raise ValueError("mode is 1, 2 or 3")
    return {
        "reference_id": reference_id,
        "request_id": request_id,
        "expected": {"mode": mode, "min_ial": str(_level_arg(min_ial, IAL_LEVELS, "min_ial")),
                     "min_aal": str(_level_arg(min_aal, AAL_LEVELS, "min_aal"))},
        "initial_salt": None,
        "create_request_result": None,
        "request_status": None,
        "close_request_result": None,
    }


def _empty_state() -> dict[str, Any]:
    return {"reference_id": None, "request_id": None, "expected": None, "initial_salt": None,
            "create_request_result": None, "request_status": None,
            "close_request_result": None}


def record_created(state: Mapping[str, Any] | None, created: CreatedRequest) -> dict[str, Any]:
    """Fold in the 202 of the create call (which may come after some callbacks)."""
    out = copy.deepcopy(dict(state)) if state is not None else _empty_state()
    if out["request_id"] not in (None, created.request_id):
        raise ValueError("this state belongs to another request")
    out["request_id"] = created.request_id
    out["initial_salt"] = created.initial_salt
    return out


def block_height(value: Any) -> int:
    """The height in "<chain_id>:<height>"."""
    if not isinstance(value, str):
        raise ValueError("block_height is a string")
    _, _, height = value.rpartition(":")
    if not height.isascii() or not height.isdigit():
        raise ValueError("block_height is <chain_id>:<height>")
    return int(height)


def _status_rank(status: Mapping[str, Any]) -> tuple[int, int, int]:
    """Newer first by block height; at the same height an ended request (closed or timed
    out) and then more answers win, so the order of arrival never matters."""
    ended = 1 if status.get("closed") is True or status.get("timed_out") is True else 0
    answers = status.get("response_list")
    return block_height(status.get("block_height")), ended, len(answers) if isinstance(
        answers, list) else 0


def apply_callback(state: Mapping[str, Any] | None, callback: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """A new state with `callback` folded in. Idempotent (the same callback twice changes
    nothing) and ordered (an older request_status never replaces a newer one). Raises
    ValueError for a malformed callback or one that belongs to another request; unknown
    callback types leave the state as it was."""
    out = copy.deepcopy(dict(state)) if state is not None else _empty_state()
    kind = callback.get("type")
    if kind not in CALLBACK_TYPES:
        if not isinstance(kind, str):
            raise ValueError("a callback has a type")
        return out
    request_id = callback.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise ValueError("a callback names its request")
    if out["request_id"] not in (None, request_id):
        raise ValueError("callback for another request")
    cb = copy.deepcopy(dict(callback))
    if kind == "create_request_result":
        reference_id = cb.get("reference_id")
        if out["reference_id"] not in (None, reference_id):
            raise ValueError("callback for another request")
        if not isinstance(cb.get("success"), bool):
            raise ValueError("create_request_result has success")
        out["request_id"] = request_id
        out["reference_id"] = reference_id
        if out["create_request_result"] is None:
            out["create_request_result"] = cb
    elif kind == "request_status":
        rank = _status_rank(cb)  # raises ValueError on a bad block_height
        if not isinstance(cb.get("status"), str):
            raise ValueError("request_status has a status")
        out["request_id"] = request_id
        current = out["request_status"]
        if current is None or rank > _status_rank(current):
            out["request_status"] = cb
    else:  # close_request_result: its reference_id is the close call's, not the request's
        if not isinstance(cb.get("success"), bool):
            raise ValueError("close_request_result has success")
        out["request_id"] = request_id
        current = out["close_request_result"]
        if current is None or (cb["success"] and not current.get("success")):
            out["close_request_result"] = cb
    return out


def merge_states(into: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """Fold the callbacks held in `other` (say, kept by request_id before the create call
    returned) into `into`."""
    out = copy.deepcopy(dict(into))
    for key in ("reference_id", "request_id", "expected", "initial_salt"):
        if out.get(key) is None and other.get(key) is not None:
            out[key] = copy.deepcopy(other[key])
    for key in ("create_request_result", "request_status", "close_request_result"):
        if other.get(key) is not None:
            out = apply_callback(out, other[key])
    return out


def _thresholds(state: Mapping[str, Any], status: Mapping[str, Any]
                ) -> tuple[Decimal, Decimal, bool]:
    """(min_ial, min_aal, strict): the stricter of what we asked and what the status says;
    strict (signature and IAL checked by the node) in modes 2 and 3."""
    expected = state.get("expected") or {}
    ials = [level(v) for v in (expected.get("min_ial"), status.get("min_ial")) if v is not None]
    aals = [level(v) for v in (expected.get("min_aal"), status.get("min_aal")) if v is not None]
    if not ials or not aals:
        raise ValueError("no levels to check against")
    modes = {expected.get("mode"), status.get("mode")}
    return max(ials), max(aals), bool(modes & {2, 3})


def _check_completed(state: Mapping[str, Any], status: Mapping[str, Any]) -> LoginOutcome:
    try:
        min_ial, min_aal, strict = _thresholds(state, status)
    except ValueError:
        return LoginOutcome("errored", None, "the request levels are unreadable")
    responses = status.get("response_list")
    accepting = [r for r in responses if isinstance(r, Mapping) and r.get("status") == "accept"
                 ] if isinstance(responses, list) else []
    if not accepting:
        return LoginOutcome("errored", None, "completed without an accepting answer")
    answers = []
    for r in accepting:
        try:
            ial, aal = level(r.get("ial")), level(r.get("aal"))
        except ValueError:
            return LoginOutcome("errored", None, "an accepting answer has no readable levels")
        if ial < min_ial or aal < min_aal:
            return LoginOutcome("errored", None, "a bank answered below the requested levels")
        if strict and (r.get("valid_signature") is not True or r.get("valid_ial") is not True):
            return LoginOutcome("errored", None, "the node could not verify a bank's answer")
        signature = r.get("signature")
        answers.append(BankAnswer(
            idp_id=str(r.get("idp_id")), ial=ial, aal=aal,
            signature=signature if isinstance(signature, str) else None,
            valid_signature=r.get("valid_signature"), valid_ial=r.get("valid_ial")))
    return LoginOutcome("accepted", answers[0], None)


def login_outcome(state: Mapping[str, Any] | None) -> LoginOutcome:
    """What the login page shows: pending, accepted (with the bank's answer for proofing),
    rejected, timed_out, errored or closed."""
    if state is None:
        return LoginOutcome("pending")
    created = state.get("create_request_result")
    if created is not None and created.get("success") is False:
        return LoginOutcome("errored", None, "the node could not create the request")
    status = state.get("request_status")
    if status is not None:
        value = status.get("status")
        if value == "completed":
            return _check_completed(state, status)
        if value in ("rejected", "complicated"):
            return LoginOutcome("rejected", None, "the person refused at the bank")
        if value == "errored":
            return LoginOutcome("errored", None, "the bank answered with an error")
        if status.get("timed_out") is True:
            return LoginOutcome("timed_out")
        if status.get("closed") is True:
            return LoginOutcome("closed")
    closed = state.get("close_request_result")
    if closed is not None and closed.get("success") is True:
        return LoginOutcome("closed")
    return LoginOutcome("pending")


class RequestTracker:
    """Request states in memory for one process, reachable by reference_id, whatever the
    order in which callbacks and the 202 arrive. Thread-safe; bounded."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._max = max_entries
        self._by_reference: dict[str, dict[str, Any]] = {}
        self._reference_of: dict[str, str] = {}
        self._orphans: dict[str, dict[str, Any]] = {}  # by request_id, owner not known yet

    def begin(self, reference_id: str, *, mode: int, min_ial: Decimal | str | int,
              min_aal: Decimal | str | int) -> None:
        with self._lock:
            self._trim(self._by_reference)
            self._by_reference[reference_id] = new_state(reference_id, mode=mode,
                                                         min_ial=min_ial, min_aal=min_aal)

    def created(self, reference_id: str, created: CreatedRequest) -> dict[str, Any]:
        with self._lock:
            state = record_created(self._by_reference.get(reference_id), created)
            return self._link(reference_id, created.request_id, state)

    def apply(self, callback: Mapping[str, Any]) -> dict[str, Any]:
        """Fold a callback in; returns the state it landed in."""
        with self._lock:
            request_id = callback.get("request_id")
            if not isinstance(request_id, str):
                raise ValueError("a callback names its request")
            reference_id = self._reference_of.get(request_id)
            if reference_id is None and callback.get("type") == "create_request_result":
                ref = callback.get("reference_id")
                if isinstance(ref, str) and ref in self._by_reference:
                    state = apply_callback(self._by_reference[ref], callback)
                    return self._link(ref, request_id, state)
            if reference_id is not None:
                state = apply_callback(self._by_reference[reference_id], callback)
                self._by_reference[reference_id] = state
                return state
            self._trim(self._orphans)
            state = apply_callback(self._orphans.get(request_id), callback)
            self._orphans[request_id] = state
            return state

    def get(self, reference_id: str) -> dict[str, Any] | None:
        with self._lock:
            state = self._by_reference.get(reference_id)
            return copy.deepcopy(state) if state is not None else None

    def outcome(self, reference_id: str) -> LoginOutcome:
        return login_outcome(self.get(reference_id))

    def forget(self, reference_id: str) -> None:
        with self._lock:
            state = self._by_reference.pop(reference_id, None)
            if state is not None and state.get("request_id"):
                self._reference_of.pop(state["request_id"], None)

    def _link(self, reference_id: str, request_id: str, state: dict[str, Any]
              ) -> dict[str, Any]:
        orphan = self._orphans.pop(request_id, None)
        if orphan is not None:
            state = merge_states(state, orphan)
        self._by_reference[reference_id] = state
        self._reference_of[request_id] = reference_id
        return state

    def _trim(self, table: dict[str, dict[str, Any]]) -> None:
        while len(table) >= self._max:
            key = next(iter(table))
            state = table.pop(key)
            if state.get("request_id"):
                self._reference_of.pop(state["request_id"], None)
