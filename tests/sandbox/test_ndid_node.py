"""The SANDBOX NDID node over real HTTP: every RP API v6 path, body validation and each error code
with its exact status and shape, callbacks delivered to a real receiver, the simulated bank pages,
timeouts and the scripted unhappy paths.

Expectations restate `reference/ndid-rp-api.md` and the public NDID API source; they are written
out here rather than taken from the node's own tables.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from sandbox.ndid import SCRIPTED_IDENTIFIERS, SandboxNode, Scenario, Script, create_ndid_app
from sandbox.ndid.cli import ndid
from tests.support.wsgi import serve_wsgi

VALID_ID = "1345951597671"  # checksum-valid, no script
OTHER_VALID_ID = "1103700456783"
BAD_CHECKSUM_ID = "3712644096692"  # the NDID test suite's invalid example
ACCEPT_ID = "1999999999018"
REJECT_ID = "1999999999026"
TIMEOUT_ID = "1999999999034"
ERRORED_ID = "1999999999042"
DUPLICATE_REF_ID = "1999999999051"
INVALID_ID_ID = "1999999999069"
DUPLICATE_CB_ID = "1999999999077"
REORDER_CB_ID = "1999999999085"
EARLY_CB_ID = "1999999999093"
NOT_REGISTERED_ID = "1999999999107"

BANK_A, BANK_B, BANK_C = "sandbox_bank_a", "sandbox_bank_b", "sandbox_bank_c"
IDP_KEYS = {"node_id", "node_name", "max_ial", "max_aal", "supported_feature_list", "lial",
            "laal", "supported_request_message_data_url_type_list", "agent"}
STATUS_KEYS = {"node_id", "type", "request_id", "min_idp", "min_aal", "min_ial",
               "request_timeout", "idp_id_list", "data_request_list", "request_message_hash",
               "response_list", "closed", "timed_out", "mode", "request_type",
               "requester_node_id", "status", "block_height"}
ACCEPT_ENTRY_KEYS = {"ial", "aal", "status", "signature", "idp_id", "valid_ial",
                     "valid_signature"}


def thai_id_ok(number: str) -> bool:
    if not re.fullmatch(r"[0-9]{13}", number):
        return False
    s = sum(int(d) * (14 - i) for i, d in enumerate(number[:12], start=1))
    return int(number[12]) == (11 - s % 11) % 10


def wait_until(pred: Callable[[], Any], timeout: float = 3.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def height(body: dict[str, Any], key: str = "block_height") -> int:
    chain, _, h = body[key].partition(":")
    assert chain and h.isdigit(), body[key]
    return int(h)


# --------------------------------------------------------------------------------------------
# A callback receiver: a tiny werkzeug server recording every JSON body, by path


@dataclass
class Receiver:
    base: str = ""
    bodies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def of(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.bodies.get(name, []))

    def wait(self, name: str, pred: Callable[[dict[str, Any]], bool], count: int = 1,
             timeout: float = 3.0) -> list[dict[str, Any]]:
        return list(wait_until(lambda: (m := [b for b in self.of(name) if pred(b)])
                               and len(m) >= count and m, timeout))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    @Request.application
    def app(req: Request) -> Response:
        body = json.loads(req.get_data(), parse_float=Decimal)
        with rec.lock:
            rec.bodies.setdefault(req.path.strip("/"), []).append(body)
        return Response("", 204)

    server, rec.base = serve_wsgi(app)
    yield rec
    server.shutdown()


@dataclass
class Live:
    base: str
    node: SandboxNode
    receiver: Receiver
    name: str = field(default_factory=lambda: secrets.token_hex(6))

    @property
    def callback_url(self) -> str:
        return self.receiver.url(self.name)

    def callbacks(self) -> list[dict[str, Any]]:
        return self.receiver.of(self.name)

    def body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reference_id": secrets.token_hex(8),
            "callback_url": self.callback_url,
            "mode": 1,
            "idp_id_list": [BANK_A],
            "data_request_list": [],
            "request_message": "ยืนยันตัวตนเพื่อเข้าสู่ระบบ / Verify identity to log in",
            "min_ial": Decimal("2.3"),
            "min_aal": Decimal("2.2"),
            "min_idp": 1,
            "request_timeout": 60,
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not DROP}

    def post(self, path: str, body: Any) -> requests.Response:
        text = body if isinstance(body, str) else json.dumps(body, default=_number)
        return requests.post(self.base + path, data=text.encode(), timeout=5,
                             headers={"Content-Type": "application/json"})

    def create(self, identifier: str = VALID_ID, namespace: str = "citizen_id",
               **overrides: Any) -> requests.Response:
        return self.post(f"/rp/requests/{namespace}/{identifier}", self.body(**overrides))

    def created(self, identifier: str = VALID_ID, **overrides: Any) -> dict[str, Any]:
        resp = self.create(identifier, **overrides)
        assert resp.status_code == 202, resp.text
        return dict(resp.json())

    def statuses(self, request_id: str) -> list[dict[str, Any]]:
        return [b for b in self.callbacks()
                if b["type"] == "request_status" and b["request_id"] == request_id]

    def wait_status(self, request_id: str, pred: Callable[[dict[str, Any]], bool],
                    timeout: float = 3.0) -> dict[str, Any]:
        return self.receiver.wait(
            self.name, lambda b: b["type"] == "request_status" and b["request_id"] == request_id
            and pred(b), timeout=timeout)[0]

    def bank_post(self, bank: str, request_id: str, decision: str,
                  **headers: str) -> requests.Response:
        return requests.post(f"{self.base}/bank/{bank}/requests/{request_id}",
                             data={"decision": decision}, headers=headers,
                             allow_redirects=False, timeout=5)


DROP = object()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # test bodies only: 2.3 -> 2.3 in JSON
    raise TypeError


@pytest.fixture
def make_live(receiver: Receiver) -> Iterator[Callable[..., Live]]:
    started: list[tuple[Any, SandboxNode]] = []

    def start(**kwargs: Any) -> Live:
        app = create_ndid_app(**kwargs)
        server, base = serve_wsgi(app)
        node = app.extensions["ndid_sandbox"]
        started.append((server, node))
        return Live(base, node, receiver)

    yield start
    for server, node in started:
        server.shutdown()
        node.close()


@pytest.fixture
def live(make_live: Callable[..., Live]) -> Live:
    return make_live()


def error_of(resp: requests.Response) -> int:
    assert resp.status_code == 400, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return int(body["error"]["code"])


# --------------------------------------------------------------------------------------------
# Reserved identifiers


def test_scripted_identifiers_are_checksum_valid_and_distinct() -> None:
    for number in SCRIPTED_IDENTIFIERS:
        assert thai_id_ok(number), number
    assert not thai_id_ok(BAD_CHECKSUM_ID)
    assert len(set(SCRIPTED_IDENTIFIERS.values())) == len(SCRIPTED_IDENTIFIERS) == 10


# --------------------------------------------------------------------------------------------
# GET /utility/idp


def test_list_idps_filters_by_levels_and_keeps_levels_as_json_numbers(live: Live) -> None:
    every = requests.get(f"{live.base}/utility/idp", timeout=5)
    assert every.status_code == 200
    assert every.headers["Content-Type"].startswith("application/json")
    banks = every.json()
    assert [b["node_id"] for b in banks] == [BANK_A, BANK_B, BANK_C]
    assert all(set(b) == IDP_KEYS for b in banks)
    levels = {(Decimal(str(b["max_ial"])), Decimal(str(b["max_aal"]))) for b in banks}
    assert levels == {(Decimal("2.3"), Decimal("2.2")), (Decimal("2.1"), Decimal("2.1")),
                      (Decimal(3), Decimal(3))}
    assert '"max_ial":2.3' in every.text and '"max_aal":2.2' in every.text
    assert '"max_ial":"' not in every.text
    names = json.loads(banks[0]["node_name"])
    assert names["marketing_name_en"] == "Sandbox Bank A"
    assert re.search(r"[\u0E00-\u0E7F]", names["marketing_name_th"])

    def ids(query: str) -> list[str]:
        resp = requests.get(f"{live.base}/utility/idp?{query}", timeout=5)
        assert resp.status_code == 200
        return [b["node_id"] for b in resp.json()]

    assert ids("min_ial=2.3&min_aal=2.2") == [BANK_A, BANK_C]
    assert ids("min_ial=2.1&min_aal=2.1") == [BANK_A, BANK_B, BANK_C]
    assert ids("min_ial=3&min_aal=1") == [BANK_C]
    assert ids("min_ial=1.1&min_aal=3") == [BANK_C]
    assert ids("min_ial=2.2") == [BANK_A, BANK_C]
    assert ids("agent=true") == []
    assert ids("agent=false") == [BANK_A, BANK_B, BANK_C]
    assert ids("supported_feature_list=on_the_fly") == []


def test_list_idps_query_validation_is_20002_with_details(live: Live) -> None:
    resp = requests.get(f"{live.base}/utility/idp?agent=maybe", timeout=5)
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == {"code": 20002, "message": "Query string validation failed"}
    assert body["details"]["valid"] is False
    assert body["details"]["errors"][0]["instancePath"] == "/agent"
    repeated = requests.get(f"{live.base}/utility/idp?min_ial=1.1&min_ial=2.3", timeout=5)
    assert error_of(repeated) == 20002


def test_identity_listing_gives_the_banks_holding_it(live: Live) -> None:
    resp = requests.get(f"{live.base}/utility/idp/citizen_id/{VALID_ID}", timeout=5)
    assert resp.status_code == 200
    banks = resp.json()
    assert [b["node_id"] for b in banks] == [BANK_A, BANK_B, BANK_C]
    assert all(set(b) == IDP_KEYS | {"ial", "mode_list"} for b in banks)
    assert [str(b["ial"]) for b in banks] == ["2.3", "2.1", "3"]
    assert all(b["mode_list"] == [2, 3] for b in banks)
    high = requests.get(f"{live.base}/utility/idp/citizen_id/{VALID_ID}?min_ial=2.3&mode=3",
                        timeout=5)
    assert [b["node_id"] for b in high.json()] == [BANK_A, BANK_C]
    for unknown in (NOT_REGISTERED_ID, BAD_CHECKSUM_ID):
        nobody = requests.get(f"{live.base}/utility/idp/citizen_id/{unknown}", timeout=5)
        assert nobody.status_code == 200 and nobody.json() == []
    mode1 = requests.get(f"{live.base}/utility/idp/citizen_id/{VALID_ID}?mode=1", timeout=5)
    assert error_of(mode1) == 20002


def test_custom_banks_with_their_own_identities(make_live: Callable[..., Live]) -> None:
    live = make_live(banks=[
        {"node_id": "bank_x", "name_th": "ธนาคารเอ็กซ์", "name_en": "Bank X", "max_ial": "3",
         "max_aal": "3", "identities": {OTHER_VALID_ID: "2.2"}, "agent": True},
        {"node_id": "bank_y", "name_th": "ธนาคารวาย", "name_en": "Bank Y", "max_ial": "1.3",
         "max_aal": "1"},
    ])
    listed = requests.get(f"{live.base}/utility/idp/citizen_id/{OTHER_VALID_ID}", timeout=5)
    assert [(b["node_id"], str(b["ial"])) for b in listed.json()] == [("bank_x", "2.2"),
                                                                      ("bank_y", "1.3")]
    only_y = requests.get(f"{live.base}/utility/idp/citizen_id/{VALID_ID}", timeout=5)
    assert [b["node_id"] for b in only_y.json()] == ["bank_y"]
    agents = requests.get(f"{live.base}/utility/idp?agent=true", timeout=5)
    assert [b["node_id"] for b in agents.json()] == ["bank_x"]


def test_the_api_is_also_served_under_v6(live: Live) -> None:
    resp = requests.get(f"{live.base}/v6/utility/idp?min_ial=3", timeout=5)
    assert [b["node_id"] for b in resp.json()] == [BANK_C]
    created = live.post(f"/v6/rp/requests/citizen_id/{VALID_ID}", live.body())
    assert created.status_code == 202
    assert resp.headers["X-NDID-Sandbox"]


# --------------------------------------------------------------------------------------------
# POST /rp/requests: the happy path and its callbacks


def test_create_request_answers_202_then_create_result_and_pending(live: Live) -> None:
    body = live.body(mode=1, idp_id_list=[BANK_A, BANK_C])
    resp = live.post(f"/rp/requests/citizen_id/{VALID_ID}", body)
    assert resp.status_code == 202
    created = resp.json()
    assert set(created) == {"request_id", "initial_salt"}
    assert re.fullmatch(r"[0-9a-f]{64}", created["request_id"])
    assert len(base64.b64decode(created["initial_salt"], validate=True)) == 32
    request_id = created["request_id"]

    result = live.receiver.wait(live.name, lambda b: b["type"] == "create_request_result")[0]
    assert result == {"node_id": result["node_id"], "type": "create_request_result",
                      "success": True, "reference_id": body["reference_id"],
                      "request_id": request_id,
                      "creation_block_height": result["creation_block_height"]}
    pending = live.wait_status(request_id, lambda b: b["status"] == "pending")
    assert set(pending) == STATUS_KEYS
    salt = base64.b64encode(hashlib.sha256(
        ("citizen_id" + VALID_ID + created["initial_salt"]).encode()).digest()).decode()
    expected_hash = base64.b64encode(hashlib.sha256(
        (body["request_message"] + salt).encode()).digest()).decode()
    assert pending == {
        "node_id": result["node_id"], "type": "request_status", "request_id": request_id,
        "min_idp": 1, "min_aal": Decimal("2.2"), "min_ial": Decimal("2.3"),
        "request_timeout": 60, "idp_id_list": [BANK_A, BANK_C], "data_request_list": [],
        "request_message_hash": expected_hash, "response_list": [], "closed": False,
        "timed_out": False, "mode": 1, "request_type": None,
        "requester_node_id": pending["requester_node_id"], "status": "pending",
        "block_height": result["creation_block_height"]}
    assert VALID_ID not in json.dumps(live.callbacks(), default=str)


def test_mode_2_without_a_bank_list_asks_every_bank_holding_the_identity(live: Live) -> None:
    created = live.created(mode=2, idp_id_list=[], bypass_identity_check=False,
                           min_ial=Decimal("2.1"), min_aal=Decimal("2.1"))
    pending = live.wait_status(created["request_id"], lambda b: True)
    assert pending["idp_id_list"] == [BANK_A, BANK_B, BANK_C]
    assert pending["mode"] == 2


def test_levels_are_read_exactly(live: Live) -> None:
    created = live.post(f"/rp/requests/citizen_id/{VALID_ID}",
                        json.dumps(live.body(), default=_number)
                        .replace('"min_ial": 2.3', '"min_ial": 2.30'))
    assert created.status_code == 202
    detail = requests.get(f"{live.base}/utility/requests/{created.json()['request_id']}",
                          timeout=5)
    assert '"min_ial":2.3,' in detail.text


# --------------------------------------------------------------------------------------------
# POST /rp/requests: validation, each error with its status and shape, in the node's order


def test_body_validation_is_20003_with_ajv_style_details(live: Live) -> None:
    resp = live.create(min_ial="2.3", request_timeout=0)
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == {"error", "details"}
    assert body["error"] == {"code": 20003, "message": "Body validation failed"}
    details = body["details"]
    assert details["valid"] is False
    errors = details["errors"]
    assert all(set(e) == {"instancePath", "schemaPath", "keyword", "params", "message"}
               for e in errors)
    paths = {(e["instancePath"], e["keyword"]) for e in errors}
    assert ("/min_ial", "type") in paths
    assert ("/request_timeout", "minimum") in paths
    assert ("", "anyOf") in paths
    assert VALID_ID not in resp.text


@pytest.mark.parametrize("overrides", [
    {"reference_id": DROP},
    {"callback_url": DROP},
    {"callback_url": "ftp://example.test/cb"},
    {"mode": DROP},
    {"mode": 4},
    {"mode": "1"},
    {"request_message": DROP},
    {"request_message": 5},
    {"min_ial": DROP},
    {"min_aal": True},
    {"min_idp": DROP},
    {"min_idp": 0},
    {"min_idp": Decimal("1.5")},
    {"request_timeout": DROP},
    {"request_timeout": "60"},
    {"idp_id_list": [BANK_A, BANK_A]},
    {"idp_id_list": [""]},
    {"idp_id_list": BANK_A},
    {"mode": 2, "idp_id_list": []},  # bypass_identity_check is required in modes 2 and 3
    {"mode": 3, "bypass_identity_check": "false"},
    {"reference_id": ""},
    {"data_request_list": [{"service_id": "x"}]},
], ids=lambda o: ",".join(f"{k}={'DROP' if v is DROP else v!r}" for k, v in o.items()))
def test_each_schema_rule_gives_20003(live: Live, overrides: dict[str, Any]) -> None:
    assert error_of(live.create(**overrides)) == 20003


def test_a_body_that_is_not_an_object_or_not_json(live: Live) -> None:
    path = f"/rp/requests/citizen_id/{VALID_ID}"
    assert error_of(live.post(path, "[1, 2]")) == 20003
    broken = live.post(path, '{"reference_id": ')
    assert broken.json() == {"error": {"code": 20007, "message": "Unable to parse body"}}
    assert error_of(live.post(path, "42")) == 20007
    not_json = requests.post(live.base + path, data="a=b", timeout=5)
    assert error_of(not_json) == 20003  # an unparsed body is {}: every field is missing


def test_a_body_over_the_limit_is_20036(live: Live) -> None:
    resp = live.create(request_message="x" * (1024 * 1024 + 10))
    assert error_of(resp) == 20036


def test_mode_outside_the_platform_list_is_20066(make_live: Callable[..., Live]) -> None:
    live = make_live(script=Script(allowed_modes=(1, 2)))
    resp = live.create(mode=3, idp_id_list=[], bypass_identity_check=False)
    assert error_of(resp) == 20066
    assert resp.json() == {"error": {"code": 20066,
                                     "message": "This request mode is not supported"}}
    assert live.create(mode=2, idp_id_list=[], bypass_identity_check=False).status_code == 202


@pytest.mark.parametrize(("overrides", "code"), [
    ({"request_type": "identity_verification"}, 20091),
    ({"min_ial": Decimal("2.4")}, 20094),
    ({"min_ial": Decimal("0")}, 20094),
    ({"min_aal": Decimal("2.3")}, 20095),
    ({"min_aal": Decimal("1.1")}, 20095),
    ({"idp_id_list": ["no_such_bank"]}, 20058),
    ({"idp_id_list": [BANK_A], "min_idp": 2}, 20004),
    ({"idp_id_list": []}, 20016),
    ({"idp_id_list": DROP}, 20016),
    ({"mode": 2, "idp_id_list": [], "bypass_identity_check": True}, 20016),
    ({"idp_id_list": [BANK_B], "min_ial": Decimal("2.3")}, 20005),
    ({"idp_id_list": [BANK_A, BANK_B], "min_ial": Decimal("2.3")}, 20058),
    ({"mode": 2, "idp_id_list": [], "bypass_identity_check": False, "min_idp": 2,
      "min_ial": Decimal("3")}, 20006),
    ({"initial_salt": "too-short"}, 20087),
    ({"data_request_list": [{"service_id": "bank_statement", "min_as": 1}]}, 20024),
    ({"data_request_list": [{"service_id": "a", "min_as": 0},
                            {"service_id": "a", "min_as": 1}]}, 20018),
    ({"data_request_list": [{"service_id": "a", "as_id_list": ["as1"], "min_as": 2}]}, 20017),
    ({"data_request_list": [{"service_id": "a", "as_id_list": ["as1"], "min_as": 0}]}, 20043),
])
def test_create_errors_have_code_and_message_only(live: Live, overrides: dict[str, Any],
                                                  code: int) -> None:
    resp = live.create(**overrides)
    assert error_of(resp) == code
    assert set(resp.json()) == {"error"}


def test_thai_id_check_digit_is_20096_in_mode_1_and_with_bypass(live: Live) -> None:
    assert error_of(live.create(BAD_CHECKSUM_ID)) == 20096
    assert error_of(live.create("134595159767")) == 20096  # twelve digits
    assert error_of(live.create("13459515976a1")) == 20096
    bypass = live.create(BAD_CHECKSUM_ID, mode=2, bypass_identity_check=True)
    assert error_of(bypass) == 20096
    assert bypass.json()["error"]["message"] == "Invalid identifier"
    # Like the real node, a registered-identity request does not check the digit: nobody
    # holds a number with a wrong check digit, so it is "no bank found".
    registered = live.create(BAD_CHECKSUM_ID, mode=2, idp_id_list=[],
                             bypass_identity_check=False)
    assert error_of(registered) == 20005
    other_namespace = live.create("AB1234567", namespace="passport_num")
    assert other_namespace.status_code == 202
    assert live.create(VALID_ID).status_code == 202


def test_duplicate_reference_in_progress_is_20045_until_the_request_ends(live: Live) -> None:
    body = live.body()
    path = f"/rp/requests/citizen_id/{VALID_ID}"
    first = live.post(path, body)
    assert first.status_code == 202
    again = live.post(path, body)
    assert again.json() == {"error": {"code": 20045,
                                      "message": "Request for this reference ID is in progress"}}
    assert again.status_code == 400
    ref = requests.get(f"{live.base}/rp/request_references/{body['reference_id']}", timeout=5)
    assert ref.json() == {"request_id": first.json()["request_id"]}
    close = live.post("/rp/request_close", {"reference_id": "close-1",
                                            "callback_url": live.callback_url,
                                            "request_id": first.json()["request_id"]})
    assert close.status_code == 202
    wait_until(lambda: live.post(path, body).status_code == 202)
    gone = requests.get(f"{live.base}/rp/request_references/unknown-ref", timeout=5)
    assert gone.status_code == 404 and gone.content == b""


@pytest.mark.parametrize(("overrides", "identifier", "code"), [
    # each pair breaks two rules; the earlier one in the node's order wins
    ({"mode": 4, "min_ial": Decimal("2.4")}, VALID_ID, 20003),
    ({"request_type": "x", "min_ial": Decimal("2.4")}, VALID_ID, 20091),
    ({"min_ial": Decimal("2.4"), "min_aal": Decimal("9")}, VALID_ID, 20094),
    ({"min_aal": Decimal("9")}, BAD_CHECKSUM_ID, 20095),
    ({"idp_id_list": []}, BAD_CHECKSUM_ID, 20096),
    ({"idp_id_list": []}, DUPLICATE_REF_ID, 20045),
    ({"idp_id_list": ["no_such_bank"], "min_idp": 2}, VALID_ID, 20058),
    ({"idp_id_list": [BANK_B], "min_idp": 2, "min_ial": Decimal("3")}, VALID_ID, 20004),
    ({"idp_id_list": [BANK_B], "min_ial": Decimal("3"), "initial_salt": "x"}, VALID_ID, 20005),
])
def test_checks_run_in_the_node_order(live: Live, overrides: dict[str, Any], identifier: str,
                                      code: int) -> None:
    assert error_of(live.create(identifier, **overrides)) == code


def test_given_initial_salt_is_used(live: Live) -> None:
    salt = base64.b64encode(b"s" * 32).decode()
    created = live.created(initial_salt=salt)
    assert created["initial_salt"] == salt


# --------------------------------------------------------------------------------------------
# The bank pages


def test_bank_page_lists_only_its_pending_requests_in_thai_and_english(live: Live) -> None:
    message = "<script>alert(1)</script> ขอยืนยันตัวตน"
    created = live.created(request_message=message, idp_id_list=[BANK_A])
    other = live.created(OTHER_VALID_ID, idp_id_list=[BANK_C], min_ial=Decimal("3"),
                         min_aal=Decimal("3"))
    page = requests.get(f"{live.base}/bank/{BANK_A}", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ขอยืนยันตัวตน" in page.text
    assert "Approve" in page.text and "ยืนยัน" in page.text
    assert "SANDBOX" in page.text and "แซนด์บ็อกซ์" in page.text
    assert f"/bank/{BANK_A}/requests/{created['request_id']}" in page.text
    assert other["request_id"] not in page.text
    assert VALID_ID not in page.text  # masked
    assert 'name="decision" value="accept"' in page.text
    listing = requests.get(f"{live.base}/bank", timeout=5)
    assert f"/bank/{BANK_C}" in listing.text and "Sandbox Bank C" in listing.text
    missing = requests.get(f"{live.base}/bank/no_such_bank", timeout=5)
    assert missing.status_code == 404


def test_bank_accepts_mode_1_then_the_node_closes_the_request(live: Live) -> None:
    created = live.created(idp_id_list=[BANK_A, BANK_C])
    request_id = created["request_id"]
    live.wait_status(request_id, lambda b: b["status"] == "pending")
    resp = live.bank_post(BANK_A, request_id, "accept")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/bank/{BANK_A}?done=accept")
    done = live.wait_status(request_id, lambda b: b["closed"])
    completed = live.wait_status(request_id, lambda b: b["status"] == "completed"
                                 and not b["closed"])
    pending = live.wait_status(request_id, lambda b: b["status"] == "pending")
    assert height(pending) < height(completed) < height(done)
    assert done["status"] == "completed"
    [entry] = completed["response_list"]
    assert set(entry) == ACCEPT_ENTRY_KEYS
    assert entry["idp_id"] == BANK_A and entry["status"] == "accept"
    assert entry["ial"] == Decimal("2.3") and entry["aal"] == Decimal("2.2")
    assert entry["valid_signature"] is None and entry["valid_ial"] is None  # mode 1
    assert isinstance(entry["signature"], str) and entry["signature"]
    time.sleep(0.1)
    assert not [b for b in live.callbacks() if b["type"] == "close_request_result"]
    page = requests.get(f"{live.base}/bank/{BANK_A}", timeout=5)
    assert request_id not in page.text
    late = live.bank_post(BANK_C, request_id, "accept")
    assert late.status_code == 409


def test_bank_accepts_mode_2_with_valid_signature_and_ial(live: Live) -> None:
    created = live.created(mode=2, idp_id_list=[], bypass_identity_check=False,
                           min_ial=Decimal("2.1"), min_aal=Decimal("2.1"))
    request_id = created["request_id"]
    before = requests.get(f"{live.base}/utility/requests/{request_id}", timeout=5).json()
    assert before["status"] == "pending" and before["response_list"] == []
    assert live.bank_post(BANK_B, request_id, "accept").status_code == 303
    completed = live.wait_status(request_id, lambda b: b["status"] == "completed")
    [entry] = completed["response_list"]
    assert entry["valid_signature"] is True and entry["valid_ial"] is True
    assert entry["ial"] == Decimal("2.1") and entry["aal"] == Decimal("2.1")
    live.wait_status(request_id, lambda b: b["closed"])
    detail = requests.get(f"{live.base}/utility/requests/{request_id}", timeout=5).json()
    assert detail["closed"] is True and detail["status"] == "completed"
    assert detail["response_list"][0]["valid_signature"] is True


def test_bank_rejects_then_the_rp_closes(live: Live) -> None:
    created = live.created()
    request_id = created["request_id"]
    assert live.bank_post(BANK_A, request_id, "reject").status_code == 303
    rejected = live.wait_status(request_id, lambda b: b["status"] == "rejected")
    assert rejected["closed"] is False  # the node does not close a rejected request itself
    assert rejected["response_list"][0]["status"] == "reject"
    resp = live.post("/rp/request_close", {"reference_id": "close-ref",
                                           "callback_url": live.callback_url,
                                           "request_id": request_id})
    assert resp.status_code == 202 and resp.content == b""
    result = live.receiver.wait(live.name, lambda b: b["type"] == "close_request_result")[0]
    assert result == {"node_id": result["node_id"], "type": "close_request_result",
                      "success": True, "reference_id": "close-ref", "request_id": request_id}
    closed = live.wait_status(request_id, lambda b: b["closed"])
    assert closed["status"] == "rejected" and height(closed) > height(rejected)


def test_bank_page_refusals(live: Live) -> None:
    created = live.created()
    request_id = created["request_id"]
    assert live.bank_post(BANK_A, request_id, "maybe").status_code == 400
    assert live.bank_post(BANK_C, request_id, "accept").status_code == 404  # not listed
    assert live.bank_post(BANK_A, "0" * 64, "accept").status_code == 404
    cross = live.bank_post(BANK_A, request_id, "accept", Origin="https://evil.example")
    assert cross.status_code == 403
    site = live.bank_post(BANK_A, request_id, "accept", **{"Sec-Fetch-Site": "cross-site"})
    assert site.status_code == 403
    time.sleep(0.1)
    assert not [b for b in live.statuses(request_id) if b["response_list"]]
    both = live.bank_post(BANK_A, request_id, "accept", Origin=live.base,
                          **{"Sec-Fetch-Site": "cross-site"})
    assert both.status_code == 403  # a browser's own word on the site wins
    # A browser posting the page's own form under `Referrer-Policy: no-referrer` sends
    # `Origin: null` with `Sec-Fetch-Site: same-origin`: that is the person, not an attack.
    same = live.bank_post(BANK_A, request_id, "reject", Origin="null",
                          **{"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303
    again = live.bank_post(BANK_A, request_id, "accept")
    assert again.status_code == 409


# --------------------------------------------------------------------------------------------
# POST /rp/request_close: errors arrive by callback


def test_close_errors_arrive_by_callback(make_live: Callable[..., Live]) -> None:
    clock = FakeClock()
    live = make_live(clock=clock)

    def close(request_id: str, ref: str) -> dict[str, Any]:
        resp = live.post("/rp/request_close", {"reference_id": ref,
                                               "callback_url": live.callback_url,
                                               "request_id": request_id})
        assert resp.status_code == 202 and resp.content == b""
        return live.receiver.wait(live.name, lambda b: b["type"] == "close_request_result"
                                  and b["reference_id"] == ref)[0]

    unknown = close("f" * 64, "c1")
    assert unknown == {"node_id": unknown["node_id"], "type": "close_request_result",
                       "success": False, "reference_id": "c1", "request_id": "f" * 64,
                       "error": {"code": 25001, "message": "Request ID could not be found"}}
    first = live.created()["request_id"]
    assert close(first, "c2")["success"] is True
    twice = close(first, "c3")
    assert twice["error"] == {"code": 25002, "message": "Request is already closed"}
    assert twice["success"] is False
    late = live.created(request_timeout=5)["request_id"]
    clock.now += 5
    live.wait_status(late, lambda b: b["timed_out"])
    timed = close(late, "c4")
    assert timed["error"] == {"code": 25003, "message": "Request is already timed out"}


def test_close_body_validation(live: Live) -> None:
    resp = live.post("/rp/request_close", {"reference_id": "x", "request_id": "y"})
    assert error_of(resp) == 20003
    assert resp.json()["details"]["errors"][0]["params"] == {"missingProperty": "callback_url"}


# --------------------------------------------------------------------------------------------
# Lookups


def test_lookups_of_unknown_requests_are_404_with_an_empty_body(live: Live) -> None:
    for path in ("/rp/request_data/", "/utility/requests/"):
        resp = requests.get(f"{live.base}{path}{'a' * 64}", timeout=5)
        assert resp.status_code == 404
        assert resp.content == b""


def test_request_data_and_request_details_of_a_known_request(live: Live) -> None:
    created = live.created(idp_id_list=[BANK_A, BANK_C])
    request_id = created["request_id"]
    data = requests.get(f"{live.base}/rp/request_data/{request_id}", timeout=5)
    assert data.status_code == 200 and data.json() == []
    detail = requests.get(f"{live.base}/utility/requests/{request_id}", timeout=5)
    body = detail.json()
    assert set(body) == STATUS_KEYS - {"node_id", "type", "block_height"} | {
        "creation_block_height"}
    assert body["status"] == "pending" and body["idp_id_list"] == [BANK_A, BANK_C]
    first_height = height(body, "creation_block_height")
    assert live.bank_post(BANK_A, request_id, "accept").status_code == 303
    after = requests.get(f"{live.base}/utility/requests/{request_id}", timeout=5).json()
    assert after["status"] == "completed" and after["closed"] is True
    assert height(after, "creation_block_height") == first_height


def test_idp_error_codes(live: Live) -> None:
    resp = requests.get(f"{live.base}/utility/idp_error_codes", timeout=5)
    assert resp.status_code == 200
    codes = resp.json()
    assert codes and all(set(c) == {"error_code", "description"} for c in codes)
    assert all(isinstance(c["error_code"], int) for c in codes)


# --------------------------------------------------------------------------------------------
# Timeouts


def test_timeout_with_the_node_clock_and_the_background_timer(
        make_live: Callable[..., Live]) -> None:
    clock = FakeClock()
    live = make_live(clock=clock)
    body = live.body(request_timeout=2)
    created = live.post(f"/rp/requests/citizen_id/{VALID_ID}", body).json()
    request_id = created["request_id"]
    pending = live.wait_status(request_id, lambda b: True)
    clock.now += 1
    time.sleep(0.2)
    assert not [b for b in live.statuses(request_id) if b["timed_out"]]
    clock.now += 1
    timed = live.wait_status(request_id, lambda b: b["timed_out"])  # nobody asked: the timer
    assert timed["status"] == "pending" and timed["closed"] is False
    assert height(timed) > height(pending)
    assert request_id not in requests.get(f"{live.base}/bank/{BANK_A}", timeout=5).text
    assert live.bank_post(BANK_A, request_id, "accept").status_code == 409
    again = live.post(f"/rp/requests/citizen_id/{VALID_ID}", body)
    assert again.status_code == 202  # the reference is free again


def test_timeout_is_also_checked_lazily(make_live: Callable[..., Live]) -> None:
    clock = FakeClock()
    live = make_live(clock=clock)
    live.node._stop.set()  # no background timer: only the lookups notice the time
    live.node._timer.join()
    request_id = live.created(request_timeout=3)["request_id"]
    clock.now += 3
    detail = requests.get(f"{live.base}/utility/requests/{request_id}", timeout=5).json()
    assert detail["timed_out"] is True
    live.wait_status(request_id, lambda b: b["timed_out"])


def test_timeout_on_the_wall_clock(live: Live) -> None:
    request_id = live.created(request_timeout=1)["request_id"]
    started = time.monotonic()
    timed = live.wait_status(request_id, lambda b: b["timed_out"], timeout=3)
    assert time.monotonic() - started >= 0.8
    assert timed["status"] == "pending"


# --------------------------------------------------------------------------------------------
# Scripted unhappy paths


def test_scripted_accept_and_reject_by_identifier(live: Live) -> None:
    accepted = live.created(ACCEPT_ID)["request_id"]
    rejected = live.created(REJECT_ID)["request_id"]
    done = live.wait_status(accepted, lambda b: b["closed"])
    assert done["status"] == "completed"
    refused = live.wait_status(rejected, lambda b: b["status"] == "rejected")
    assert refused["closed"] is False


def test_scripted_timeout_never_reaches_a_bank(live: Live) -> None:
    request_id = live.created(TIMEOUT_ID, request_timeout=1)["request_id"]
    page = requests.get(f"{live.base}/bank/{BANK_A}", timeout=5)
    assert request_id not in page.text
    assert live.bank_post(BANK_A, request_id, "accept").status_code == 404
    timed = live.wait_status(request_id, lambda b: b["timed_out"], timeout=3)
    assert timed["response_list"] == []


def test_scripted_bank_error_makes_the_request_errored(make_live: Callable[..., Live]) -> None:
    live = make_live(script=Script(bank_error_code=1002))
    request_id = live.created(ERRORED_ID, idp_id_list=[BANK_A, BANK_C])["request_id"]
    closed = live.wait_status(request_id, lambda b: b["closed"])
    assert closed["status"] == "errored"
    assert closed["response_list"] == [
        {"idp_id": BANK_A, "valid_ial": None, "valid_signature": None, "error_code": 1002},
        {"idp_id": BANK_C, "valid_ial": None, "valid_signature": None, "error_code": 1002}]
    middle = [b for b in live.statuses(request_id) if len(b["response_list"]) == 1]
    assert middle and middle[0]["status"] == "pending"  # one error of two: still possible


def test_scripted_create_failures(live: Live) -> None:
    assert error_of(live.create(DUPLICATE_REF_ID)) == 20045
    assert error_of(live.create(INVALID_ID_ID, mode=2, idp_id_list=[],
                                bypass_identity_check=False)) == 20096
    assert error_of(live.create(NOT_REGISTERED_ID, mode=2, idp_id_list=[],
                                bypass_identity_check=False)) == 20005
    assert live.create(NOT_REGISTERED_ID).status_code == 202  # mode 1 needs no registration


def test_scripted_default_and_per_identifier_scenarios(make_live: Callable[..., Live]) -> None:
    live = make_live(script=Script(default=Scenario("reject"),
                                   by_identifier={OTHER_VALID_ID: Scenario("accept")}))
    rejected = live.created(VALID_ID)["request_id"]
    accepted = live.created(OTHER_VALID_ID)["request_id"]
    live.wait_status(rejected, lambda b: b["status"] == "rejected")
    live.wait_status(accepted, lambda b: b["status"] == "completed" and b["closed"])
    with pytest.raises(ValueError, match="outcome"):
        Scenario("explode")  # type: ignore[arg-type]


def test_scripted_duplicated_callbacks(live: Live) -> None:
    request_id = live.created(DUPLICATE_CB_ID)["request_id"]
    live.wait_status(request_id, lambda b: b["closed"])
    time.sleep(0.1)
    mine = [b for b in live.callbacks() if b["request_id"] == request_id]
    kinds = [(b["type"], b.get("block_height")) for b in mine]
    assert len(kinds) == 8  # create result, pending, completed, closed: each twice
    assert all(kinds.count(k) == 2 for k in kinds)


def test_scripted_reordered_callbacks(live: Live) -> None:
    request_id = live.created(REORDER_CB_ID)["request_id"]
    live.wait_status(request_id, lambda b: b["closed"])
    live.wait_status(request_id, lambda b: b["status"] == "pending")
    heights = [height(b) for b in live.statuses(request_id)]
    assert sorted(heights) != heights  # a later block arrived before an earlier one
    assert sorted(heights) == sorted(set(heights))


def test_scripted_callbacks_before_the_create_call_returns(live: Live) -> None:
    resp = live.create(EARLY_CB_ID)
    assert resp.status_code == 202
    request_id = resp.json()["request_id"]
    got = [(b["type"], b.get("status")) for b in live.callbacks()
           if b["request_id"] == request_id]
    assert ("create_request_result", None) in got and ("request_status", "pending") in got
    live.wait_status(request_id, lambda b: b["closed"])


def test_scripted_answers_wait_for_the_answer_delay(make_live: Callable[..., Live]) -> None:
    live = make_live(script=Script(answer_delay=0.4))
    request_id = live.created(ACCEPT_ID)["request_id"]
    started = time.monotonic()
    live.wait_status(request_id, lambda b: b["status"] == "pending")
    time.sleep(0.15)
    assert not [b for b in live.statuses(request_id) if b["response_list"]]
    live.wait_status(request_id, lambda b: b["closed"])
    assert time.monotonic() - started >= 0.35


# --------------------------------------------------------------------------------------------
# Callback delivery never blocks the API


def test_a_silent_callback_receiver_does_not_slow_the_api(make_live: Callable[..., Live]
                                                          ) -> None:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts connections, never answers
    try:
        live = make_live(script=Script(callback_timeout=0.1, callback_attempts=1))
        silent = f"http://127.0.0.1:{hole.getsockname()[1]}/cb"
        started = time.monotonic()
        for _ in range(3):
            assert live.create(callback_url=silent).status_code == 202
        assert time.monotonic() - started < 0.5
        # the queue drains: a later request's callbacks still arrive
        request_id = live.created()["request_id"]
        live.wait_status(request_id, lambda b: True, timeout=5)
    finally:
        hole.close()


def test_unreachable_receiver_is_retried_then_given_up(make_live: Callable[..., Live]) -> None:
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens: connection refused, retried, then dropped
    live = make_live(script=Script(callback_timeout=0.2, callback_attempts=2))
    assert live.create(callback_url=f"http://127.0.0.1:{port}/cb").status_code == 202
    request_id = live.created()["request_id"]
    live.wait_status(request_id, lambda b: True, timeout=5)


# --------------------------------------------------------------------------------------------
# Standalone command


def test_cli_options() -> None:
    result = CliRunner().invoke(ndid, ["--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    assert "SANDBOX" in result.output


def test_cli_serves_the_node_and_logs_no_id_numbers(receiver: Receiver) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sandbox.ndid.cli import ndid; ndid()", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "SANDBOX" in line
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        base = found.group(0)
        resp = requests.get(f"{base}/utility/idp?min_ial=3", timeout=5)
        assert [b["node_id"] for b in resp.json()] == [BANK_C]
        live = Live(base, None, receiver)  # type: ignore[arg-type]
        assert live.create(VALID_ID).status_code == 202
        assert requests.get(f"{base}/utility/idp/citizen_id/{VALID_ID}",
                            timeout=5).status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert "/rp/requests/citizen_id/[id]" in err
    assert VALID_ID not in err
