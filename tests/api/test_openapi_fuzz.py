"""docs/openapi.yaml against the running service: the description is valid, lists every JSON
endpoint the application has, and schemathesis fuzzing of every operation (schema-valid and
schema-violating inputs, with valid credentials so it gets past authentication) finds no
server error, no undocumented status, no body that breaks its schema and no wrong content type.

Bounded and repeatable: a fixed number of examples per operation, derandomized, no example
database. Both store pairs (the `backend` fixture).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_30

from idp.csc.seals import provision_seal
from idp.ndid import callback_token
from idp.pki.views import current_pki
from idp.settings import ROOT, Settings
from idp.store import EphemeralStore
from tests.support.dpop import DpopKey
from tests.support.live import REDIRECT, Browser, LiveProvider, pkce_pair, serve
from tests.support.pdfjudges import make_pdf

SPEC = ROOT / "docs" / "openapi.yaml"

#: Rules of the application that are not JSON endpoints, each with the reason. A new rule that
#: is neither here nor in the description fails test_every_json_endpoint_is_described.
NOT_JSON: dict[str, str] = {
    # pages people see (HTML), and the forms they post
    "/authorize": "redirects and pages", "/logout": "pages and redirects",
    "/consents": "page", "/consents/<client_id>/withdraw": "form",
    "/interaction/<interaction_id>": "page",
    "/interaction/<interaction_id>/login": "form",
    "/interaction/<interaction_id>/consent": "form",
    "/interaction/<interaction_id>/abort": "form",
    "/interaction/<interaction_id>/ndid": "page and form",
    "/interaction/<interaction_id>/ndid/banks": "page",
    "/interaction/<interaction_id>/ndid/cancel": "form",
    "/interaction/<interaction_id>/ndid/request": "form",
    "/interaction/<interaction_id>/ndid/wait": "page",
    "/interaction/<interaction_id>/passkey/continue": "form",
    "/interaction/<interaction_id>/passkey/offer": "page",
    "/interaction/<interaction_id>/upstream/<name>": "redirect to the upstream provider",
    "/federation/oidc/callback": "browser redirect back from an upstream provider",
    "/account": "page", "/account/login": "page", "/account/close": "form",
    "/account/passkeys": "page",
    "/account/passkeys/<int:authenticator_id>/remove": "form",
    "/account/passkeys/<int:authenticator_id>/rename": "form",
    "/account/signing-certificate": "form", "/account/signing-certificate/revoke": "form",
    "/sign": "page and upload form", "/sign/<handle>": "page",
    "/sign/<handle>/confirm": "form", "/sign/<handle>/discard": "form",
    "/sign/<handle>/done": "page",
    "/sign/<handle>/<int:number>/download": "PDF download",
    "/sign/<handle>/download.zip": "ZIP download",
    "/sign/<handle>/<int:number>/page/<int:page>.png": "PNG preview",
    "/verify": "page and upload form",
    "/verify/<doc_id>": "the QR link's page (JSON only by content negotiation)",
    "/csc/v2/confirm/<pending_id>": "the person's confirmation page",
    "/static/<path:filename>": "static files",
    # JSON, but only for our own pages' scripts: a browser session cookie and the CSRF token
    # are the credentials, so they are not an API (tests/authn and tests/signing cover them)
    "/account/passkeys/options": "page script (WebAuthn), session + CSRF",
    "/account/passkeys/verify": "page script (WebAuthn), session + CSRF",
    "/interaction/<interaction_id>/passkey/options": "page script (WebAuthn), session + CSRF",
    "/interaction/<interaction_id>/passkey/verify": "page script (WebAuthn), session + CSRF",
    "/interaction/<interaction_id>/passkey/register/options": "page script, session + CSRF",
    "/interaction/<interaction_id>/passkey/register/verify": "page script, session + CSRF",
    "/csc/v2/confirm/<pending_id>/options": "page script (WebAuthn), session + CSRF",
    "/csc/v2/confirm/<pending_id>/confirm": "page script (WebAuthn), session + CSRF",
    "/sign/<handle>/options": "page script (WebAuthn), session + CSRF",
    # other formats for programs
    "/metrics": "Prometheus text format",
    "/pki/": "page", "/pki/<path:rest>": "not found (PKI paths are DER/PEM)",
    "/pki/ca/<ca_id>.crt": "DER", "/pki/ca/<ca_id>.pem": "PEM", "/pki/crl/<ca_id>.crl": "DER",
    "/pki/ocsp": "application/ocsp-response", "/pki/ocsp/<path:b64req>": "OCSP",
    "/pki/tsa": "application/timestamp-reply",
}

#: Examples per operation and generation mode: enough to reach every branch the schema
#: describes, few enough that both backends run in about a minute each.
MAX_EXAMPLES = 50
SLOW_EXAMPLES = 10  # operations that start a child process or sign (verification, signDoc)
SLOW = {"POST /api/v1/verify", "POST /csc/v2/signatures/signDoc",
        "POST /api/v1/registry/documents"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
ORG_ID = "NTRTH-0994000000001"
CHALLENGE = pkce_pair()[1]
PDF = make_pdf()


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return spec


def _openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: `<int:x>` and `<x>` become `{x}`."""
    out, rest = "", rule
    while "<" in rest:
        before, _, tail = rest.partition("<")
        inner, _, rest = tail.partition(">")
        out += before + "{" + inner.rsplit(":", 1)[-1] + "}"
    return out + rest


