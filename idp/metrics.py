"""Prometheus metrics: HTTP traffic per endpoint, and the domain events operators watch.

Labels are bounded and name no one: an endpoint is the Flask URL rule (``/sign/<handle>``),
never the raw path, so no handle, id or token becomes a label value (and the number of series
stays fixed); domain counters are labelled with a method, grant type, outcome, kind or level,
never a person or a client. Domain events are counted from the audit trail (one observer on
:func:`idp.audit.add_observer`), after their transaction commits, so the counters agree with
the trail and no view needs a second call that could be forgotten.

Under gunicorn every worker is its own process: the gunicorn configuration sets
``PROMETHEUS_MULTIPROC_DIR`` before any worker imports this module, values go to files there,
and ``GET /metrics`` sums them across workers (``child_exit`` marks a dead worker's files).

``GET /metrics`` answers only addresses in IDP_METRICS_ALLOW and 404 to everyone else: the
figures are not secret, but they are not for the public either, and a 404 does not even say
that the endpoint exists.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from werkzeug.wrappers import Response

from idp import audit, logs

# Latency buckets (seconds): from the ~1 ms of a token request on a warm path to the tens of
# seconds a document verification may take (IDP_VERIFY_TIMEOUT).
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0)

HTTP_REQUESTS = Counter("idp_http_requests", "HTTP requests answered",
                        ["endpoint", "method", "status"])
HTTP_DURATION = Histogram("idp_http_request_duration_seconds",
                          "Time to answer an HTTP request, by URL rule", ["endpoint"],
                          buckets=_BUCKETS)
LOGINS = Counter("idp_logins", "Successful logins, by authentication method", ["method"])
TOKENS = Counter("idp_tokens_issued", "Token responses issued, by grant type", ["grant_type"])
NDID = Counter("idp_ndid_requests", "NDID identity requests, by outcome", ["outcome"])
SIGNATURES = Counter("idp_signatures", "Signatures made: signed (a person) or sealed "
                     "(an organisation), by PAdES level", ["kind", "level"])

UNMATCHED = "unmatched"  # the endpoint label of a request no rule matched (404, bad method)
OTHER = "other"

# A label value taken from an event must look like one of our own constants; anything else
# (a value that came from outside by mistake) is folded into "other", so a label can never
# carry data or make the number of series grow without bound.
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
_SIGNATURE_EVENTS = {"signing.signed": "signed", "signing.sealed": "sealed",
                     "registry.issued": "sealed"}


def _label(value: Any) -> str:
    text = str(value) if value is not None else ""
    return text if _LABEL.fullmatch(text) else OTHER


def count_audit_event(event_type: str, data: Mapping[str, Any]) -> None:
    """The audit observer: turn a committed event into the domain counters."""
    if event_type == "login.success":
        LOGINS.labels(method=_label(data.get("method"))).inc()
    elif event_type == "token.issued":
        TOKENS.labels(grant_type=_label(data.get("grant_type"))).inc()
    elif event_type.startswith("ndid."):
        NDID.labels(outcome=_label(event_type.removeprefix("ndid."))).inc()
    elif event_type in _SIGNATURE_EVENTS:
        SIGNATURES.labels(kind=_SIGNATURE_EVENTS[event_type],
                          level=_label(data.get("level"))).inc()


def _observe_request(response: Response) -> Response:
    endpoint = logs.endpoint_label() or UNMATCHED
    method = request.method if request.method in _METHODS else OTHER
    HTTP_REQUESTS.labels(endpoint=endpoint, method=method,
                         status=str(response.status_code)).inc()
    elapsed = logs.elapsed_seconds()
    if elapsed is not None:
        HTTP_DURATION.labels(endpoint=endpoint).observe(elapsed)
    return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def allowed(address: str | None, allow: tuple[str, ...]) -> bool:
    """Whether `address` is in one of the allowed addresses or networks."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(net, strict=False) for net in allow)


def exposition() -> bytes:
    """All metrics in the Prometheus text format; summed over every worker's files in
    multiprocess mode, this process's registry otherwise."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry, path=directory)
        return bytes(generate_latest(registry))
    return bytes(generate_latest(REGISTRY))


def _metrics_view() -> Response:
    from idp.provider import current_provider

    if not allowed(request.remote_addr, current_provider().settings.metrics_allow):
        abort(404)
    return Response(exposition(), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count every request and serve ``GET /metrics``; count domain events from the audit
    trail. Call right after :func:`idp.logs.init_app` (it reads the start time that sets)."""
    app.after_request(_observe_request)
    app.add_url_rule("/metrics", "metrics", _metrics_view, methods=["GET"])
    audit.add_observer(count_audit_event)
