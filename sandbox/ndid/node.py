"""SANDBOX NDID node: the relying-party side of the NDID API v6, with simulated banks.

NOT NDID. A stand-in for development and tests only; never enabled in production settings.

What it answers (mounted at `/` and again under `/v6`, as the real node does):

    GET  /utility/idp                            banks, filtered by min_ial, min_aal, agent,
                                                 supported_feature_list
    GET  /utility/idp/{namespace}/{identifier}   banks that hold this identity (+ ial, mode_list)
    POST /rp/requests/{namespace}/{identifier}   create a request: 202 {request_id, initial_salt}
    POST /rp/request_close                       202, then a close_request_result callback
    GET  /rp/request_data/{request_id}           data from authoritative sources (always [] here)
    GET  /rp/request_references/{reference_id}   {request_id} of an in-progress request
    GET  /utility/requests/{request_id}          the request as the chain holds it
    GET  /utility/idp_error_codes                error codes a bank may answer with

and, outside the API, the simulated bank apps: `GET /bank` (a list), `GET /bank/{node_id}`
(requests waiting for that bank) and `POST /bank/{node_id}/requests/{request_id}` with
`decision=accept|reject`.

How it follows the real node (ndidplatform/api 8.x, API v6, read from its public source):
- create request checks run in the real node's order: JSON schema (20003, with `details`),
  allowed modes (20066), request_type (20091), IAL (20094), AAL (20095), Thai ID check digit
  (20096; like the real node only in mode 1 or with bypass_identity_check), reference in
  progress (20045), unknown node in idp_id_list (20058), 20004, 20016, no bank (20005), a listed
  bank that does not qualify (20058), not enough banks (20006), data requests (no authoritative
  source exists here, so any data request fails as it would on a platform without one),
  initial_salt length (20087);
- the "chain" is a counter: every change is a new block, `block_height` is "<chain>:<height>";
  `create_request_result` and the first `pending` status carry the creation height;
- statuses are computed with the real node's rule (pending, confirmed, rejected, complicated,
  completed, errored) and requests close themselves when completed or errored (the real node's
  defaults), which is a further `request_status` with `closed: true` and no close callback;
- `request_message_hash` is base64(SHA-256(request_message + salt)) with the real salt
  derivation from initial_salt, namespace and identifier;
- callbacks are POSTed as JSON from one background thread, in order, retried only on network
  failure; any HTTP answer counts as delivered.

Simplified: banks are local objects, not nodes behind a message queue; a bank's `signature` is
an HMAC placeholder, not a signature by the bank's or the person's key, and in modes 2 and 3 the
node reports `valid_signature` and `valid_ial` as true without checking anything; there are no
authoritative sources, whitelists, proxies, node_id (proxy) bodies or data-URL request
messages; every checksum-valid citizen_id counts as registered (modes 2 and 3) at every bank that
does not list its own identities.

Scripted unhappy paths, chosen per identifier (`SCRIPTED_IDENTIFIERS`, `Script.by_identifier`)
or for every request (`Script.default`): a bank accepts, rejects or answers with an error code by
itself, never answers (timeout), the create call fails with 20045 or 20096, the identity is
registered nowhere; and callback delivery that is duplicated, reordered, or early (the
create_request_result and the first status arrive before the 202).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import math
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Flask, Response, current_app, redirect, render_template_string
from flask import request as http_request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

log = logging.getLogger(__name__)

CHAIN_ID = "ndid-sandbox"
RP_NODE_ID = "sandbox_rp"
SUPPORTED_IAL: tuple[Decimal, ...] = tuple(
    Decimal(v) for v in ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3"))
SUPPORTED_AAL: tuple[Decimal, ...] = tuple(Decimal(v) for v in ("1", "2.1", "2.2", "3"))
SALT_BYTES = 32
SALT_TEXT_LENGTH = 44  # base64 of 32 bytes; a shorter initial_salt is refused (20087)
MAX_BODY = 1024 * 1024
MAX_REQUESTS = 10_000
TICK_SECONDS = 0.05
SANDBOX_HEADER = ("X-NDID-Sandbox", "this is a sandbox, not NDID")

Outcome = Literal["manual", "accept", "reject", "timeout", "errored", "duplicate_reference",
                  "invalid_id", "not_registered"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


# --------------------------------------------------------------------------------------------
# Scripts: which unhappy path a request takes


@dataclass(frozen=True)
class Scenario:
    """What happens to one request.

    outcome: `manual` (wait for the bank page), `accept` / `reject` (the bank answers by itself
    after `Script.answer_delay`), `errored` (every listed bank answers with
    `Script.bank_error_code`), `timeout` (no bank answers, and the bank page does not offer the
    request), `duplicate_reference` (the create call fails with 20045), `invalid_id` (it fails
    with 20096 in any mode), `not_registered` (no bank holds the identity).
    duplicate_callbacks: every callback is sent twice.
    reorder_callbacks: a status is held back and sent after the next one (a later
    block_height arrives before an earlier one).
    early_callbacks: create_request_result and the first status are delivered before the
    create call answers 202.
    """

    outcome: Outcome = "manual"
    duplicate_callbacks: bool = False
    reorder_callbacks: bool = False
    early_callbacks: bool = False

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown sandbox outcome {self.outcome!r}")


@dataclass(frozen=True)
class Script:
    """Sandbox behaviour for tests and demos; nothing here exists on a real node."""

    by_identifier: Mapping[str, Scenario] = field(default_factory=dict)
    default: Scenario = Scenario()
    allowed_modes: tuple[int, ...] = (1, 2, 3)
    """The platform's allowed mode list; a mode outside it is refused with 20066."""
    answer_delay: float = 0.05
    """Seconds before a scripted bank answers (wall clock, not the node's clock)."""
    bank_error_code: int = 1000
    callback_timeout: float = 2.0
    callback_attempts: int = 3

    def scenario_for(self, identifier: str) -> Scenario:
        return (self.by_identifier.get(identifier) or SCRIPTED_IDENTIFIERS.get(identifier)
                or self.default)


SCRIPTED_IDENTIFIERS: dict[str, Scenario] = {
    # Checksum-valid citizen IDs reserved by the sandbox, so a tester can pick a path by typing
    # a number. They belong to nobody.
    "1999999999018": Scenario("accept"),
    "1999999999026": Scenario("reject"),
    "1999999999034": Scenario("timeout"),
    "1999999999042": Scenario("errored"),
    "1999999999051": Scenario("duplicate_reference"),
    "1999999999069": Scenario("invalid_id"),
    "1999999999077": Scenario("accept", duplicate_callbacks=True),
    "1999999999085": Scenario("accept", reorder_callbacks=True),
    "1999999999093": Scenario("accept", early_callbacks=True),
    "1999999999107": Scenario("not_registered"),
}