def test_spec_is_a_valid_openapi_document() -> None:
    spec = _spec()
    errors = [f"{list(e.absolute_path)}: {e.message[:300]}"
              for e in jsonschema.Draft4Validator(OPENAPI_30).iter_errors(spec)]
    assert not errors, "\n".join(errors)
    schemathesis.openapi.from_path(str(SPEC)).validate()  # schemathesis's own check
    labels = [op.label for op in _operations()]  # and every $ref must resolve
    assert len(labels) == len(set(labels)) > 20
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_json_endpoint_is_described(settings: Settings, store: EphemeralStore) -> None:
    from idp.app import create_app

    app = create_app(settings, store)
    described = _spec()["paths"]
    missing, stale = [], []
    for rule in app.url_map.iter_rules():
        path = _openapi_path(rule.rule)
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if rule.rule in NOT_JSON:
            if path in described:
                stale.append(f"{rule.rule} is described but listed as not JSON")
            continue
        for method in methods:
            if method.lower() not in described.get(path, {}):
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"JSON endpoints missing from docs/openapi.yaml: {missing}"
    assert not stale, stale
    rules = {_openapi_path(r.rule) for r in app.url_map.iter_rules()}
    assert not set(described) - rules, "described paths the application does not have"
    assert not set(NOT_JSON) - {r.rule for r in app.url_map.iter_rules()}, "stale NOT_JSON"


# --- fuzzing --------------------------------------------------------------------------------


@dataclass
class Credentials:
    """What the fuzzer presents so that it gets past authentication: an agency client (its
    secret, a client_credentials token with scopes `issue` and `seal`, a DPoP-bound one with
    its key; the agency is sealed and has issued one e-license), a person's access and refresh
    tokens from a real code flow (scopes openid, profile, service, offline_access), and the
    NDID callback's secret path segment."""

    op: LiveProvider
    agency: dict[str, Any]
    person: dict[str, Any]
    agency_token: str
    seal_id: str
    citizen_token: str
    refresh_token: str
    document_id: str
    ndid_token: str
    dpop_key: DpopKey
    dpop_token: str

    def basic(self, client: dict[str, Any]) -> str:
        raw = f"{client['client_id']}:{client['client_secret']}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def sad_for(self, digest: str) -> str:
        """Signature activation data for the agency's seal and one SHA-256 hash (base64)."""
        resp = requests.post(f"{self.op.base}/csc/v2/credentials/authorize", timeout=10,
                             json={"credentialID": self.seal_id, "hashes": [digest]},
                             headers={"Authorization": f"Bearer {self.agency_token}"})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["SAD"])

    def fresh_token(self) -> str:
        resp = self.op.token(self.agency, grant_type="client_credentials", scope="seal")
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


#: An e-license the fuzzer's agency issues, so that the registry's status changes reach a real
#: document (sealed at B-LTA by the live provider, as an agency would get it).
LICENSE: dict[str, Any] = {
    "type": "business_license",
    "holder": {"name": "นายสมชาย ใจดี", "name_en": "Mr Somchai Jaidee"},
    "fields": {"license_number": "กทม. 0123/2569", "business_name": "ร้านก๋วยเตี๋ยวป้าน้อย",
               "business_type": "ร้านอาหาร", "address": "123 ถนนสุขุมวิท กรุงเทพมหานคร"},
    "valid_from": "2026-01-01",
    "valid_until": "2099-12-31",
}


