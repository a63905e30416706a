"""federation.oidc without a browser: configuration, mapping, ID token validation, and the
client's HTTP rules against a stand-in provider (a WSGI app served on loopback).

The keys are made here: each ID token failure is a token signed (or not) by a key we hold.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from werkzeug.wrappers import Request, Response

from federation.oidc import (
    IalMapping,
    IdTokenError,
    ProviderMetadata,
    UpstreamClient,
    UpstreamConfig,
    UpstreamConfigError,
    UpstreamError,
    at_hash,
    authorization_request,
    check_response_issuer,
    map_claims,
    map_ial,
    map_identity,
    parse_config,
    parse_configs,
    parse_metadata,
    validate_id_token,
)
from tests.support.wsgi import serve_wsgi

ISSUER = "https://imauth.example.go.th"
CLIENT_ID = "our-idp"
SECRET = "very-secret-value-do-not-print-0123456789"
NONCE = "n-0S6_WzA2Mj"
PID = "1345951597671"

THAID: dict[str, Any] = {
    "name": "thaid",
    "display_name": {"th": "ไทยดี", "en": "ThaID"},
    "discovery_url": f"{ISSUER}/.well-known/openid-configuration",
    "client_id": CLIENT_ID,
    "client_secret": SECRET,
    "scopes": ["openid", "pid", "name", "given_name", "family_name", "name_en",
               "given_name_en", "family_name_en", "title", "title_en", "birthdate", "gender",
               "address", "ial"],
    "claims": {"pid": "th_citizen_id", "given_name": "given_name#th",
               "given_name_en": "given_name", "family_name": "family_name#th",
               "family_name_en": "family_name", "name": "name#th", "name_en": "name",
               "title": "title#th", "title_en": "title", "birthdate": "birthdate",
               "gender": "gender", "address": "address"},
    "ial": {"claim": "ial", "max": "2.3"},
    "aal": "2.2",
    "evidence": "id_card_chip",
}


def thaid(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(THAID)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def problems_of(obj: Any, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(UpstreamConfigError) as info:
        parse_configs(obj, env)
    assert SECRET not in str(info.value)
    return info.value.problems


# --- configuration --------------------------------------------------------------------------


def test_a_thaid_config_parses() -> None:
    [config] = parse_configs(json.dumps([THAID]))
    assert config.name == "thaid" and config.source == "oidc:thaid"
    assert config.issuer == ISSUER
    assert config.citizen_id_claim == "pid"
    assert config.token_endpoint_auth_method == "client_secret_basic"
    assert config.ial == IalMapping(claim="ial", values={}, default=None,
                                    max_ial=Decimal("2.3"))
    assert config.aal == Decimal("2.2") and str(config.aal) == "2.2"
    assert config.claims["given_name_en"] == "given_name"
    assert SECRET not in repr(config)


def test_the_secret_may_come_from_the_environment() -> None:
    obj = thaid(client_secret=None, client_secret_env="THAID_SECRET")
    [config] = parse_configs([obj], {"THAID_SECRET": SECRET})
    assert config.client_secret == SECRET
    assert "THAID_SECRET" in " ".join(problems_of([obj], {}))


@pytest.mark.parametrize(("change", "expected"), [
    ({"name": "ThaID!"}, '"name" has a form that is not allowed'),
    ({"name": None}, '"name" is required'),
    ({"display_name": {"en": "ThaID"}}, '"display_name" must be'),
    ({"discovery_url": "http://thaid.example/.well-known/openid-configuration"},
     '"discovery_url" must use https'),
    ({"discovery_url": "https://thaid.example/oidc/config"}, 'give "issuer" too'),
    ({"client_id": None}, '"client_id" is required'),
    ({"client_secret": None}, '"client_secret" (a non-empty string)'),
    ({"client_secret_env": "X"}, "not both"),
    ({"token_endpoint_auth_method": "none"}, '"token_endpoint_auth_method" must be'),
    ({"scopes": ["pid", "ial"]}, '"scopes" must include "openid"'),
    ({"scopes": "openid pid"}, '"scopes" must be a list'),
    ({"claims": {"pid": "th_citizen_id", "x": "password"}}, "maps to an unknown claim"),
    ({"claims": {"pid": "th_citizen_id", "a": "name", "b": "name"}},
     'more than one upstream claim maps to "name"'),
    ({"claims": {"given_name": "given_name"}}, "no claim gives the citizen ID"),
    ({"citizen_id_claim": "citizen_id"}, '"citizen_id_claim" is "citizen_id" but'),
    ({"ial": {"claim": None}}, '"ial" needs a "claim"'),
    ({"ial": {"claim": "ial", "values": {"high": "2.4"}}}, '"ial.values.high" must be an IAL'),
    ({"ial": {"claim": "ial", "max": 3}}, '"ial.max" must be an IAL written as a string'),
    ({"ial": {"level": "ial"}}, '"ial" must be an object with'),
    ({"aal": "2"}, '"aal" must be the AAL a login there gives'),
    ({"aal": None}, '"aal" must be'),
    ({"evidence": "passport"}, '"evidence" must be'),
    ({"userinfo": "yes"}, '"userinfo" must be true or false'),
    ({"timeout": 120}, '"timeout" must be a number'),
    ({"scope": "openid"}, 'unknown field "scope"'),
])
def test_config_problems_are_named(change: dict[str, Any], expected: str) -> None:
    found = problems_of([thaid(**change)])
    assert any(expected in p for p in found), found
    assert all(p.startswith("upstreams[0]") for p in found), found


def test_every_problem_of_every_provider_is_listed() -> None:
    found = problems_of([thaid(aal="9", scopes=["pid"]), thaid(name="Bad Name"), THAID, THAID])
    assert any(p.startswith("upstreams[0]") and '"aal"' in p for p in found)
    assert any(p.startswith("upstreams[0]") and '"scopes"' in p for p in found)
    assert any(p.startswith("upstreams[1]") and '"name"' in p for p in found)
    assert 'two providers are named "thaid"' in found


@pytest.mark.parametrize(("data", "expected"), [
    ("{not json", "not valid JSON (line 1"),
    ({"name": "thaid"}, "must be a JSON list"),
    (["thaid"], "upstreams[0]: must be a JSON object"),
    ([THAID] * 51, "at most 50 providers"),
])
def test_file_shape_problems(data: Any, expected: str) -> None:
    assert any(expected in p for p in problems_of(data))


def test_loopback_http_is_allowed_for_development() -> None:
    config = parse_config(thaid(discovery_url="http://127.0.0.1:8080/.well-known/"
                                              "openid-configuration"), 0)
    assert config.issuer == "http://127.0.0.1:8080"


# --- mapping --------------------------------------------------------------------------------


def config() -> UpstreamConfig:
    return parse_config(THAID, 0)


THAID_CLAIMS: dict[str, Any] = {
    "sub": "thaid-sub-1", "pid": PID, "title": "นาง", "given_name": "สมศรี",
    "family_name": "ใจดี", "name": "นางสมศรี ใจดี", "title_en": "Mrs.",
    "given_name_en": "Somsri", "family_name_en": "Jaidee", "name_en": "Mrs. Somsri Jaidee",
    "birthdate": "1985-04-12", "gender": "female", "address": "99 ถนนพหลโยธิน กรุงเทพฯ",
    "ial": "2.3",
}


def test_thaid_claims_map_to_ours() -> None:
    identity = map_identity(config(), {"iss": ISSUER, "sub": "thaid-sub-1", "iat": 1,
                                       "nonce": NONCE}, THAID_CLAIMS)
    assert identity.citizen_id == PID and identity.subject == "thaid-sub-1"
    assert identity.ial == Decimal("2.3") and identity.aal == Decimal("2.2")
    assert identity.claims == {
        "th_citizen_id": PID, "title#th": "นาง", "given_name#th": "สมศรี",
        "family_name#th": "ใจดี", "name#th": "นางสมศรี ใจดี", "title": "Mrs.",
        "given_name": "Somsri", "family_name": "Jaidee", "name": "Mrs. Somsri Jaidee",
        "birthdate": "1985-04-12", "gender": "female",
        "address": {"formatted": "99 ถนนพหลโยธิน กรุงเทพฯ"}}
    assert identity.evidence == "id_card_chip"
    assert identity.reference.startswith("sha256:")
    assert PID not in repr(identity) and "Somsri" not in repr(identity)


def test_id_token_claims_win_over_userinfo_and_jti_is_the_reference() -> None:
    identity = map_identity(config(), {**THAID_CLAIMS, "given_name_en": "Som", "jti": "tx-1"},
                            THAID_CLAIMS)
    assert identity.claims["given_name"] == "Som"
    assert identity.reference == "tx-1"


def test_values_that_do_not_fit_are_left_out() -> None:
    claims = map_claims(config(), {**THAID_CLAIMS, "birthdate": "12/04/1985",
                                   "name_en": "x" * 600, "gender": ["f"],
                                   "address": {"locality": "Bangkok", "evil": {"a": 1}}})
    assert "birthdate" not in claims and "name" not in claims and "gender" not in claims
    assert claims["address"] == {"locality": "Bangkok"}


@pytest.mark.parametrize("pid", [None, "1234567890123", "not-a-number", 1345951597671])
def test_no_valid_citizen_id_is_incomplete(pid: Any) -> None:
    claims = {**THAID_CLAIMS, "pid": pid}
    with pytest.raises(UpstreamError) as info:
        map_identity(config(), {"sub": "s", "iat": 1}, claims)
    assert info.value.code == "upstream_identity_incomplete"
    assert "1234567890123" not in str(info.value)


def test_citizen_id_written_with_dashes_is_normalised() -> None:
    identity = map_identity(config(), {"sub": "s"}, {**THAID_CLAIMS, "pid": "1-3459-51597-67-1"})
    assert identity.citizen_id == PID


@pytest.mark.parametrize(("mapping", "value", "expected"), [
    (IalMapping(), "2.3", "2.3"),
    (IalMapping(), 2.3, "2.3"),
    (IalMapping(), "2.30", "2.3"),
    (IalMapping(), 3, "3"),
    (IalMapping(max_ial=Decimal("2.2")), "2.3", "2.2"),
    (IalMapping(values={"high": Decimal("2.3"), "low": Decimal("1.2")}), "low", "1.2"),
    (IalMapping(values={"high": Decimal("2.3")}, default=Decimal("1.1")), "2.3", "1.1"),
    (IalMapping(default=Decimal("2.1")), None, "2.1"),
    (IalMapping(claim=None, default=Decimal("2.2")), "3", "2.2"),
])
def test_ial_mapping(mapping: IalMapping, value: Any, expected: str) -> None:
    claims = {} if value is None else {"ial": value}
    level = map_ial(mapping, claims)
    assert level == Decimal(expected) and str(level) == expected


@pytest.mark.parametrize("value", [None, "2.4", "high", True, ["2.3"]])
def test_an_ial_we_cannot_read_fails_without_a_default(value: Any) -> None:
    with pytest.raises(UpstreamError) as info:
        map_ial(IalMapping(), {} if value is None else {"ial": value})
    assert info.value.code == "upstream_identity_incomplete"


# --- discovery and the authorization request ------------------------------------------------


def discovery(issuer: str = ISSUER, **changes: Any) -> dict[str, Any]:
    doc = {"issuer": issuer, "authorization_endpoint": f"{issuer}/auth",
           "token_endpoint": f"{issuer}/token", "jwks_uri": f"{issuer}/jwks",
           "userinfo_endpoint": f"{issuer}/me",
           "id_token_signing_alg_values_supported": ["RS256", "ES256"],
           "authorization_response_iss_parameter_supported": True}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def test_discovery_issuer_must_be_exact() -> None:
    with pytest.raises(UpstreamError, match="issuer is not the configured one"):
        parse_metadata(discovery(issuer=ISSUER + "/"), ISSUER)


@pytest.mark.parametrize(("change", "expected"), [
    ({"token_endpoint": "http://evil.example/token"}, "token_endpoint must use https"),
    ({"jwks_uri": None}, "jwks_uri must be a URL"),
    ({"id_token_signing_alg_values_supported": ["none", "HS256"]}, "no algorithm we accept"),
])
def test_discovery_problems(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(UpstreamError, match=expected):
        parse_metadata(discovery(**change), ISSUER)


def test_discovery_without_algorithms_means_rs256() -> None:
    metadata = parse_metadata(discovery(id_token_signing_alg_values_supported=None), ISSUER)
    assert metadata.id_token_signing_alg_values_supported == ("RS256",)
    assert metadata.userinfo_endpoint == f"{ISSUER}/me"


def test_authorization_request_is_code_flow_with_pkce_state_and_nonce() -> None:
    metadata = parse_metadata(discovery(authorization_endpoint=f"{ISSUER}/auth?realm=dopa"),
                              ISSUER)
    begun = authorization_request(config(), metadata, "https://idp.example/federation/oidc/"
                                  "callback", {"ui_locales": "th"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(begun.url).query).items()}
    assert begun.url.startswith(f"{ISSUER}/auth?realm=dopa&")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["scope"] == " ".join(THAID["scopes"])
    assert query["state"] == begun.state and query["nonce"] == begun.nonce
    assert len(begun.state) >= 43 and len(begun.nonce) >= 43
    assert query["code_challenge_method"] == "S256"
    digest = __import__("hashlib").sha256(begun.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert "code_verifier" not in query and query["ui_locales"] == "th"
    assert begun.code_verifier not in repr(begun)
    second = authorization_request(config(), metadata, "https://idp.example/cb")
    assert second.state != begun.state and second.nonce != begun.nonce


def test_response_issuer_rfc9207() -> None:
    metadata = parse_metadata(discovery(), ISSUER)
    check_response_issuer(metadata, ISSUER)
    for wrong in (None, "https://attacker.example"):
        with pytest.raises(UpstreamError):
            check_response_issuer(metadata, wrong)
    lax = parse_metadata(discovery(authorization_response_iss_parameter_supported=None), ISSUER)
    check_response_issuer(lax, None)


# --- ID token validation --------------------------------------------------------------------


RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig", "alg": "RS256"})
RSA_OTHER = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig",
                                                  "alg": "RS256"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig", "alg": "ES256"})


def jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [dict(k.as_dict(private=False)) for k in keys]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "thaid-sub-1", "aud": CLIENT_ID, "exp": now + 300,
            "iat": now, "nonce": NONCE}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(body: dict[str, Any], key: Any = RSA, alg: str = "RS256", kid: str | None = "rsa-1"
         ) -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, body, key, algorithms=[alg])


def keys_of(*sets: dict[str, Any]) -> tuple[Callable[[bool], dict[str, Any]], list[bool]]:
    """A key source: the first set, then the next ones on each refetch; records the calls."""
    calls: list[bool] = []
    remaining = list(sets)

    def source(refresh: bool) -> dict[str, Any]:
        calls.append(refresh)
        if refresh and len(remaining) > 1:
            remaining.pop(0)
        return remaining[0]
    return source, calls


def validate(token: str, keyset: Any = None, **kwargs: Any) -> dict[str, Any]:
    source = keyset if callable(keyset) else keys_of(keyset or jwks(RSA, EC))[0]
    options: dict[str, Any] = {"issuer": ISSUER, "client_id": CLIENT_ID, "nonce": NONCE,
                               "algorithms": ["RS256", "ES256"], "keys": source}
    options.update(kwargs)
    return validate_id_token(token, **options)


def reason(token: str, keyset: Any = None, **kwargs: Any) -> str:
    with pytest.raises(IdTokenError) as info:
        validate(token, keyset, **kwargs)
    return info.value.reason


def test_a_good_id_token_passes() -> None:
    assert validate(sign(claims()))["sub"] == "thaid-sub-1"
    assert validate(sign(claims(), EC, "ES256", "ec-1"))["sub"] == "thaid-sub-1"
    assert validate(sign(claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID)))["azp"] == CLIENT_ID


def test_wrong_issuer() -> None:
    assert reason(sign(claims(iss="https://other.example"))) == "iss"
    assert reason(sign(claims(iss=ISSUER + "/"))) == "iss"


def test_wrong_audience() -> None:
    assert reason(sign(claims(aud="someone-else"))) == "aud"
    assert reason(sign(claims(aud=None))) == "aud"


def test_several_audiences_need_our_azp() -> None:
    assert reason(sign(claims(aud=[CLIENT_ID, "other"]))) == "azp"
    assert reason(sign(claims(aud=[CLIENT_ID, "other"], azp="other"))) == "azp"
    assert reason(sign(claims(azp="other"))) == "azp"


def test_expired() -> None:
    now = int(time.time())
    assert reason(sign(claims(exp=now - 120, iat=now - 600))) == "exp"
    assert reason(sign(claims(exp=None))) == "exp"
    assert reason(sign(claims(exp="tomorrow"))) == "exp"
    assert validate(sign(claims(exp=now - 10)))  # within the clock leeway


def test_issued_in_the_future_or_not_yet_valid() -> None:
    now = int(time.time())
    assert reason(sign(claims(iat=now + 600))) == "iat"
    assert reason(sign(claims(iat=None))) == "iat"
    assert reason(sign(claims(nbf=now + 600))) == "nbf"


def test_bad_nonce() -> None:
    assert reason(sign(claims(nonce="another"))) == "nonce"
    assert reason(sign(claims(nonce=None))) == "nonce"


def test_bad_signature() -> None:
    # The same kid, another key: what a forger who knows the kid would send.
    assert reason(sign(claims(), RSA_OTHER)) == "signature"
    good = sign(claims())
    head, _, sig = good.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps(claims(sub="victim")).encode()
                                           ).rstrip(b"=").decode()
    assert reason(f"{head}.{forged_body}.{sig}") == "signature"


def test_alg_none_and_mac_are_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    assert reason(f"{header}.{body}.") == "alg"
    assert reason(f"{header}.{body}.", algorithms=["none", "RS256"]) == "alg"
    mac = OctKey.import_key(SECRET)
    assert reason(sign(claims(), mac, "HS256", None), algorithms=["HS256", "RS256"]) == "alg"


def test_an_algorithm_the_provider_does_not_advertise_is_refused() -> None:
    assert reason(sign(claims(), EC, "ES256", "ec-1"), algorithms=["RS256"]) == "alg"


def test_unknown_kid_refetches_the_jwks_once() -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "use": "sig"})
    source, calls = keys_of(jwks(RSA), jwks(RSA, rotated))
    assert validate(sign(claims(), rotated, kid="rsa-2"), source)["sub"] == "thaid-sub-1"
    assert calls == [False, True]

    source, calls = keys_of(jwks(RSA), jwks(RSA))
    assert reason(sign(claims(), rotated, kid="rsa-9"), source) == "unknown_kid"
    assert calls == [False, True]


def test_a_kid_of_the_wrong_key_type_is_unknown() -> None:
    assert reason(sign(claims(), RSA, kid="ec-1")) == "unknown_kid"


def test_without_kid_the_only_fitting_key_is_used() -> None:
    assert validate(sign(claims(), kid=None), jwks(RSA, EC))["sub"] == "thaid-sub-1"
    two = RSAKey.generate_key(2048, parameters={"kid": "rsa-3"})
    assert reason(sign(claims(), kid=None), jwks(RSA, two)) == "unknown_kid"


def test_at_hash_is_checked_when_present() -> None:
    access = "an-access-token"
    token = sign(claims(at_hash=at_hash(access, "RS256")))
    assert validate(token, access_token=access)
    assert reason(token, access_token="another-access-token") == "at_hash"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d.e", "x" * 20000, "é.a.b",
                                   "bm90LWpzb24.e30.sig"])
def test_malformed_tokens(token: str) -> None:
    assert reason(token) == "malformed"


def test_critical_headers_are_refused() -> None:
    good = sign(claims())
    header = base64.urlsafe_b64encode(json.dumps(
        {"alg": "RS256", "kid": "rsa-1", "crit": ["x-policy"], "x-policy": 1}).encode()
    ).rstrip(b"=").decode()
    _, body, signature = good.split(".")
    assert reason(f"{header}.{body}.{signature}") == "malformed"


def test_sub_is_required() -> None:
    assert reason(sign(claims(sub=None))) == "sub"
    assert reason(sign(claims(sub=""))) == "sub"


# --- the client against a stand-in provider over HTTP ---------------------------------------


class StandIn:
    """A tiny OpenID provider: discovery, JWKS, token and userinfo endpoints, scripted."""

    def __init__(self) -> None:
        self.base = ""
        self.key = RSA
        self.published: list[Any] = [RSA]
        self.hits: dict[str, int] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.token_status = 200
        self.id_claims: dict[str, Any] = {}
        self.userinfo: dict[str, Any] = {}
        self.discovery_extra: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        self.hits[req.path] = self.hits.get(req.path, 0) + 1
        body: Any
        status = 200
        if req.path == "/.well-known/openid-configuration":
            body = {**discovery(self.base), **self.discovery_extra}
        elif req.path == "/jwks":
            body = jwks(*self.published)
        elif req.path == "/token":
            self.token_requests.append({"form": dict(req.form),
                                        "authorization": req.headers.get("Authorization")})
            status = self.token_status
            access = "access-" + "x" * 20
            body = {"access_token": access, "token_type": "Bearer", "expires_in": 60,
                    "id_token": sign({**claims(iss=self.base), **self.id_claims,
                                      "at_hash": at_hash(access, "RS256")},
                                     self.key, kid=self.key.kid)}
            if status != 200:
                body = {"error": "invalid_grant", "error_description": "bad code " + PID}
        elif req.path == "/me":
            body = self.userinfo
        elif req.path == "/big":
            body = {"x": "y" * 70000}
        else:
            status, body = 404, {"error": "not_found"}
        resp = Response(json.dumps(body), status=status, mimetype="application/json")
        return resp(environ, start_response)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    app = StandIn()
    server, base = serve_wsgi(app)
    app.base = base
    try:
        yield app
    finally:
        server.shutdown()


def client_for(stand_in: StandIn, clock: Callable[[], float] = time.monotonic,
               **changes: Any) -> UpstreamClient:
    changes.setdefault("discovery_url", f"{stand_in.base}/.well-known/openid-configuration")
    obj = thaid(**changes)
    return UpstreamClient(parse_config(obj, 0), clock=clock)


def test_the_whole_callback_work(stand_in: StandIn) -> None:
    stand_in.userinfo = {**THAID_CLAIMS}
    client = client_for(stand_in)
    identity = client.finish("the-code", code_verifier="v" * 43, nonce=NONCE,
                             redirect_uri="https://idp.example/cb")
    assert identity.citizen_id == PID and identity.claims["given_name#th"] == "สมศรี"
    sent = stand_in.token_requests[0]
    assert sent["form"] == {"grant_type": "authorization_code", "code": "the-code",
                            "redirect_uri": "https://idp.example/cb", "code_verifier": "v" * 43}
    user, password = base64.b64decode(sent["authorization"].split()[1]).decode().split(":")
    assert (user, password) == (CLIENT_ID, SECRET)
    assert stand_in.hits["/me"] == 1


def test_client_secret_post(stand_in: StandIn) -> None:
    stand_in.userinfo = {**THAID_CLAIMS}
    client_for(stand_in, token_endpoint_auth_method="client_secret_post").finish(
        "c", code_verifier="v" * 43, nonce=NONCE, redirect_uri="https://idp.example/cb")
    sent = stand_in.token_requests[0]
    assert sent["authorization"] is None
    assert sent["form"]["client_id"] == CLIENT_ID and sent["form"]["client_secret"] == SECRET


def test_no_userinfo_call_when_the_id_token_has_every_claim(stand_in: StandIn) -> None:
    stand_in.id_claims = {k: v for k, v in THAID_CLAIMS.items() if k != "sub"}
    identity = client_for(stand_in).finish("c", code_verifier="v" * 43, nonce=NONCE,
                                           redirect_uri="https://idp.example/cb")
    assert identity.ial == Decimal("2.3")
    assert "/me" not in stand_in.hits


def test_userinfo_about_someone_else_is_refused(stand_in: StandIn) -> None:
    stand_in.userinfo = {**THAID_CLAIMS, "sub": "another"}
    with pytest.raises(UpstreamError) as info:
        client_for(stand_in).finish("c", code_verifier="v" * 43, nonce=NONCE,
                                    redirect_uri="https://idp.example/cb")
    assert info.value.code == "upstream_token_invalid"


def test_a_refused_code_names_the_error_but_not_its_text(stand_in: StandIn) -> None:
    stand_in.token_status = 400
    with pytest.raises(UpstreamError) as info:
        client_for(stand_in).finish("c", code_verifier="v" * 43, nonce=NONCE,
                                    redirect_uri="https://idp.example/cb")
    assert info.value.code == "upstream_refused"
    assert "invalid_grant" in info.value.detail and PID not in str(info.value)


def test_discovery_and_jwks_are_cached_and_refetched_on_a_new_kid(stand_in: StandIn) -> None:
    now = [1000.0]
    stand_in.userinfo = {**THAID_CLAIMS}
    client = client_for(stand_in, clock=lambda: now[0])
    for _ in range(2):
        client.finish("c", code_verifier="v" * 43, nonce=NONCE, redirect_uri="https://i/cb")
    assert stand_in.hits["/.well-known/openid-configuration"] == 1
    assert stand_in.hits["/jwks"] == 1

    # The provider rotates its key: one refetch, then it is used.
    stand_in.key = RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "use": "sig"})
    stand_in.published = [RSA, stand_in.key]
    stand_in.id_claims = {}
    rotated = client.validate(client.exchange_code("c", "v" * 43, "https://i/cb"), NONCE)
    assert rotated["sub"] == "thaid-sub-1"
    assert stand_in.hits["/jwks"] == 2

    now[0] += 3601  # after the TTL, discovery is fetched again
    client.metadata()
    assert stand_in.hits["/.well-known/openid-configuration"] == 2


def test_a_discovery_document_for_another_issuer_is_refused(stand_in: StandIn) -> None:
    stand_in.discovery_extra = {"issuer": "https://thaid.example"}
    with pytest.raises(UpstreamError, match="issuer"):
        client_for(stand_in).metadata()


def test_oversized_and_unreachable_documents(stand_in: StandIn) -> None:
    big = client_for(stand_in, discovery_url=f"{stand_in.base}/big",
                     issuer=stand_in.base)
    with pytest.raises(UpstreamError, match="too large"):
        big.metadata()
    gone = client_for(stand_in, discovery_url="http://127.0.0.1:9/.well-known/"
                                              "openid-configuration")
    with pytest.raises(UpstreamError) as info:
        gone.metadata()
    assert info.value.code == "upstream_unavailable"
    assert gone.check() and "could not be reached" in gone.check()[0]


def test_check_reports_ok(stand_in: StandIn) -> None:
    assert client_for(stand_in).check() == []


def test_metadata_dataclass_is_plain_data() -> None:
    metadata = parse_metadata(discovery(), ISSUER)
    assert isinstance(metadata, ProviderMetadata)
    assert metadata.authorization_response_iss_parameter_supported is True