DEFAULT_BANKS: list[dict[str, Any]] = [
    {"node_id": "sandbox_bank_a", "name_th": "ธนาคารทดสอบ เอ", "name_en": "Sandbox Bank A",
     "max_ial": "2.3", "max_aal": "2.2"},
    {"node_id": "sandbox_bank_b", "name_th": "ธนาคารทดสอบ บี", "name_en": "Sandbox Bank B",
     "max_ial": "2.1", "max_aal": "2.1"},
    {"node_id": "sandbox_bank_c", "name_th": "ธนาคารทดสอบ ซี", "name_en": "Sandbox Bank C",
     "max_ial": "3", "max_aal": "3"},
]

IDP_ERROR_CODES: list[dict[str, Any]] = [
    {"error_code": 1000, "description": "Sandbox: the bank cannot serve this request"},
    {"error_code": 1001, "description": "Sandbox: the identity is not usable at this bank"},
    {"error_code": 1002, "description": "Sandbox: the person's app is locked or unreachable"},
]


# --------------------------------------------------------------------------------------------
# Errors, as the real node names and words them


class NodeError(Exception):
    def __init__(self, code: int, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


E_UNKNOWN = (10000, "Unknown Error")
E_QUERY = (20002, "Query string validation failed")
E_BODY = (20003, "Body validation failed")
E_IDP_LIST_LESS_THAN_MIN_IDP = (20004, 'Provided IdP list is less than minimum IdP needed '
                                       '(length of "idp_id_list" is less than "min_idp")')
E_NO_IDP_FOUND = (20005, "No IdP found")
E_NOT_ENOUGH_IDP = (20006, "Not enough IdP (the number of IdPs found is less than minimum IdP "
                           "needed)")
E_BODY_PARSE = (20007, "Unable to parse body")
E_IDP_ID_LIST_NEEDED = (20016, '"idp_id_list" must be provided')
E_AS_LIST_LESS_THAN_MIN_AS = (20017, 'Provided AS list is less than minimum AS needed (length '
                                     'of "as_id_list" is less than "min_as")')
E_DUPLICATE_SERVICE_ID = (20018, "Duplicate service ID in data request list")
E_NOT_ENOUGH_AS = (20024, "Not enough AS (the number of AS offer the service is less than "
                          "minimum AS needed)")
E_BODY_TOO_LARGE = (20036, "Body size is too large (greater than limit)")
E_SOME_AS_DO_NOT_PROVIDE_SERVICE = (20043, "Some AS IDs in some services in data request list "
                                           "do not provide the requested service")
E_DUPLICATE_REFERENCE_ID = (20045, "Request for this reference ID is in progress")
E_UNQUALIFIED_IDP = (20058, "Some IdP IDs in requested IdP ID list are unqualified to response")
E_UNSUPPORTED_MODE = (20066, "This request mode is not supported")
E_INITIAL_SALT_TOO_SHORT = (20087, "Request has too short initial salt size")
E_INVALID_REQUEST_TYPE = (20091, "Invalid request type")
E_UNSUPPORTED_IAL = (20094, "Unsupported IAL")
E_UNSUPPORTED_AAL = (20095, "Unsupported AAL")
E_INVALID_IDENTIFIER = (20096, "Invalid identifier")
E_REQUEST_NOT_FOUND = (25001, "Request ID could not be found")
E_REQUEST_CLOSED = (25002, "Request is already closed")
E_REQUEST_TIMED_OUT = (25003, "Request is already timed out")


def _fail(error: tuple[int, str], details: Any = None) -> NodeError:
    return NodeError(error[0], error[1], details)


# --------------------------------------------------------------------------------------------
# JSON: numbers stay exact (2.3 is read as Decimal("2.3") and written back as 2.3)


def json_text(value: Any) -> str:
    """JSON text with Decimal written as a number (Flask would write it as a string)."""
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
            raise ValueError("not a JSON number")
        return _decimal_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a JSON number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{json_text(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _decimal_text(value: Decimal) -> str:
    if value == value.to_integral_value() and abs(value) < 10**15:
        return str(int(value))
    text = format(value.normalize(), "f")
    return text


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(json_text(body), status=status, mimetype="application/json")


def _error_response(err: NodeError) -> Response:
    body: dict[str, Any] = {"error": {"code": err.code, "message": err.message}}
    if err.code in (E_QUERY[0], E_BODY[0]) and err.details is not None:
        body["details"] = err.details
    status = 500 if err.code < 20000 else 400
    return _json_response(body, status)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _read_json_body() -> Any:
    """The body as express's json parser gives it: {} when not JSON, 20007 when unparsable or
    not an object or array."""
    if not http_request.is_json:
        return {}
    raw = http_request.get_data(cache=False)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _fail(E_BODY_PARSE) from None
    if not isinstance(value, dict | list):
        raise _fail(E_BODY_PARSE)
    return value


# --------------------------------------------------------------------------------------------
# A little JSON Schema (the keywords the v6 RP schemas use), with ajv-style error objects

_URL: dict[str, Any] = {"$id": "defs#/definitions/url", "type": "string", "format": "uri",
                        "pattern": "^(https?)://"}
_STR1: dict[str, Any] = {"type": "string", "minLength": 1}
_DATA_REQUEST_LIST: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "service_id": _STR1,
            "as_id_list": {"type": "array", "items": _STR1},
            "min_as": {"type": "integer", "minimum": 0},
            "request_params": {"type": "string"},
        },
        "required": ["service_id", "min_as"],
    },
    "uniqueItems": True,
}


def _create_branch(modes: list[int], with_bypass: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "node_id": _STR1,
        "reference_id": _STR1,
        "callback_url": _URL,
        "mode": {"type": "number", "enum": modes},
        "idp_id_list": {"type": "array", "items": _STR1, "uniqueItems": True},
        "data_request_list": _DATA_REQUEST_LIST,
        "request_message": {"type": "string"},
        "min_ial": {"type": "number"},
        "min_aal": {"type": "number"},
        "min_idp": {"type": "integer", "minimum": 1},
        "request_timeout": {"type": "integer", "minimum": 1},
        "initial_salt": {"type": "string"},
        "request_type": _STR1,
    }
    required = ["reference_id", "callback_url", "mode", "request_message", "min_ial", "min_aal",
                "min_idp", "request_timeout"]
    if with_bypass:
        props["bypass_identity_check"] = {"type": "boolean"}
        required.append("bypass_identity_check")
    return {"type": "object", "properties": props, "required": required}