@pytest.fixture
def creds(settings: Settings, store: EphemeralStore) -> Iterator[Credentials]:
    # NDID on (a node address nothing answers at: callbacks never call out), so the
    # callback endpoint is there to be fuzzed behind its secret path.
    settings = replace(settings, ndid_url="http://127.0.0.1:9/ndid")
    with serve(settings, store) as op:
        agency = op.register(grant_types=["client_credentials"], scope="issue seal",
                             redirect_uris=[])
        resp = op.token(agency, grant_type="client_credentials", scope="issue seal")
        assert resp.status_code == 200, resp.text
        agency_token = resp.json()["access_token"]
        with op.app.app_context():
            seal = provision_seal(current_pki(), agency["client_id"], ORG_ID)
        issued = requests.post(f"{op.base}/api/v1/registry/documents", json=LICENSE,
                               headers={"Authorization": f"Bearer {agency_token}"},
                               timeout=60)
        assert issued.status_code == 201, issued.text
        person = op.register(scope="openid profile service offline_access")
        tokens = op.code_flow(Browser(op.base), person,
                              scope="openid profile service offline_access")
        ndid_token = callback_token(op.settings)
        assert ndid_token is not None
        key = DpopKey.ec()
        bound = requests.post(f"{op.base}/token", timeout=10,
                              data={"grant_type": "client_credentials", "scope": "issue seal"},
                              auth=(agency["client_id"], agency["client_secret"]),
                              headers={"DPoP": key.proof("POST", f"{op.base}/token")})
        assert bound.status_code == 200 and bound.json()["token_type"] == "DPoP", bound.text
        yield Credentials(op, agency, person, agency_token, seal.id, tokens["access_token"],
                          tokens["refresh_token"], issued.json()["id"], ndid_token, key,
                          bound.json()["access_token"])


def _prepare(creds: Credentials, label: str, case: Any, index: int) -> dict[str, str]:
    """The headers that authenticate this case, and real values in the fields that name
    something (credentialID, a token to introspect or revoke, a registered redirect URI), so
    the fuzzer reaches the code behind those checks. One case in five keeps the credentials
    the fuzzer made up: that is fuzzing the authentication itself. Choices go by the case's
    index, so a run is repeatable (the cases are derandomized)."""
    headers: dict[str, str] = {}
    body = case.body if isinstance(case.body, dict) else None
    own_auth = index % 5 == 4
    if not own_auth and case.headers:
        case.headers = {k: v for k, v in case.headers.items()
                        if k.lower() not in ("authorization", "dpop")}
    if label in ("POST /token", "POST /par", "POST /introspect", "POST /revoke"):
        client = creds.person if label == "POST /par" else creds.agency
        if own_auth:
            return headers
        headers["Authorization"] = creds.basic(client)
        if body is None:
            return headers
        for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type"):
            body.pop(name, None)
        if label == "POST /token" and body.get("grant_type") == "client_credentials":
            body["scope"] = "seal"
        elif label == "POST /token" and body.get("grant_type") == "refresh_token":
            headers["Authorization"] = creds.basic(creds.person)
            body["refresh_token"] = creds.refresh_token
        elif label == "POST /introspect":
            body["token"] = creds.agency_token
        elif label == "POST /revoke":
            body["token"] = creds.fresh_token()
        elif label == "POST /par":
            body.update(redirect_uri=REDIRECT, scope="openid profile", response_type="code",
                        code_challenge=CHALLENGE, code_challenge_method="S256")
    elif label.startswith(("GET /userinfo", "POST /userinfo", "POST /csc/v2/credentials",
                           "POST /csc/v2/signatures", "POST /api/v1/registry",
                           "GET /api/v1/registry")):
        citizen = label.endswith("userinfo") or ("/csc/" in label and index % 3 == 1)
        token = creds.citizen_token if citizen else creds.agency_token
        if own_auth:
            return headers
        if body is not None:
            body.pop("access_token", None)
        headers["Authorization"] = f"Bearer {token}"
        if case.path_parameters and "doc_id" in case.path_parameters:
            case.path_parameters["doc_id"] = creds.document_id
        if not citizen and index % 3 == 2:
            # The agency's DPoP-bound token, with a fresh proof for this very request.
            headers["Authorization"] = f"DPoP {creds.dpop_token}"
            headers["DPoP"] = creds.dpop_key.proof(
                case.method.upper(), creds.op.base + case.formatted_path, creds.dpop_token)
        if body is not None and "credentialID" in body:
            body["credentialID"] = creds.seal_id
        if body is not None and label.endswith("/authorize") and index % 2:
            body["hashes"] = [base64.b64encode(bytes([index % 256]) * 32).decode()]
            body.pop("hashAlgorithmOID", None)
        if body is not None and label.endswith("/signHash") and index % 2 and not citizen:
            # A SAD for one hash, so that the signing itself is reached.
            digest = base64.b64encode(bytes([index % 256]) * 32).decode()
            body.update(hashes=[digest], SAD=creds.sad_for(digest),
                        signAlgo="1.2.840.10045.4.3.2")  # ecdsa-with-SHA256, the seal's
            body.pop("hashAlgorithmOID", None)
        if body is not None and label.endswith("/signDoc") and index % 2 \
                and isinstance(body.get("documents"), list) and body["documents"] \
                and isinstance(body["documents"][0], dict):
            body["documents"][0]["document"] = base64.b64encode(PDF).decode()
    elif label == "POST /federation/ndid/callback/{token}" and not own_auth:
        case.path_parameters["token"] = creds.ndid_token
    return headers


