"""Prometheus metrics: per-endpoint traffic labelled by URL rule (never a raw path), domain
events counted from the audit trail once committed, and /metrics only for allowed addresses."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from idp import audit, metrics
from idp.app import create_app
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.live import Browser, serve


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def all_logins() -> float:
    return sum(sample.value for family in REGISTRY.collect() if family.name == "idp_logins"
               for sample in family.samples if sample.name == "idp_logins_total")


@pytest.fixture
def app(settings: Settings, store: EphemeralStore) -> Flask:
    return create_app(settings, store)


def test_metrics_served_in_prometheus_format_to_loopback(app: Flask) -> None:
    client = app.test_client()
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain; version=")
    text = resp.get_data(as_text=True)
    for name in ("idp_http_requests_total", "idp_http_request_duration_seconds_bucket",
                 "idp_logins_total", "idp_tokens_issued_total", "idp_ndid_requests_total",
                 "idp_signatures_total"):
        assert f"# TYPE {name.removesuffix('_total').removesuffix('_bucket')}" in text, name
    assert 'idp_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.1", "::ffff:192.0.2.1"])
def test_metrics_is_404_for_other_addresses(app: Flask, address: str) -> None:
    resp = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert resp.status_code == 404


def test_metrics_allow_list_takes_networks(settings: Settings, store: EphemeralStore) -> None:
    app = create_app(replace(settings, metrics_allow=("10.0.0.0/8",)), store)
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics").status_code == 404  # loopback is no longer listed


def test_endpoint_label_is_the_url_rule_never_the_path(app: Flask) -> None:
    client = app.test_client()
    handle = "h4ndle" + "Secret" * 4
    before = value("idp_http_requests_total", endpoint="/verify/report/<handle>",
                   method="GET", status="404")
    client.get(f"/verify/report/{handle}")
    client.get(f"/no/such/page/{handle}")
    after = value("idp_http_requests_total", endpoint="/verify/report/<handle>",
                  method="GET", status="404")
    assert after == before + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert handle not in text
    assert 'endpoint="unmatched"' in text
    assert value("idp_http_request_duration_seconds_count",
                 endpoint="/verify/report/<handle>") >= 1


def test_domain_events_are_counted_once_committed(app: Flask) -> None:
    db = app.extensions["idp"].db
    logins = value("idp_logins_total", method="persona")
    tokens = value("idp_tokens_issued_total", grant_type="client_credentials")
    ndid = value("idp_ndid_requests_total", outcome="rejected")
    signed = value("idp_signatures_total", kind="signed", level="B-LTA")
    sealed = value("idp_signatures_total", kind="sealed", level="B-LTA")
    with db.session() as s:
        audit.record(s, "login.success", method="persona", acr="x")
        audit.record(s, "token.issued", grant_type="client_credentials", refresh=False)
        audit.record(s, "ndid.rejected", bank="bank-a")
        audit.record(s, "signing.signed", level="B-LTA", document_sha256="00" * 32)
        audit.record(s, "signing.sealed", level="B-LTA", document_sha256="00" * 32)
        audit.record(s, "registry.issued", level="B-LTA", document="d1")
        # Not counted until the transaction commits.
        assert value("idp_logins_total", method="persona") == logins
    assert value("idp_logins_total", method="persona") == logins + 1
    assert value("idp_tokens_issued_total", grant_type="client_credentials") == tokens + 1
    assert value("idp_ndid_requests_total", outcome="rejected") == ndid + 1
    assert value("idp_signatures_total", kind="signed", level="B-LTA") == signed + 1
    assert value("idp_signatures_total", kind="sealed", level="B-LTA") == sealed + 2


def test_rolled_back_events_are_not_counted(app: Flask) -> None:
    db = app.extensions["idp"].db
    before = value("idp_logins_total", method="rollback-test")
    with pytest.raises(RuntimeError), db.session() as s:
        audit.record(s, "login.success", method="rollback-test")
        raise RuntimeError("the request failed after recording")
    with db.session() as s:
        audit.record(s, "consent.granted", scopes=["openid"])  # commits, counts nothing
    assert value("idp_logins_total", method="rollback-test") == before


def test_odd_label_values_fold_into_other(app: Flask) -> None:
    before = value("idp_logins_total", method="other")
    metrics.count_audit_event("login.success", {"method": "has spaces and {braces}"})
    metrics.count_audit_event("login.success", {"method": "x" * 200})
    metrics.count_audit_event("login.success", {})
    assert value("idp_logins_total", method="other") == before + 3


def test_a_real_login_and_token_are_counted(settings: Settings, store: EphemeralStore) -> None:
    with serve(settings, store) as op:
        logins = all_logins()
        tokens = value("idp_tokens_issued_total", grant_type="authorization_code")
        client = op.register()
        op.code_flow(Browser(op.base), client)
        assert value("idp_tokens_issued_total", grant_type="authorization_code") == tokens + 1
        assert all_logins() == logins + 1