CREATE_REQUEST_SCHEMA: dict[str, Any] = {
    "anyOf": [_create_branch([1], False), _create_branch([2, 3], True)]}
CLOSE_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"node_id": _STR1, "reference_id": _STR1, "callback_url": _URL,
                   "request_id": _STR1},
    "required": ["reference_id", "callback_url", "request_id"],
}
IDP_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"min_ial": {"type": "string"}, "min_aal": {"type": "string"},
                   "supported_feature_list": {"type": "string"},
                   "agent": {"type": "string", "enum": ["false", "true"]},
                   "filter_for_node_id": {"type": "string"}},
}
IDENTITY_IDP_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"min_ial": {"type": "string"}, "min_aal": {"type": "string"},
                   "supported_feature_list": {"type": "string"},
                   "mode": {"type": "string", "enum": ["2", "3"]},
                   "filter_for_node_id": {"type": "string"}},
}

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*")


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | Decimal) and not isinstance(value, bool)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, Decimal) and value.is_finite()
                                          and value == value.to_integral_value())
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(kind)


def _schema_error(ipath: str, spath: str, keyword: str, params: dict[str, Any],
                  message: str) -> dict[str, Any]:
    return {"instancePath": ipath, "schemaPath": spath, "keyword": keyword, "params": params,
            "message": message}


def validate(schema: Mapping[str, Any], value: Any) -> list[dict[str, Any]]:
    """All errors (ajv `allErrors`), each {instancePath, schemaPath, keyword, params, message}."""
    errors: list[dict[str, Any]] = []
    _validate(schema, value, "", "#", errors)
    return errors


def _validate(schema: Mapping[str, Any], value: Any, ipath: str, spath: str,
              out: list[dict[str, Any]]) -> None:
    spath = schema.get("$id", spath)
    if "anyOf" in schema:
        collected: list[dict[str, Any]] = []
        for i, sub in enumerate(schema["anyOf"]):
            branch: list[dict[str, Any]] = []
            _validate(sub, value, ipath, f"{spath}/anyOf/{i}", branch)
            if not branch:
                return
            collected.extend(branch)
        out.extend(collected)
        out.append(_schema_error(ipath, f"{spath}/anyOf", "anyOf", {},
                                 "must match a schema in anyOf"))
        return
    kind = schema.get("type")
    if kind and not _is_type(value, kind):
        out.append(_schema_error(ipath, f"{spath}/type", "type", {"type": kind},
                                 f"must be {kind}"))
        return
    if "enum" in schema and not any(
            _is_type(value, "number") == _is_type(v, "number") and value == v
            for v in schema["enum"]):
        out.append(_schema_error(ipath, f"{spath}/enum", "enum",
                                 {"allowedValues": list(schema["enum"])},
                                 "must be equal to one of the allowed values"))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            limit = schema["minLength"]
            out.append(_schema_error(ipath, f"{spath}/minLength", "minLength", {"limit": limit},
                                     f"must NOT have fewer than {limit} characters"))
        if schema.get("format") == "uri" and not _URI.fullmatch(value):
            out.append(_schema_error(ipath, f"{spath}/format", "format", {"format": "uri"},
                                     'must match format "uri"'))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(_schema_error(ipath, f"{spath}/pattern", "pattern",
                                     {"pattern": schema["pattern"]},
                                     f'must match pattern "{schema["pattern"]}"'))
    if _is_type(value, "number") and "minimum" in schema and value < schema["minimum"]:
        limit = schema["minimum"]
        out.append(_schema_error(ipath, f"{spath}/minimum", "minimum",
                                 {"comparison": ">=", "limit": limit}, f"must be >= {limit}"))
    if isinstance(value, list):
        if schema.get("uniqueItems"):
            seen: dict[str, int] = {}
            for i, item in enumerate(value):
                key = json_text(item)
                if key in seen:
                    j = seen[key]
                    out.append(_schema_error(
                        ipath, f"{spath}/uniqueItems", "uniqueItems", {"i": i, "j": j},
                        f"must NOT have duplicate items (items ## {j} and {i} are identical)"))
                    break
                seen[key] = i
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(schema["items"], item, f"{ipath}/{i}", f"{spath}/items", out)
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                out.append(_schema_error(ipath, f"{spath}/required", "required",
                                         {"missingProperty": name},
                                         f"must have required property '{name}'"))
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _validate(sub, value[name], f"{ipath}/{_pointer(name)}",
                          f"{spath}/properties/{_pointer(name)}", out)


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _checked(schema: Mapping[str, Any], value: Any, error: tuple[int, str]) -> None:
    errors = validate(schema, value)
    if errors:
        raise _fail(error, {"valid": False, "errors": errors})


def _query_dict() -> dict[str, Any]:
    """The query string as express parses it: a repeated name becomes an array."""
    out: dict[str, Any] = {}
    for name in http_request.args:
        values = http_request.args.getlist(name)
        out[name] = values[0] if len(values) == 1 else values
    return out


# --------------------------------------------------------------------------------------------
# Rules


def thai_id_valid(identifier: str) -> bool:
    """The real node's check: 13 characters, S = sum d_i*(14-i), c = (11 - S mod 11) mod 10."""
    if len(identifier) != 13 or not (identifier.isascii() and identifier.isdigit()):
        return False
    s = sum(int(d) * (14 - i) for i, d in enumerate(identifier[:12], start=1))
    return int(identifier[12]) == (11 - s % 11) % 10


def request_status(answers: list[Answer], idp_count: int, min_idp: int) -> str:
    """The real node's getRequestStatus for a request without data requests."""
    accept = sum(1 for a in answers if a.status == "accept")
    reject = sum(1 for a in answers if a.status == "reject")
    error = sum(1 for a in answers if a.error_code is not None)
    if error > idp_count - min_idp:
        return "errored"
    status = "pending"
    if accept > 0 and reject == 0:
        status = "confirmed"
    elif accept == 0 and reject > 0:
        status = "rejected"
    elif accept > 0 and reject > 0:
        status = "complicated"
    answered = sum(1 for a in answers if a.error_code is None)
    if answered == min_idp and reject == 0 and accept > 0:
        status = "completed"
    return status


def _js_float_prefix(text: str) -> Decimal | None:
    """parseFloat: the longest numeric prefix, or None (NaN)."""
    m = re.match(r"\s*([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)", text)
    if not m:
        return None
    try:
        return Decimal(m.group(1))
    except InvalidOperation:
        return None