def _fuzz(creds: Credentials, operation: Any, mode: GenerationMode,
          statuses: Counter[int]) -> list[str]:
    """Run one operation's examples, counting their statuses; return the failures (empty when
    all passed)."""
    label = operation.label
    failures: list[str] = []
    examples = SLOW_EXAMPLES if label in SLOW else MAX_EXAMPLES
    session = requests.Session()
    counter = iter(range(10**6))

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        headers = _prepare(creds, label, case, next(counter))
        response = case.call(base_url=creds.op.base, session=session, headers=headers,
                             timeout=60)
        statuses[response.status_code] += 1
        if label == "POST /token" and response.status_code == 200:
            # Refresh tokens rotate: the next refresh case needs the new one.
            answer = response.json()
            if "refresh_token" in answer:
                creds.refresh_token = answer["refresh_token"]
                creds.citizen_token = answer["access_token"]
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:  # collect: report every broken one
            found = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
            for failure in found:
                title = getattr(failure, "title", type(failure).__name__)
                detail = " ".join(str(getattr(failure, "message", failure)).split())[:300]
                failures.append(f"{label} [{mode.value}] {response.status_code} {title}: "
                                f"{detail}\n    {case.as_curl_command()[:400]}")

    try:
        run()
    except Unsatisfiable:
        # Nothing to break: an operation without parameters or body has no negative cases.
        assert mode is GenerationMode.NEGATIVE, label
    return failures


def _operations() -> list[Any]:
    """Every operation of the description; one schemathesis cannot read fails the test."""
    operations = []
    for result in schemathesis.openapi.from_path(str(SPEC)).get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


def test_fuzz_every_operation(creds: Credentials) -> None:
    failures: list[str] = []
    seen: dict[str, Counter[int]] = {}
    for operation in _operations():
        statuses = seen[operation.label] = Counter()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures.extend(_fuzz(creds, operation, mode, statuses))
    print("\n".join(f"{label}: {dict(sorted(c.items()))}" for label, c in seen.items()))
    # Each distinct failure once (its first example), at most a screenful.
    unique = list({f.split("\n", 1)[0]: f for f in reversed(failures)}.values())[::-1]
    assert not unique, f"{len(unique)} failures:\n" + "\n".join(unique[:30])
    # The credentials got the fuzzer past authentication on every protected operation.
    stuck = [label for label, c in seen.items() if not set(c) - {401}]
    assert not stuck, f"only 401s: {stuck}"


def test_the_credentials_reach_past_authentication(creds: Credentials) -> None:
    """The fuzzer's credentials are good: without this a fuzz run could pass on 401s alone."""
    base = creds.op.base
    agency = {"Authorization": f"Bearer {creds.agency_token}"}
    resp = requests.post(f"{base}/csc/v2/credentials/list", json={}, headers=agency,
                         timeout=10)
    assert resp.status_code == 200 and resp.json()["credentialIDs"] == [creds.seal_id]
    resp = requests.get(f"{base}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {creds.citizen_token}"})
    assert resp.status_code == 200 and resp.json()["sub"]
    resp = requests.post(f"{base}/introspect", data={"token": creds.agency_token}, timeout=10,
                         headers={"Authorization": creds.basic(creds.agency)})
    assert resp.status_code == 200 and resp.json()["active"] is True

