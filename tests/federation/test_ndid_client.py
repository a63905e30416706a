"""The NDID relying-party client against a running sandbox node over HTTP, and the pure callback
logic: duplicates, reordering, callbacks before the create call returns, and the acceptance rule
(table-driven, mode 1 nulls against modes 2 and 3)."""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from federation.ndid import (
    BankAnswer,
    CreatedRequest,
    IdpNode,
    LoginOutcome,
    NdidClient,
    NdidError,
    NdidUnavailable,
    RequestTracker,
    apply_callback,
    block_height,
    level,
    login_outcome,
    merge_states,
    new_state,
    parse_node_name,
    record_created,
    to_json,
)
from sandbox.ndid import SandboxNode, Scenario, Script, create_ndid_app
from tests.support.wsgi import serve_wsgi

VALID_ID = "1345951597671"
BAD_CHECKSUM_ID = "3712644096692"
ACCEPT_ID = "1999999999018"
REJECT_ID = "1999999999026"
DUPLICATE_CB_ID = "1999999999077"
REORDER_CB_ID = "1999999999085"
EARLY_CB_ID = "1999999999093"
BANK_A, BANK_B, BANK_C = "sandbox_bank_a", "sandbox_bank_b", "sandbox_bank_c"
D = Decimal


def wait_until(pred: Callable[[], Any], timeout: float = 3.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


# --------------------------------------------------------------------------------------------
# Servers: a tiny callback receiver (feeding a RequestTracker) and the sandbox node


@dataclass
class Receiver:
    base: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    tracker: RequestTracker = field(default_factory=RequestTracker)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.base}/ndid/callback"

    def of(self, request_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if b.get("request_id") == request_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    @Request.application
    def app(req: Request) -> Response:
        body = req.get_json()  # a plain JSON parser: levels arrive as floats, on purpose
        with rec.lock:
            rec.bodies.append(body)
        rec.tracker.apply(body)
        return Response("", 204)

    server, rec.base = serve_wsgi(app)
    yield rec
    server.shutdown()


@dataclass
class Node:
    base: str
    node: SandboxNode
    client: NdidClient


@pytest.fixture
def make_node() -> Iterator[Callable[..., Node]]:
    started: list[tuple[Any, SandboxNode]] = []

    def start(**kwargs: Any) -> Node:
        app = create_ndid_app(**kwargs)
        server, base = serve_wsgi(app)
        node = app.extensions["ndid_sandbox"]
        started.append((server, node))
        return Node(base, node, NdidClient(base, timeout=2))

    yield start
    for server, node in started:
        server.shutdown()
        node.close()


@pytest.fixture
def ndid(make_node: Callable[..., Node]) -> Node:
    return make_node()


def create(client: NdidClient, receiver: Receiver, identifier: str = VALID_ID, *,
           reference_id: str | None = None, mode: int = 1, idp_id_list: list[str] | None = None,
           min_ial: str = "2.3", min_aal: str = "2.2", timeout: int = 60,
           **extra: Any) -> tuple[str, CreatedRequest]:
    ref = reference_id or secrets.token_hex(8)
    receiver.tracker.begin(ref, mode=mode, min_ial=min_ial, min_aal=min_aal)
    created = client.create_request(
        "citizen_id", identifier, reference_id=ref, callback_url=receiver.url, mode=mode,
        idp_id_list=[BANK_A] if idp_id_list is None else idp_id_list,
        request_message="เข้าสู่ระบบหน่วยงาน / Log in to the agency", min_ial=min_ial,
        min_aal=min_aal, request_timeout=timeout, **extra)
    receiver.tracker.created(ref, created)
    return ref, created


# --------------------------------------------------------------------------------------------
# The client over HTTP


def test_list_idps_gives_decimal_levels_and_display_names(ndid: Node) -> None:
    banks = ndid.client.list_idps(D("2.3"), D("2.2"))
    assert [b.node_id for b in banks] == [BANK_A, BANK_C]
    a = banks[0]
    assert isinstance(a, IdpNode)
    assert a.max_ial == D("2.3") and isinstance(a.max_ial, Decimal)
    assert str(a.max_ial) == "2.3" and str(a.max_aal) == "2.2"
    assert (a.name_th, a.name_en) == ("ธนาคารทดสอบ เอ", "Sandbox Bank A")
    assert a.ial is None and a.mode_list is None and a.agent is False
    assert [b.node_id for b in ndid.client.list_idps("3", 3)] == [BANK_C]
    assert [b.node_id for b in ndid.client.list_idps("1.1", "1")] == [BANK_A, BANK_B, BANK_C]


def test_list_idps_for_an_identity(ndid: Node) -> None:
    banks = ndid.client.list_idps("2.1", "1", "citizen_id", VALID_ID, mode=3)
    assert [(b.node_id, b.ial, b.mode_list) for b in banks] == [
        (BANK_A, D("2.3"), (2, 3)), (BANK_B, D("2.1"), (2, 3)), (BANK_C, D("3"), (2, 3))]
    assert ndid.client.list_idps("1.1", "1", "citizen_id", BAD_CHECKSUM_ID) == []
    with pytest.raises(ValueError, match="both"):
        ndid.client.list_idps("1.1", "1", namespace="citizen_id")


def test_levels_are_never_floats() -> None:
    client = NdidClient("http://127.0.0.1:9")
    with pytest.raises(TypeError, match="float"):
        client.list_idps(2.3, "2.2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float"):
        client.create_request("citizen_id", VALID_ID, reference_id="r", callback_url="http://x",
                              mode=1, idp_id_list=[BANK_A], request_message="m",
                              min_ial=D("2.3"), min_aal=2.2,  # type: ignore[arg-type]
                              request_timeout=60)
    with pytest.raises(ValueError, match="scale"):
        client.list_idps("2.4", "1")


def test_create_request_sends_exact_json_numbers() -> None:
    seen: list[tuple[str, bytes, str]] = []

    @Request.application
    def fake_node(req: Request) -> Response:
        seen.append((req.path, req.get_data(), req.content_type or ""))
        return Response(json.dumps({"request_id": "r" * 64, "initial_salt": "s" * 44}), 202,
                        mimetype="application/json")

    server, base = serve_wsgi(fake_node)
    try:
        created = NdidClient(base).create_request(
            "citizen_id", VALID_ID, reference_id="login-1", callback_url="https://rp/cb",
            mode=2, idp_id_list=[], request_message="ข้อความ", min_ial="2.3", min_aal=D("3"),
            min_idp=1, request_timeout=300, bypass_identity_check=False)
    finally:
        server.shutdown()
    assert created == CreatedRequest("r" * 64, "s" * 44)
    path, raw, content_type = seen[0]
    assert path == f"/rp/requests/citizen_id/{VALID_ID}"
    assert content_type.startswith("application/json")
    text = raw.decode()
    assert '"min_ial":2.3,' in text and '"min_aal":3,' in text
    assert json.loads(text) == {
        "reference_id": "login-1", "callback_url": "https://rp/cb", "mode": 2,
        "idp_id_list": [], "request_message": "ข้อความ", "min_ial": 2.3, "min_aal": 3,
        "min_idp": 1, "request_timeout": 300, "bypass_identity_check": False}


def test_create_request_against_the_node_and_its_callbacks(ndid: Node,
                                                           receiver: Receiver) -> None:
    ref, created = create(ndid.client, receiver, idp_id_list=[BANK_A, BANK_C])
    assert len(created.request_id) == 64 and len(created.initial_salt) == 44
    wait_until(lambda: len(receiver.of(created.request_id)) >= 2)
    state = receiver.tracker.get(ref)
    assert state is not None
    assert state["request_id"] == created.request_id
    assert state["initial_salt"] == created.initial_salt
    assert state["create_request_result"]["success"] is True
    assert login_outcome(state) == LoginOutcome("pending")
    details = ndid.client.request_details(created.request_id)
    assert details is not None and details["status"] == "pending"
    assert ndid.client.request_data(created.request_id) == []


def test_node_errors_become_ndid_errors_without_the_id(ndid: Node, receiver: Receiver) -> None:
    with pytest.raises(NdidError) as info:
        create(ndid.client, receiver, BAD_CHECKSUM_ID)
    err = info.value
    assert (err.code, err.message, err.http_status) == (20096, "Invalid identifier", 400)
    assert err.details is None
    assert BAD_CHECKSUM_ID not in str(err) and BAD_CHECKSUM_ID not in repr(err.args)
    with pytest.raises(NdidError) as info:
        create(ndid.client, receiver, idp_id_list=[BANK_B])
    assert info.value.code == 20005
    with pytest.raises(NdidError) as info:
        create(ndid.client, receiver, mode=2, idp_id_list=[])  # no bypass_identity_check
    assert info.value.code == 20003 and info.value.http_status == 400
    assert info.value.details is not None and info.value.details["valid"] is False
    ref, _ = create(ndid.client, receiver)
    with pytest.raises(NdidError) as info:
        create(ndid.client, receiver, reference_id=ref)
    assert info.value.code == 20045


def test_messages_are_scrubbed_of_identifiers() -> None:
    @Request.application
    def noisy(req: Request) -> Response:
        return Response(json.dumps({"error": {"code": 20096, "message":
                                              f"bad identifier {VALID_ID}"}}), 400,
                        mimetype="application/json")

    server, base = serve_wsgi(noisy)
    try:
        with pytest.raises(NdidError) as info:
            NdidClient(base).list_idps("1.1", "1", "citizen_id", VALID_ID)
    finally:
        server.shutdown()
    assert VALID_ID not in str(info.value) and "[redacted]" in info.value.message


def test_unexpected_answers() -> None:
    @Request.application
    def odd(req: Request) -> Response:
        if req.path.startswith("/utility/idp_error_codes"):
            return Response("<html>proxy error</html>", 502, mimetype="text/html")
        return Response("not json", 200, mimetype="application/json")

    server, base = serve_wsgi(odd)
    try:
        client = NdidClient(base)
        with pytest.raises(NdidError) as info:
            client.idp_error_codes()
        assert (info.value.code, info.value.http_status) == (0, 502)
        with pytest.raises(NdidError) as info:
            client.list_idps("1.1", "1")
        assert info.value.code == 0
    finally:
        server.shutdown()


def test_unreachable_node_never_leaks_the_url() -> None:
    with pytest.raises(NdidUnavailable) as info:
        NdidClient("http://127.0.0.1:9", timeout=0.5).list_idps("1.1", "1", "citizen_id",
                                                                VALID_ID)
    err = info.value
    assert err.code == 0 and err.http_status == 0
    assert VALID_ID not in str(err)
    assert err.__cause__ is None and err.__suppress_context__


def test_close_request_and_its_callbacks(ndid: Node, receiver: Receiver) -> None:
    ref, created = create(ndid.client, receiver)
    wait_until(lambda: receiver.tracker.get(ref)["request_status"])  # type: ignore[index]
    ndid.client.close_request("close-" + ref, receiver.url, created.request_id)
    wait_until(lambda: receiver.tracker.outcome(ref).result == "closed")
    state = receiver.tracker.get(ref)
    assert state is not None
    assert state["close_request_result"]["success"] is True
    ndid.client.close_request("close-again", receiver.url, created.request_id)
    wait_until(lambda: [b for b in receiver.of(created.request_id)
                        if b.get("reference_id") == "close-again"])
    state = receiver.tracker.get(ref)
    assert state is not None
    assert state["close_request_result"]["success"] is True  # a later 25002 changes nothing
    assert receiver.tracker.outcome(ref).result == "closed"


def test_lookups_of_unknown_requests(ndid: Node) -> None:
    assert ndid.client.request_data("a" * 64) is None
    assert ndid.client.request_details("a" * 64) is None
    codes = ndid.client.idp_error_codes()
    assert codes and {"error_code", "description"} <= set(codes[0])


# --------------------------------------------------------------------------------------------
# Whole flows through the tracker


def test_bank_page_accept_is_an_accepted_login(ndid: Node, receiver: Receiver) -> None:
    ref, created = create(ndid.client, receiver, mode=2, idp_id_list=[],
                          bypass_identity_check=False)
    resp = requests.post(f"{ndid.base}/bank/{BANK_C}/requests/{created.request_id}",
                         data={"decision": "accept"}, allow_redirects=False, timeout=5)
    assert resp.status_code == 303
    outcome = wait_until(lambda: (o := receiver.tracker.outcome(ref)).result != "pending" and o)
    assert outcome.result == "accepted"
    assert outcome.answer is not None
    assert (outcome.answer.idp_id, outcome.answer.ial, outcome.answer.aal) == (
        BANK_C, D("3"), D("3"))
    assert outcome.answer.valid_signature is True and outcome.answer.valid_ial is True


def test_scripted_reject_is_a_rejected_login(ndid: Node, receiver: Receiver) -> None:
    ref, _ = create(ndid.client, receiver, REJECT_ID)
    outcome = wait_until(lambda: (o := receiver.tracker.outcome(ref)).result != "pending" and o)
    assert outcome == LoginOutcome("rejected", None, outcome.reason)


def test_timeout_is_a_timed_out_login(ndid: Node, receiver: Receiver) -> None:
    ref, _ = create(ndid.client, receiver, timeout=1)
    outcome = wait_until(lambda: (o := receiver.tracker.outcome(ref)).result != "pending" and o)
    assert outcome.result == "timed_out"


@pytest.mark.parametrize("identifier", [DUPLICATE_CB_ID, REORDER_CB_ID, EARLY_CB_ID, ACCEPT_ID])
def test_unruly_callbacks_still_give_one_accepted_login(ndid: Node, receiver: Receiver,
                                                        identifier: str) -> None:
    ref, created = create(ndid.client, receiver, identifier)
    outcome = wait_until(lambda: (o := receiver.tracker.outcome(ref)).result != "pending" and o)
    assert outcome.result == "accepted"
    assert outcome.answer is not None and outcome.answer.idp_id == BANK_A
    wait_until(lambda: (s := receiver.tracker.get(ref)) and s["request_status"]["closed"])
    time.sleep(0.05)
    state = receiver.tracker.get(ref)
    assert state is not None
    statuses = [b for b in receiver.of(created.request_id) if b["type"] == "request_status"]
    top = max(statuses, key=lambda b: block_height(b["block_height"]))
    assert state["request_status"] == top  # the newest status, whatever the arrival order
    assert receiver.tracker.outcome(ref).result == "accepted"


def test_early_callbacks_wait_in_the_tracker_until_the_202(make_node: Callable[..., Node],
                                                           receiver: Receiver) -> None:
    ndid = make_node(script=Script(default=Scenario("manual", early_callbacks=True)))
    ref = "login-early"
    receiver.tracker.begin(ref, mode=1, min_ial="2.3", min_aal="2.2")
    created = ndid.client.create_request(
        "citizen_id", VALID_ID, reference_id=ref, callback_url=receiver.url, mode=1,
        idp_id_list=[BANK_A], request_message="m", min_ial="2.3", min_aal="2.2",
        request_timeout=60)
    # both callbacks were handled before the 202 reached us; the create result already linked
    early = [b["type"] for b in receiver.of(created.request_id)]
    assert "create_request_result" in early and "request_status" in early
    state = receiver.tracker.created(ref, created)
    assert state["request_status"]["status"] == "pending"
    assert state["initial_salt"] == created.initial_salt


# --------------------------------------------------------------------------------------------
# Pure callback logic

REQ = "a1" * 32


def status(height: int, value: str = "pending", *, mode: int = 1, responses: Any = (),
           closed: bool = False, timed_out: bool = False, min_ial: Any = 2.3,
           min_aal: Any = 2.2, request_id: str = REQ) -> dict[str, Any]:
    return {"node_id": "rp1", "type": "request_status", "request_id": request_id,
            "min_idp": 1, "min_ial": min_ial, "min_aal": min_aal, "request_timeout": 60,
            "idp_id_list": [BANK_A], "data_request_list": [], "request_message_hash": "h",
            "response_list": list(responses), "closed": closed, "timed_out": timed_out,
            "mode": mode, "request_type": None, "requester_node_id": "rp1", "status": value,
            "block_height": f"chain:{height}"}


def answer(ial: Any = 2.3, aal: Any = 2.2, *, ok: str = "accept", vs: Any = None,
           vi: Any = None, idp: str = BANK_A) -> dict[str, Any]:
    return {"ial": ial, "aal": aal, "status": ok, "signature": "sig", "idp_id": idp,
            "valid_ial": vi, "valid_signature": vs}


def created_cb(ref: str = "login-1", success: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"node_id": "rp1", "type": "create_request_result",
                            "success": success, "reference_id": ref, "request_id": REQ}
    if success:
        body["creation_block_height"] = "chain:5"
    else:
        body["error"] = {"code": 15000, "message": "Unknown Error"}
    return body


def close_cb(success: bool = True, ref: str = "close-1") -> dict[str, Any]:
    body: dict[str, Any] = {"node_id": "rp1", "type": "close_request_result",
                            "success": success, "reference_id": ref, "request_id": REQ}
    if not success:
        body["error"] = {"code": 25002, "message": "Request is already closed"}
    return body


def test_the_same_callback_twice_changes_nothing() -> None:
    state = new_state("login-1", mode=1, min_ial="2.3", min_aal="2.2")
    for cb in (created_cb(), status(5), status(6, "completed", responses=[answer()]),
               close_cb()):
        once = apply_callback(state, cb)
        assert apply_callback(once, cb) == once
        state = once
    assert login_outcome(state).result == "accepted"


def test_apply_callback_is_pure() -> None:
    state = new_state("login-1", mode=1, min_ial="2.3", min_aal="2.2")
    before = copy.deepcopy(state)
    cb = status(5)
    cb_before = copy.deepcopy(cb)
    after = apply_callback(state, cb)
    assert state == before and cb == cb_before
    after["request_status"]["status"] = "tampered"
    assert cb["status"] == "pending"


def test_an_older_status_never_overwrites_a_newer_one() -> None:
    newer = status(9, "completed", responses=[answer()], closed=True)
    older = status(8, "completed", responses=[answer()])
    oldest = status(5)
    state = apply_callback(None, newer)
    for cb in (older, oldest):
        state = apply_callback(state, cb)
    assert state["request_status"] == newer
    in_order = apply_callback(apply_callback(apply_callback(None, oldest), older), newer)
    assert in_order["request_status"] == state["request_status"]


def test_same_height_prefers_the_ended_status_in_any_order() -> None:
    open_ = status(7, "pending")
    ended = status(7, "pending", timed_out=True)
    a = apply_callback(apply_callback(None, open_), ended)
    b = apply_callback(apply_callback(None, ended), open_)
    assert a["request_status"] == b["request_status"] == ended


def test_callbacks_before_the_create_call_returns() -> None:
    # the node's callbacks come first, keyed by request_id; then the 202, then our own state
    orphan = apply_callback(None, status(5))
    orphan = apply_callback(orphan, created_cb())
    assert orphan["reference_id"] == "login-1" and orphan["request_id"] == REQ
    ours = record_created(new_state("login-1", mode=1, min_ial="2.3", min_aal="2.2"),
                          CreatedRequest(REQ, "salt"))
    merged = merge_states(ours, orphan)
    assert merged["expected"] == ours["expected"]
    assert merged["request_status"]["block_height"] == "chain:5"
    assert merged["create_request_result"]["success"] is True
    assert merge_states(merged, orphan) == merged
    later = apply_callback(merged, status(6, "completed", responses=[answer()]))
    assert login_outcome(later).result == "accepted"
    with pytest.raises(ValueError, match="another request"):
        record_created(merged, CreatedRequest("b2" * 32, "salt"))


def test_tracker_links_callbacks_in_any_order() -> None:
    for order in ("status-first", "create-result-first", "after-202"):
        tracker = RequestTracker()
        tracker.begin("login-1", mode=1, min_ial="2.3", min_aal="2.2")
        cbs = [status(5), created_cb(), status(6, "completed", responses=[answer()])]
        if order == "create-result-first":
            cbs = [cbs[1], cbs[0], cbs[2]]
        if order == "after-202":
            tracker.created("login-1", CreatedRequest(REQ, "salt"))
        for cb in cbs[:2]:
            tracker.apply(cb)
        if order != "after-202":
            assert tracker.outcome("login-1").result == "pending"
            tracker.created("login-1", CreatedRequest(REQ, "salt"))
        linked = tracker.get("login-1")
        assert linked is not None and linked["request_status"] == cbs[0 if order != (
            "create-result-first") else 1]
        tracker.apply(cbs[2])
        tracker.apply(cbs[0])  # a late duplicate of an older status
        assert tracker.outcome("login-1").result == "accepted", order
        state = tracker.get("login-1")
        assert state is not None and state["initial_salt"] == "salt"
        tracker.forget("login-1")
        assert tracker.get("login-1") is None


def test_tracker_keeps_everything_that_came_before_the_202() -> None:
    tracker = RequestTracker()
    tracker.begin("login-1", mode=1, min_ial="2.3", min_aal="2.2")
    # the create_request_result is lost; the final status comes before the 202 is handled
    tracker.apply(status(6, "completed", responses=[answer()], closed=True))
    assert tracker.outcome("login-1").result == "pending"  # not linked yet
    state = tracker.created("login-1", CreatedRequest(REQ, "salt"))
    assert state["request_status"]["block_height"] == "chain:6"
    assert tracker.outcome("login-1").result == "accepted"
    assert tracker._orphans == {}


def test_tracker_is_bounded() -> None:
    tracker = RequestTracker(max_entries=3)
    for i in range(5):
        tracker.begin(f"r{i}", mode=1, min_ial="1.1", min_aal="1")
        tracker.apply(status(1, request_id=f"orphan{i}"))
    assert tracker.get("r0") is None and tracker.get("r4") is not None
    assert len(tracker._orphans) <= 3


def test_close_result_keeps_a_success() -> None:
    state = apply_callback(None, close_cb(True))
    state = apply_callback(state, close_cb(False, "close-2"))
    assert state["close_request_result"]["success"] is True
    failed_first = apply_callback(apply_callback(None, close_cb(False)), close_cb(True))
    assert failed_first["close_request_result"]["success"] is True


@pytest.mark.parametrize("cb", [
    {"type": "request_status"},
    {"request_id": REQ},
    {**status(5), "block_height": "chain:five"},
    {**status(5), "block_height": 5},
    {**status(5), "status": None},
    {**created_cb(), "success": "yes"},
    {**close_cb(), "request_id": ""},
])
def test_malformed_callbacks_are_refused(cb: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        apply_callback(None, cb)


def test_callbacks_of_another_request_are_refused() -> None:
    state = apply_callback(None, created_cb("login-1"))
    with pytest.raises(ValueError, match="another request"):
        apply_callback(state, status(6, request_id="b2" * 32))
    with pytest.raises(ValueError, match="another request"):
        apply_callback(state, {**created_cb("login-2")})
    assert apply_callback(state, {"type": "error", "request_id": REQ}) == state


def test_block_height_parsing() -> None:
    assert block_height("ndid-chain-2:1234") == 1234
    assert block_height("a:b:77") == 77
    for bad in ("", "chain:", "chain:-1", "chain:１２"):
        with pytest.raises(ValueError):
            block_height(bad)


def _state(*callbacks: dict[str, Any], mode: int = 1, min_ial: str = "2.3",
           min_aal: str = "2.2") -> dict[str, Any]:
    state = new_state("login-1", mode=mode, min_ial=min_ial, min_aal=min_aal, request_id=REQ)
    for cb in callbacks:
        state = apply_callback(state, cb)
    return state


OK2: dict[str, Any] = {"vs": True, "vi": True}
ACCEPTANCE = [
    # (name, state, expected result)
    ("mode 1 completed, nulls are fine",
     _state(status(6, "completed", responses=[answer()])), "accepted"),
    ("mode 1 completed and closed by the node",
     _state(status(7, "completed", responses=[answer()], closed=True)), "accepted"),
    ("mode 1 completed but IAL too low",
     _state(status(6, "completed", responses=[answer(ial=2.2)])), "errored"),
    ("mode 1 completed but AAL too low",
     _state(status(6, "completed", responses=[answer(aal=2.1)])), "errored"),
    ("mode 1 stronger levels than asked",
     _state(status(6, "completed", responses=[answer(ial=3, aal=3)])), "accepted"),
    ("levels as Decimal text",
     _state(status(6, "completed", responses=[answer(ial="2.3", aal="2.2")])), "accepted"),
    ("mode 2 both checks true",
     _state(status(6, "completed", mode=2, responses=[answer(**OK2)]), mode=2), "accepted"),
    ("mode 2 signature null",
     _state(status(6, "completed", mode=2, responses=[answer(vi=True)]), mode=2), "errored"),
    ("mode 2 signature false",
     _state(status(6, "completed", mode=2, responses=[answer(vs=False, vi=True)]), mode=2),
     "errored"),
    ("mode 2 ial not valid",
     _state(status(6, "completed", mode=2, responses=[answer(vs=True, vi=False)]), mode=2),
     "errored"),
    ("mode 3 both checks true",
     _state(status(6, "completed", mode=3, responses=[answer(**OK2)]), mode=3), "accepted"),
    ("mode 3 both null (as in mode 1)",
     _state(status(6, "completed", mode=3, responses=[answer()]), mode=3), "errored"),
    ("we asked mode 2, the callback says mode 1",
     _state(status(6, "completed", mode=1, responses=[answer()]), mode=2), "errored"),
    ("the callback claims lower thresholds than we asked",
     _state(status(6, "completed", min_ial=1.1, min_aal=1, responses=[answer(ial=2.1)])),
     "errored"),
    ("two accepting answers, one too weak",
     _state(status(6, "completed", responses=[answer(), answer(ial=1.3, idp=BANK_B)])),
     "errored"),
    ("completed without an accepting answer",
     _state(status(6, "completed", responses=[])), "errored"),
    ("accepting answer without levels",
     _state(status(6, "completed", responses=[answer(ial=None)])), "errored"),
    ("confirmed is not enough", _state(status(6, "confirmed", responses=[answer()])),
     "pending"),
    ("partial_completed is not enough",
     _state(status(6, "partial_completed", responses=[answer()])), "pending"),
    ("pending", _state(status(5)), "pending"),
    ("nothing yet", _state(), "pending"),
    ("rejected", _state(status(6, "rejected", responses=[answer(ok="reject")])), "rejected"),
    ("complicated", _state(status(6, "complicated", responses=[answer(), answer(
        ok="reject", idp=BANK_B)])), "rejected"),
    ("errored", _state(status(7, "errored", closed=True, responses=[
        {"idp_id": BANK_A, "valid_ial": None, "valid_signature": None, "error_code": 1000}])),
     "errored"),
    ("timed out while pending", _state(status(9, timed_out=True)), "timed_out"),
    ("closed while pending", _state(status(9, closed=True)), "closed"),
    ("close result before the closed status", _state(status(5), close_cb()), "closed"),
    ("a failed close changes nothing", _state(status(5), close_cb(False)), "pending"),
    ("create refused by the chain", _state(created_cb(success=False)), "errored"),
]


@pytest.mark.parametrize(("state", "expected"), [(s, e) for _, s, e in ACCEPTANCE],
                         ids=[n for n, _, _ in ACCEPTANCE])
def test_acceptance_rule(state: dict[str, Any], expected: str) -> None:
    outcome = login_outcome(state)
    assert outcome.result == expected
    if expected == "accepted":
        assert isinstance(outcome.answer, BankAnswer)
    else:
        assert outcome.answer is None


def test_accepted_answer_is_the_bank_answer_for_proofing() -> None:
    state = _state(status(6, "completed", mode=2, responses=[
        answer(ial=2.3, aal=2.2, **OK2)]), mode=2)
    outcome = login_outcome(state)
    assert outcome.answer == BankAnswer(idp_id=BANK_A, ial=D("2.3"), aal=D("2.2"),
                                        signature="sig", valid_signature=True, valid_ial=True)
    assert str(outcome.answer.ial) == "2.3"  # a float 2.3 from the callback, read exactly
    assert login_outcome(None) == LoginOutcome("pending")


def test_new_state_checks_what_we_ask() -> None:
    with pytest.raises(ValueError):
        new_state("r", mode=4, min_ial="2.3", min_aal="2.2")
    with pytest.raises(ValueError):
        new_state("r", mode=1, min_ial="2.4", min_aal="2.2")
    with pytest.raises(TypeError):
        new_state("r", mode=1, min_ial=2.3, min_aal="2.2")  # type: ignore[arg-type]
    state = new_state("r", mode=2, min_ial=D("3"), min_aal="2.1")
    assert state["expected"] == {"mode": 2, "min_ial": "3", "min_aal": "2.1"}
    json.dumps(state)  # any store can keep it


# --------------------------------------------------------------------------------------------
# Small pieces


def test_to_json_writes_decimals_as_numbers_and_refuses_floats() -> None:
    assert to_json({"a": D("2.3"), "b": [D("3"), 1, True, None, "ไทย"], "c": D("1E+1")}) == (
        '{"a":2.3,"b":[3,1,true,null,"ไทย"],"c":10}')
    with pytest.raises(TypeError):
        to_json({"a": 2.3})
    with pytest.raises(ValueError):
        to_json(D("NaN"))
    with pytest.raises(TypeError):
        to_json({"a": object()})


def test_level_reading() -> None:
    assert level(2.3) == D("2.3") and str(level(2.3)) == "2.3"
    assert level(3) == D(3) and level("2.2") == D("2.2") and level(D("1.1")) == D("1.1")
    for bad in (None, True, "abc", "NaN", float("inf")):
        with pytest.raises(ValueError):
            level(bad)


def test_parse_node_name() -> None:
    name = json.dumps({"marketing_name_th": "ธนาคาร", "marketing_name_en": "Bank"})
    assert parse_node_name(name) == ("ธนาคาร", "Bank")
    assert parse_node_name("Plain Bank") == ("Plain Bank", "Plain Bank")
    assert parse_node_name(json.dumps({"marketing_name_en": "Only EN"})) == ("Only EN",
                                                                             "Only EN")
    assert parse_node_name("[1]") == ("[1]", "[1]")