def _level(value: Any) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError("levels are decimal strings, ints or Decimals, never floats")
    return Decimal(str(value))


def _canonical(value: Decimal, scale: Iterable[Decimal]) -> Decimal:
    for v in scale:
        if v == value:
            return v
    return value


# --------------------------------------------------------------------------------------------
# Model


@dataclass
class Bank:
    node_id: str
    name_th: str
    name_en: str
    max_ial: Decimal
    max_aal: Decimal
    agent: bool = False
    supported_feature_list: list[str] = field(default_factory=list)
    mode_list: list[int] = field(default_factory=lambda: [2, 3])
    identities: dict[str, Decimal] | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Bank:
        identities = d.get("identities")
        return cls(
            node_id=str(d["node_id"]), name_th=str(d["name_th"]), name_en=str(d["name_en"]),
            max_ial=_canonical(_level(d["max_ial"]), SUPPORTED_IAL),
            max_aal=_canonical(_level(d["max_aal"]), SUPPORTED_AAL),
            agent=bool(d.get("agent", False)),
            supported_feature_list=[str(f) for f in d.get("supported_feature_list", [])],
            mode_list=[int(m) for m in d.get("mode_list", [2, 3])],
            identities=None if identities is None else {
                str(k): _canonical(_level(v), SUPPORTED_IAL) for k, v in identities.items()},
        )

    @property
    def node_name(self) -> str:
        """NDID node names are JSON text with marketing names in Thai and English."""
        return json.dumps({
            "industry_code": "999", "company_code": "999",
            "marketing_name_th": self.name_th, "marketing_name_en": self.name_en,
            "proxy_or_subsidiary_name_th": "", "proxy_or_subsidiary_name_en": "",
            "role": "IDP", "running": "1"}, ensure_ascii=False, separators=(",", ":"))

    def identity_ial(self, namespace: str, identifier: str, script: Script) -> Decimal | None:
        if script.scenario_for(identifier).outcome == "not_registered":
            return None
        if self.identities is not None:
            return self.identities.get(identifier)
        if namespace == "citizen_id" and thai_id_valid(identifier):
            return self.max_ial
        return None

    def info(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "node_name": self.node_name, "max_ial": self.max_ial,
                "max_aal": self.max_aal, "supported_feature_list": self.supported_feature_list,
                "lial": None, "laal": None, "supported_request_message_data_url_type_list": [],
                "agent": self.agent}


@dataclass
class Answer:
    idp_id: str
    status: str | None = None
    ial: Decimal | None = None
    aal: Decimal | None = None
    signature: str | None = None
    error_code: int | None = None
    valid_signature: bool | None = None
    valid_ial: bool | None = None

    def entry(self, valid: bool) -> dict[str, Any]:
        """As response_list holds it. `valid`: include the RP node's checks (callbacks, or the
        chain once the request is closed or timed out); otherwise they are still null."""
        vs = self.valid_signature if valid else None
        vi = self.valid_ial if valid else None
        if self.error_code is not None:
            return {"idp_id": self.idp_id, "valid_ial": None, "valid_signature": None,
                    "error_code": self.error_code}
        return {"ial": self.ial, "aal": self.aal, "status": self.status,
                "signature": self.signature, "idp_id": self.idp_id, "valid_ial": vi,
                "valid_signature": vs}


@dataclass
class SandboxRequest:
    request_id: str
    reference_id: str
    callback_url: str
    namespace: str
    identifier: str
    mode: int
    bypass: bool
    idp_id_list: list[str]
    request_message: str
    request_message_hash: str
    initial_salt: str
    min_ial: Decimal
    min_aal: Decimal
    min_idp: int
    request_timeout: int
    request_type: str | None
    created_at: float
    creation_height: int
    scenario: Scenario
    answers: list[Answer] = field(default_factory=list)
    closed: bool = False
    timed_out: bool = False
    held: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.closed or self.timed_out

    @property
    def status(self) -> str:
        return request_status(self.answers, len(self.idp_id_list), self.min_idp)

    def chain_view(self, for_callback: bool) -> dict[str, Any]:
        valid = for_callback or self.finished
        return {
            "request_id": self.request_id,
            "min_idp": self.min_idp,
            "min_aal": self.min_aal,
            "min_ial": self.min_ial,
            "request_timeout": self.request_timeout,
            "idp_id_list": list(self.idp_id_list),
            "data_request_list": [],
            "request_message_hash": self.request_message_hash,
            "response_list": [a.entry(valid) for a in self.answers],
            "closed": self.closed,
            "timed_out": self.timed_out,
            "mode": self.mode,
            "request_type": self.request_type,
            "requester_node_id": RP_NODE_ID,
        }


# --------------------------------------------------------------------------------------------
# Callback delivery: one background thread, a bounded queue, bounded timeouts


@dataclass
class _Delivery:
    url: str
    body: str
    kind: str
    done: threading.Event | None = None


class CallbackSender:
    def __init__(self, *, timeout: float, attempts: int, maxsize: int = 10_000) -> None:
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(maxsize=maxsize)
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._http = requests.Session()
        self._thread = threading.Thread(target=self._run, name="ndid-sandbox-callbacks",
                                        daemon=True)
        self._thread.start()

    def send(self, url: str, body: Mapping[str, Any], *, wait: bool = False
             ) -> threading.Event | None:
        done = threading.Event() if wait else None
        try:
            self._queue.put_nowait(_Delivery(url, json_text(body), str(body.get("type")), done))
        except queue.Full:
            log.warning("sandbox NDID: callback queue full, dropped a %s callback",
                        body.get("type"))
            if done is not None:
                done.set()
        return done

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=self._timeout * self._attempts + 1)
        self._http.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._deliver(item)
            finally:
                if item.done is not None:
                    item.done.set()

    def _deliver(self, item: _Delivery) -> None:
        for attempt in range(self._attempts):
            try:
                self._http.post(item.url, data=item.body.encode(),
                                headers={"Content-Type": "application/json"},
                                timeout=(self._timeout, self._timeout), allow_redirects=False)
                return  # any HTTP answer counts as delivered, as on the real node
            except requests.RequestException as exc:
                log.info("sandbox NDID: %s callback to %s failed (%s), attempt %d",
                         item.kind, urlsplit(item.url).netloc, type(exc).__name__, attempt + 1)
                time.sleep(min(0.1 * 2**attempt, 1.0))


# --------------------------------------------------------------------------------------------
# The node


class SandboxNode:
    """State and behaviour of the sandbox node; the Flask views are thin wrappers."""

    def __init__(self, banks: list[Bank], clock: Callable[[], float], script: Script) -> None:
        if not banks:
            raise ValueError("the sandbox needs at least one bank")
        ids = [b.node_id for b in banks]
        if len(set(ids)) != len(ids):
            raise ValueError("bank node ids must be unique")
        self.banks = {b.node_id: b for b in banks}
        self.clock = clock
        self.script = script
        self.height = 1
        self.requests: dict[str, SandboxRequest] = {}
        self.references: dict[str, str] = {}
        self._actions: list[tuple[float, str, str, str]] = []  # (due, request, bank, decision)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.sender = CallbackSender(timeout=script.callback_timeout,
                                     attempts=script.callback_attempts)
        self._timer = threading.Thread(target=self._run_timer, name="ndid-sandbox-timer",
                                       daemon=True)
        self._timer.start()

    def close(self) -> None:
        self._stop.set()
        self._timer.join(timeout=2)
        self.sender.close()

    # -- time ---------------------------------------------------------------------------------

    def _run_timer(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:  # keep the timer alive; the next tick tries again
                log.exception("sandbox NDID: timer tick failed")

    def tick(self) -> None:
        """Time out overdue requests and run scripted bank answers that are due."""
        with self._lock:
            now = self.clock()
            for req in list(self.requests.values()):
                if not req.finished and now >= req.created_at + req.request_timeout:
                    self.height += 1
                    req.timed_out = True
                    self._end(req)
                    self._emit_status(req)
            due = time.monotonic()
            ready = [a for a in self._actions if a[0] <= due]
            self._actions = [a for a in self._actions if a[0] > due]
        for _, request_id, bank_id, decision in ready:
            # NodeError: the request ended first (closed, timed out, errored): nothing to do
            with contextlib.suppress(NodeError):
                self.answer(request_id, bank_id, decision)

    # -- chain and callbacks -------------------------------------------------------------------

    def _block(self) -> str:
        return f"{CHAIN_ID}:{self.height}"

    def _send(self, req: SandboxRequest, url: str, body: dict[str, Any], *, wait: bool = False
              ) -> list[threading.Event]:
        events = []
        for _ in range(2 if req.scenario.duplicate_callbacks else 1):
            ev = self.sender.send(url, body, wait=wait)
            if ev is not None:
                events.append(ev)
        return events

    def _status_body(self, req: SandboxRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"node_id": RP_NODE_ID, "type": "request_status"}
        body.update(req.chain_view(for_callback=True))
        body["status"] = req.status
        body["block_height"] = self._block()
        return body

    def _emit_status(self, req: SandboxRequest, *, hold_allowed: bool = True) -> None:
        body = self._status_body(req)
        if req.scenario.reorder_callbacks and hold_allowed:
            if req.held is not None:
                held, req.held = req.held, None
                self._send(req, req.callback_url, body)
                self._send(req, req.callback_url, held)
                return
            if not (body["closed"] or body["timed_out"]):
                req.held = body
                return
        self._send(req, req.callback_url, body)

    def _end(self, req: SandboxRequest) -> None:
        if self.references.get(req.reference_id) == req.request_id:
            del self.references[req.reference_id]
        self._actions = [a for a in self._actions if a[1] != req.request_id]

    # -- queries ------------------------------------------------------------------------------

    def list_idps(self, query: Mapping[str, Any], namespace: str | None = None,
                  identifier: str | None = None) -> list[dict[str, Any]]:
        min_ial = _js_float_prefix(str(query.get("min_ial", "0")))
        min_aal = _js_float_prefix(str(query.get("min_aal", "0")))
        if min_ial is None or min_aal is None:
            return []  # NaN compares false with every level
        features = [f.strip() for f in str(query.get("supported_feature_list", "")).split(",")
                    if f.strip()]
        agent = {"true": True, "false": False}.get(str(query.get("agent")))
        mode = int(query["mode"]) if "mode" in query else None
        out = []
        for bank in self.banks.values():
            if not (bank.max_ial >= min_ial and bank.max_aal >= min_aal):
                continue
            if any(f not in bank.supported_feature_list for f in features):
                continue
            if agent is not None and bank.agent != agent:
                continue
            info = bank.info()
            if namespace is not None and identifier is not None:
                ial = bank.identity_ial(namespace, identifier, self.script)
                if ial is None or ial < min_ial:
                    continue
                if mode is not None and mode not in bank.mode_list:
                    continue
                info["ial"] = ial
                info["mode_list"] = list(bank.mode_list)
            out.append(info)
        return out

    def _receivers(self, *, namespace: str, identifier: str, min_ial: Decimal | None,
                   min_aal: Decimal, idp_id_list: list[str], mode: int | None
                   ) -> list[Bank]:
        """getIdpMQDestinations: banks that may receive the request."""
        out = []
        for bank in self.banks.values():
            if min_ial is not None and bank.max_ial < min_ial:
                continue
            if bank.max_aal < min_aal:
                continue
            if idp_id_list and bank.node_id not in idp_id_list:
                continue
            if mode in (2, 3):
                ial = bank.identity_ial(namespace, identifier, self.script)
                if ial is None or (min_ial is not None and ial < min_ial):
                    continue
                if mode not in bank.mode_list:
                    continue
            out.append(bank)
        return out

    def request_detail(self, request_id: str) -> dict[str, Any] | None:
        self.tick()
        with self._lock:
            req = self.requests.get(request_id)
            if req is None:
                return None
            body = req.chain_view(for_callback=False)
            body["status"] = req.status
            body["creation_block_height"] = f"{CHAIN_ID}:{req.creation_height}"
            return body

    def request_id_for_reference(self, reference_id: str) -> str | None:
        self.tick()
        with self._lock:
            return self.references.get(reference_id)

    # -- create -------------------------------------------------------------------------------

    def create(self, namespace: str, identifier: str, body: Any
               ) -> tuple[dict[str, Any], SandboxRequest, list[threading.Event]]:
        _checked(CREATE_REQUEST_SCHEMA, body, E_BODY)
        mode = int(body["mode"])
        scenario = self.script.scenario_for(identifier)
        if mode not in self.script.allowed_modes:
            raise _fail(E_UNSUPPORTED_MODE)
        if body.get("request_type") not in (None, ""):
            raise _fail(E_INVALID_REQUEST_TYPE)  # the sandbox platform defines no request types
        min_ial = Decimal(body["min_ial"])
        min_aal = Decimal(body["min_aal"])
        if min_ial not in SUPPORTED_IAL:
            raise _fail(E_UNSUPPORTED_IAL)
        if min_aal not in SUPPORTED_AAL:
            raise _fail(E_UNSUPPORTED_AAL)
        min_ial = _canonical(min_ial, SUPPORTED_IAL)
        min_aal = _canonical(min_aal, SUPPORTED_AAL)
        bypass = bool(body.get("bypass_identity_check"))
        if scenario.outcome == "invalid_id":
            raise _fail(E_INVALID_IDENTIFIER)
        if (mode == 1 or bypass) and namespace == "citizen_id" and not thai_id_valid(identifier):
            raise _fail(E_INVALID_IDENTIFIER)
        reference_id = body["reference_id"]
        self.tick()
        with self._lock:
            if scenario.outcome == "duplicate_reference" or reference_id in self.references:
                raise _fail(E_DUPLICATE_REFERENCE_ID)
            idp_id_list = list(body.get("idp_id_list") or [])
            for node_id in idp_id_list:
                if node_id not in self.banks and node_id != RP_NODE_ID:
                    raise _fail(E_UNQUALIFIED_IDP)  # unknown node (checkWhitelistCondition)
            min_idp = int(body["min_idp"])
            if idp_id_list and len(idp_id_list) < min_idp:
                raise _fail(E_IDP_LIST_LESS_THAN_MIN_IDP)
            if (mode == 1 or bypass) and not idp_id_list:
                raise _fail(E_IDP_ID_LIST_NEEDED)
            receivers = self._receivers(
                namespace=namespace, identifier=identifier,
                min_ial=None if bypass else min_ial, min_aal=min_aal, idp_id_list=idp_id_list,
                mode=None if bypass else mode)
            if not receivers:
                raise _fail(E_NO_IDP_FOUND)
            if idp_id_list and len(receivers) < len(idp_id_list):
                raise _fail(E_UNQUALIFIED_IDP)
            if len(receivers) < min_idp:
                raise _fail(E_NOT_ENOUGH_IDP)
            _check_data_requests(body.get("data_request_list") or [])
            initial_salt = body.get("initial_salt") or ""
            if initial_salt and len(initial_salt) < SALT_TEXT_LENGTH:
                raise _fail(E_INITIAL_SALT_TOO_SHORT)
            if not initial_salt:
                initial_salt = base64.b64encode(secrets.token_bytes(SALT_BYTES)).decode()
            if len(self.requests) >= MAX_REQUESTS:
                self._purge()
            request_id = secrets.token_hex(32)
            message = body["request_message"]
            self.height += 1
            req = SandboxRequest(
                request_id=request_id, reference_id=reference_id,
                callback_url=body["callback_url"], namespace=namespace, identifier=identifier,
                mode=mode, bypass=bypass,
                idp_id_list=idp_id_list or [b.node_id for b in receivers],
                request_message=message,
                request_message_hash=_message_hash(message, namespace, identifier,
                                                   initial_salt),
                initial_salt=initial_salt, min_ial=min_ial, min_aal=min_aal, min_idp=min_idp,
                request_timeout=int(body["request_timeout"]),
                request_type=body.get("request_type") or None, created_at=self.clock(),
                creation_height=self.height, scenario=scenario)
            self.requests[request_id] = req
            self.references[reference_id] = request_id
            events: list[threading.Event] = []
            if scenario.early_callbacks:
                events = self._announce(req, wait=True)
        return {"request_id": request_id, "initial_salt": initial_salt}, req, events

    def announce_later(self, req: SandboxRequest) -> None:
        """After the 202 has been written: the creation callbacks, then scripted answers."""
        with self._lock:
            if not req.scenario.early_callbacks:
                self._announce(req, wait=False)
            self._schedule(req)

    def _announce(self, req: SandboxRequest, *, wait: bool) -> list[threading.Event]:
        created = {"node_id": RP_NODE_ID, "type": "create_request_result", "success": True,
                   "reference_id": req.reference_id, "request_id": req.request_id,
                   "creation_block_height": f"{CHAIN_ID}:{req.creation_height}"}
        events = self._send(req, req.callback_url, created, wait=wait)
        pending = self._status_body(req)
        # the request as the creation block holds it, whatever happened since
        pending.update(response_list=[], closed=False, timed_out=False, status="pending",
                       block_height=f"{CHAIN_ID}:{req.creation_height}")
        if req.scenario.reorder_callbacks and not wait:
            req.held = pending
        else:
            events += self._send(req, req.callback_url, pending, wait=wait)
        return events

    def _schedule(self, req: SandboxRequest) -> None:
        outcome = req.scenario.outcome
        due = time.monotonic() + self.script.answer_delay
        if outcome == "accept":
            banks = req.idp_id_list[:req.min_idp]
            self._actions += [(due, req.request_id, b, "accept") for b in banks]
        elif outcome == "reject":
            self._actions.append((due, req.request_id, req.idp_id_list[0], "reject"))
        elif outcome == "errored":
            self._actions += [(due, req.request_id, b, "error") for b in req.idp_id_list]

    def _purge(self) -> None:
        for request_id, req in list(self.requests.items()):
            if len(self.requests) < MAX_REQUESTS:
                return
            if req.finished:
                del self.requests[request_id]
        if len(self.requests) >= MAX_REQUESTS:
            raise _fail(E_UNKNOWN)

    # -- bank answers -------------------------------------------------------------------------

    def pending_for(self, bank_id: str) -> list[SandboxRequest]:
        self.tick()
        with self._lock:
            return [r for r in self.requests.values()
                    if bank_id in r.idp_id_list and not r.finished
                    and r.scenario.outcome != "timeout"
                    and all(a.idp_id != bank_id for a in r.answers)]

    def answer(self, request_id: str, bank_id: str, decision: str) -> SandboxRequest:
        """A bank answers: "accept", "reject" or "error" (with Script.bank_error_code)."""
        self.tick()
        with self._lock:
            req = self.requests.get(request_id)
            bank = self.banks.get(bank_id)
            if req is None or bank is None or bank_id not in req.idp_id_list:
                raise _fail(E_REQUEST_NOT_FOUND)
            if req.closed:
                raise _fail(E_REQUEST_CLOSED)
            if req.timed_out:
                raise _fail(E_REQUEST_TIMED_OUT)
            if any(a.idp_id == bank_id for a in req.answers):
                # sandbox-only refusal (the bank page turns it into 409); never sent to an RP
                raise NodeError(0, "This bank has already answered")
            if decision == "error":
                ans = Answer(idp_id=bank_id, error_code=self.script.bank_error_code)
            else:
                ial = bank.max_ial
                if req.mode in (2, 3) and not req.bypass:
                    ial = bank.identity_ial(req.namespace, req.identifier, self.script) or ial
                signed = hmac.new(bank.secret, req.request_message_hash.encode(),
                                  hashlib.sha256).digest()
                checked = True if req.mode in (2, 3) else None
                ans = Answer(idp_id=bank_id, status=decision, ial=ial, aal=bank.max_aal,
                             signature=base64.b64encode(signed).decode(),
                             valid_signature=checked, valid_ial=checked)
            self.height += 1
            req.answers.append(ans)
            self._emit_status(req)
            status = req.status
            if status in ("completed", "errored"):
                self.height += 1  # the node closes the request by itself, with no callback
                req.closed = True
                self._end(req)
                self._emit_status(req)
            return req

    # -- close --------------------------------------------------------------------------------

    def close_request(self, reference_id: str, callback_url: str, request_id: str) -> None:
        """Runs after the 202: the chain's answer comes by callback."""
        self.tick()
        with self._lock:
            req = self.requests.get(request_id)
            result: dict[str, Any] = {"node_id": RP_NODE_ID, "type": "close_request_result",
                                      "success": True, "reference_id": reference_id,
                                      "request_id": request_id}
            error = None
            if req is None:
                error = E_REQUEST_NOT_FOUND
            elif req.closed:
                error = E_REQUEST_CLOSED
            elif req.timed_out:
                error = E_REQUEST_TIMED_OUT
            if error is not None:
                result["success"] = False
                result["error"] = {"code": error[0], "message": error[1]}
                self.sender.send(callback_url, result)
                if req is not None and req.scenario.duplicate_callbacks:
                    self.sender.send(callback_url, result)
                return
            assert req is not None
            self.height += 1
            req.closed = True
            self._end(req)
            self._send(req, callback_url, result)
            self._emit_status(req)


def _check_data_requests(data_request_list: list[dict[str, Any]]) -> None:
    """checkAsListCondition on a platform where no authoritative source offers any service."""
    ids = [d["service_id"] for d in data_request_list]
    if len(set(ids)) != len(ids):
        raise _fail(E_DUPLICATE_SERVICE_ID)
    for d in data_request_list:
        as_id_list = d.get("as_id_list") or None
        min_as = int(d["min_as"])
        if as_id_list is not None:
            if len(as_id_list) < min_as:
                raise _fail(E_AS_LIST_LESS_THAN_MIN_AS)
            if min_as > 0:
                raise _fail(E_NOT_ENOUGH_AS)
            raise _fail(E_SOME_AS_DO_NOT_PROVIDE_SERVICE)
        raise _fail(E_NOT_ENOUGH_AS)


def _message_hash(message: str, namespace: str, identifier: str, initial_salt: str) -> str:
    salt = base64.b64encode(hashlib.sha256(
        (namespace + identifier + initial_salt).encode()).digest()[:SALT_BYTES]).decode()
    return base64.b64encode(hashlib.sha256((message + salt).encode()).digest()).decode()


# --------------------------------------------------------------------------------------------
# HTTP


def _node() -> SandboxNode:
    node = current_app.extensions["ndid_sandbox"]
    assert isinstance(node, SandboxNode)
    return node


api = Blueprint("ndid_api", __name__)


@api.get("/utility/idp")
def utility_idp() -> Response:
    query = _query_dict()
    _checked(IDP_QUERY_SCHEMA, query, E_QUERY)
    return _json_response(_node().list_idps(query))


@api.get("/utility/idp/<namespace>/<identifier>")
def utility_idp_identity(namespace: str, identifier: str) -> Response:
    query = _query_dict()
    _checked(IDENTITY_IDP_QUERY_SCHEMA, query, E_QUERY)
    return _json_response(_node().list_idps(query, namespace, identifier))


@api.post("/rp/requests/<namespace>/<identifier>")
def create_request(namespace: str, identifier: str) -> Response:
    node = _node()
    body = _read_json_body()
    result, req, events = node.create(namespace, identifier, body)
    deadline = time.monotonic() + node.script.callback_timeout + 0.5
    for ev in events:  # scripted: the callbacks reach the caller before this answer does
        ev.wait(max(0.0, deadline - time.monotonic()))
    resp = _json_response(result, 202)
    resp.call_on_close(lambda: node.announce_later(req))
    return resp


@api.post("/rp/request_close")
def close_request() -> Response:
    node = _node()
    body = _read_json_body()
    _checked(CLOSE_REQUEST_SCHEMA, body, E_BODY)
    resp = Response(status=202)
    resp.call_on_close(lambda: node.close_request(body["reference_id"], body["callback_url"],
                                                  body["request_id"]))
    return resp


@api.get("/rp/request_data/<request_id>")
def request_data(request_id: str) -> Response:
    if _node().request_detail(request_id) is None:
        return Response(status=404)
    return _json_response([])  # no authoritative source answers in the sandbox


@api.get("/rp/request_references/<reference_id>")
def request_reference(reference_id: str) -> Response:
    request_id = _node().request_id_for_reference(reference_id)
    if request_id is None:
        return Response(status=404)
    return _json_response({"request_id": request_id})


@api.get("/utility/requests/<request_id>")
def utility_request(request_id: str) -> Response:
    detail = _node().request_detail(request_id)
    if detail is None:
        return Response(status=404)
    return _json_response(detail)


@api.get("/utility/idp_error_codes")
def idp_error_codes() -> Response:
    return _json_response(IDP_ERROR_CODES)


@api.errorhandler(NodeError)
def _node_error(err: NodeError) -> Response:
    return _error_response(err)


@api.errorhandler(RequestEntityTooLarge)
def _too_large(_: RequestEntityTooLarge) -> Response:
    return _error_response(_fail(E_BODY_TOO_LARGE))


# -- the simulated bank apps -------------------------------------------------------------------

bank_pages = Blueprint("ndid_bank", __name__)

_PAGE = """<!doctype html>
<html lang="th">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title_th }} · {{ title_en }} — SANDBOX</title>
</head>
<body>
<p><strong>แซนด์บ็อกซ์ — ไม่ใช่ NDID จริง · SANDBOX — not the real NDID</strong></p>
{% block content %}{% endblock %}
</body>
</html>
"""

_BANK_LIST = _PAGE.replace("{% block content %}{% endblock %}", """
<h1>แอปธนาคารจำลอง · Simulated bank apps</h1>
<ul>
{% for bank in banks %}
<li><a href="{{ url_for('ndid_bank.bank_page', node_id=bank.node_id) }}">{{ bank.name_th }}
 · {{ bank.name_en }}</a> (IAL ≤ {{ bank.max_ial }}, AAL ≤ {{ bank.max_aal }})</li>
{% endfor %}
</ul>
""")

_BANK_PAGE = _PAGE.replace("{% block content %}{% endblock %}", """
<h1>{{ bank.name_th }} · {{ bank.name_en }}</h1>
<p>แอปธนาคารจำลอง: ยืนยันหรือปฏิเสธคำขอยืนยันตัวตน ·
 Simulated bank app: approve or refuse identity verification requests.</p>
{% if done == "accept" %}<p role="status">ยืนยันแล้ว · Approved.</p>{% endif %}
{% if done == "reject" %}<p role="status">ปฏิเสธแล้ว · Refused.</p>{% endif %}
{% if not pending %}
<p>ไม่มีคำขอที่รอการยืนยัน · No requests are waiting.</p>
{% endif %}
{% for req in pending %}
<section>
<h2>คำขอ · Request {{ req.request_id[:12] }}…</h2>
<blockquote>{{ req.request_message }}</blockquote>
<dl>
<dt>ผู้ขอ · Requested by</dt><dd>{{ requester }}</dd>
<dt>เลขประจำตัว · Identifier</dt><dd>{{ masked(req) }}</dd>
<dt>ระดับที่ขอ · Levels asked</dt><dd>IAL {{ req.min_ial }} · AAL {{ req.min_aal }}
 · mode {{ req.mode }}</dd>
<dt>หมดเวลาใน · Expires in</dt><dd>{{ seconds_left(req) }} วินาที · seconds</dd>
</dl>
<form method="post"
 action="{{ url_for('ndid_bank.bank_decision', node_id=bank.node_id,
                    request_id=req.request_id) }}">
<button type="submit" name="decision" value="accept">ยืนยัน · Approve</button>
<button type="submit" name="decision" value="reject">ปฏิเสธ · Refuse</button>
</form>
</section>
{% endfor %}
""")

_MESSAGE_PAGE = _PAGE.replace("{% block content %}{% endblock %}", """
<h1>{{ heading_th }} · {{ heading_en }}</h1>
<p><a href="{{ back }}">กลับ · Back</a></p>
""")


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("title_th", "แอปธนาคารจำลอง")
    context.setdefault("title_en", "Simulated bank app")
    return Response(render_template_string(template, **context), status=status,
                    mimetype="text/html")


def _masked(req: SandboxRequest) -> str:
    ident = req.identifier
    return ("X" * max(0, len(ident) - 4)) + ident[-4:] if len(ident) > 4 else "XXXX"


@bank_pages.get("/bank")
def bank_list() -> Response:
    return _page(_BANK_LIST, banks=list(_node().banks.values()))


@bank_pages.get("/bank/<node_id>")
def bank_page(node_id: str) -> Response:
    node = _node()
    bank = node.banks.get(node_id)
    if bank is None:
        return _page(_MESSAGE_PAGE, 404, heading_th="ไม่พบธนาคารนี้", heading_en="No such bank",
                     back="/bank")
    now = node.clock()
    return _page(_BANK_PAGE, bank=bank, pending=node.pending_for(node_id),
                 requester=RP_NODE_ID, done=http_request.args.get("done"), masked=_masked,
                 seconds_left=lambda r: max(0, int(r.created_at + r.request_timeout - now)))


@bank_pages.post("/bank/<node_id>/requests/<request_id>")
def bank_decision(node_id: str, request_id: str) -> BaseResponse:
    node = _node()
    back = f"/bank/{node_id}"
    if not _same_origin():
        return _page(_MESSAGE_PAGE, 403, heading_th="คำขอจากเว็บไซต์อื่น",
                     heading_en="Cross-site request refused", back=back)
    decision = http_request.form.get("decision")
    if decision not in ("accept", "reject"):
        return _page(_MESSAGE_PAGE, 400, heading_th="คำตอบไม่ถูกต้อง",
                     heading_en="Unknown decision", back=back)
    req = node.requests.get(request_id)
    if req is not None and req.scenario.outcome == "timeout":
        req = None  # scripted to time out: the bank never sees it
    try:
        if req is None:
            raise _fail(E_REQUEST_NOT_FOUND)
        node.answer(request_id, node_id, decision)
    except NodeError as err:
        if err.code == E_REQUEST_NOT_FOUND[0]:
            return _page(_MESSAGE_PAGE, 404, heading_th="ไม่พบคำขอนี้",
                         heading_en="No such request for this bank", back=back)
        return _page(_MESSAGE_PAGE, 409, heading_th="คำขอนี้ตอบไม่ได้แล้ว",
                     heading_en="This request can no longer be answered "
                                "(answered, closed or timed out)", back=back)
    return redirect(f"{back}?done={decision}", code=303)


def _same_origin() -> bool:
    """CSRF defence without a token, so the form stays `decision=accept|reject`: browsers send
    Origin (or Sec-Fetch-Site) on cross-site posts, and those are refused."""
    site = http_request.headers.get("Sec-Fetch-Site")
    if site is not None:
        # A browser that sends it is believed: our pages' `Referrer-Policy: no-referrer` makes
        # it send `Origin: null` on its own same-origin form posts.
        return site in ("same-origin", "none")
    origin = http_request.headers.get("Origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == http_request.host


# --------------------------------------------------------------------------------------------


def create_ndid_app(*, banks: list[dict[str, Any]] | None = None,
                    clock: Callable[[], float] = time.time,
                    script: Script | None = None) -> Flask:
    """The SANDBOX NDID node as a Flask app. `app.extensions["ndid_sandbox"]` is its
    `SandboxNode`; call its `close()` to stop the timer and callback threads."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    node = SandboxNode([Bank.from_dict(b) for b in (banks or DEFAULT_BANKS)], clock,
                       script or Script())
    app.extensions["ndid_sandbox"] = node
    app.register_blueprint(api)
    app.register_blueprint(api, url_prefix="/v6", name="ndid_api_v6")
    app.register_blueprint(bank_pages)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers[SANDBOX_HEADER[0]] = SANDBOX_HEADER[1]
        if resp.mimetype == "text/html":
            resp.headers["Content-Security-Policy"] = (
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'; "
                "base-uri 'none'")
            resp.headers["X-Frame-Options"] = "DENY"
            resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/")
    def index() -> Response:
        return Response("SANDBOX NDID node (not NDID): RP API v6 under / and /v6; simulated "
                        "bank apps under /bank\n", mimetype="text/plain")

    return app
