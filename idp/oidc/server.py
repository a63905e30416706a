"""The token, revocation and introspection endpoints, built on authlib's authorization server.

authlib handles client authentication (client_secret_basic, client_secret_post,
private_key_jwt), PKCE verification and the grant mechanics; this module plugs our stores into
its hooks: atomic single-use codes, grant families, refresh rotation with reuse detection.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    OAuth2Error,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask
from flask import request as flask_request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import audit, metrics
from idp.clients import check_secret
from idp.db import Client, Person
from idp.fetch import FetchError, fetch_jwks
from idp.oidc import dpop, resource, tokens
from idp.oidc.client_keys import WeakKeyError, assertion_algorithms, check_key_strength
from idp.oidc.encryption import (
    EncryptionKeyError,
    client_encryption_key,
    encrypt_jwt,
    id_token_encrypted,
)
from idp.oidc.idtoken import IdTokenInput, build_id_token
from idp.provider import Provider, current_provider

# authlib logs issued tokens at DEBUG; tokens must never reach a log.
logging.getLogger("authlib").setLevel(logging.INFO)

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
MAX_ASSERTION_LIFETIME = 3600


class OAuthClient(ClientMixin):
    """authlib's view of a registered client."""

    def __init__(self, row: Client) -> None:
        self.row = row
        self.client_id = row.client_id
        self.id_token_signed_response_alg = row.id_token_signed_response_alg

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in self.registered_scopes())

    def registered_scopes(self) -> set[str]:
        return set(self.row.scope.split()) | {"openid"}

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return check_secret(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """The registered method only. A fapi2 client authenticates with private_key_jwt and
        nothing else (FAPI 2.0 Security Profile 5.3.2.1), whatever its row says; under
        IDP_FAPI2_ONLY a basic client cannot authenticate at all, and is told why."""
        if method != self.row.token_endpoint_auth_method:
            return False
        if self.row.profile == "fapi2":
            return method == PrivateKeyJwt.CLIENT_AUTH_METHOD
        if current_provider().settings.fapi2_only:
            raise InvalidClientError(
                status_code=401 if method == "client_secret_basic" else 400,
                description="this provider accepts only clients of the fapi2 profile "
                            "(IDP_FAPI2_ONLY); register the client with profile fapi2")
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types


@dataclass
class AuthCode:
    """A redeemed authorization code, as authlib's grant expects to see it."""

    data: dict[str, Any]
    grant_id: str
    code_challenge: str = ""
    code_challenge_method: str = "S256"
    extra: dict[str, Any] = field(default_factory=dict)

    def get_redirect_uri(self) -> str:
        return str(self.data["redirect_uri"])

    def get_scope(self) -> str:
        return " ".join(self.data["scopes"])

    def get_nonce(self) -> str | None:
        return self.data.get("nonce")

    def get_auth_time(self) -> int | None:
        return self.data.get("auth_time")


def _person(s: Any, person_id: str | None) -> Person | None:
    return s.get(Person, person_id) if person_id else None


class OfflineAccessOnly:
    """A refresh token only when the person granted `offline_access` (OIDC Core 11): the
    consent page names it, so an agency stays connected only when the person agreed. A refresh
    that narrows the scope without it gets no new refresh token either."""

    def generate_token(self, user: Any = None, scope: str | None = None,
                       grant_type: str | None = None, expires_in: int | None = None,
                       include_refresh_token: bool = True) -> dict[str, Any]:
        offline = "offline_access" in (scope or "").split()
        token: dict[str, Any] = super().generate_token(  # type: ignore[misc]
            user=user, scope=scope, grant_type=grant_type, expires_in=expires_in,
            include_refresh_token=include_refresh_token and offline)
        return token


class DpopProofError(OAuth2Error):
    """RFC 9449 5 and 8: `invalid_dpop_proof` or `use_dpop_nonce` from the token endpoint."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description=description, status_code=400, error=error)


class DpopBinding:
    """RFC 9449 at the token endpoint, for every grant: the request's DPoP proof is checked
    right after client authentication, before any code is taken or refresh token used, so a
    refused proof (or the round trip to fetch a nonce) leaves them intact. A client registered
    with dpop_bound_access_tokens (every fapi2 client) must send one. The thumbprint is kept
    on the request; save_token binds the family to it."""

    request: Any

    def authenticate_token_endpoint_client(self) -> OAuthClient:
        client: OAuthClient = super().authenticate_token_endpoint_client()  # type: ignore[misc]
        jkt = None
        if resource.dpop_headers() or client.row.dpop_bound_access_tokens:
            try:
                jkt = dpop.validate_proof(resource.proof_request(current_provider()))
            except dpop.DpopError as exc:
                raise DpopProofError(exc.error, exc.description) from None
        self.request.dpop_jkt = jkt
        return client


def _bound_to_another_key(bound: str | None, jkt: str | None) -> bool:
    """A code or family bound to a key needs a proof of that key."""
    return bound is not None and not resource.same_key(bound, jkt)


class EncryptionKeyUnavailable(OAuth2Error):
    """The client asked for encrypted ID tokens and its key cannot be had: the response
    fails (it never carries the ID token in clear). The description names the registration
    problem (invalid_client_metadata) for the agency to fix."""

    error = "server_error"
    status_code = 500


class EncryptedIdTokens:
    """Find the key to encrypt ID tokens to right after the client authenticated, before any
    code is taken or refresh token used: a client whose key cannot be had (jwks_uri down, no
    usable EC key) gets an error and keeps its code or refresh token for a retry, instead of
    losing it to a response that could not be sent. The key is kept on the request for
    `add_id_token`."""

    request: Any

    def authenticate_token_endpoint_client(self) -> OAuthClient:
        client: OAuthClient = super().authenticate_token_endpoint_client()  # type: ignore[misc]
        self.request.id_token_key = None
        if id_token_encrypted(client.row):
            try:
                self.request.id_token_key = client_encryption_key(client.row)
            except EncryptionKeyError as exc:
                raise EncryptionKeyUnavailable(description=str(exc)) from None
        return client


class CodeGrant(EncryptedIdTokens, DpopBinding, OfflineAccessOnly,
                grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthCode | None:
        """Atomically take the code; a second use revokes what the first one issued.

        A code presented by another client is refused without being taken, so a stolen code
        cannot be burnt for the client it belongs to.
        """
        p = current_provider()
        key = tokens.digest(code)
        peek = p.store.get("code:" + key)
        if peek is not None and peek["client_id"] != client.client_id:
            return None
        jkt = getattr(self.request, "dpop_jkt", None)
        # RFC 9449 10: a code bound with dpop_jkt is redeemed only with a proof of that key;
        # refused before it is taken, so an attacker's key cannot burn the client's code.
        if peek is not None and _bound_to_another_key(peek.get("dpop_jkt"), jkt):
            raise InvalidGrantError("the code is bound to another DPoP key (dpop_jkt)")
        data = p.store.take("code:" + key)
        if data is None:
            issued = p.store.get("code-grant:" + key)
            if issued and issued["client_id"] == client.client_id:
                with p.db.session() as s:
                    if tokens.revoke_grant(s, issued["grant_id"], "code_reuse"):
                        audit.record(s, "token.revoked", client_id=client.client_id,
                                     reason="code_reuse")
            return None
        if _bound_to_another_key(data.get("dpop_jkt"), jkt):
            raise InvalidGrantError("the code is bound to another DPoP key (dpop_jkt)")
        return AuthCode(data=data, grant_id=data["grant_id"],
                        code_challenge=data["code_challenge"])

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        """Already gone: it was taken atomically when queried."""

    def authenticate_user(self, authorization_code: AuthCode) -> Person | None:
        with current_provider().db.session() as s:
            return _person(s, authorization_code.data["person_id"])


class RefreshGrant(EncryptedIdTokens, DpopBinding, OfflineAccessOnly,
                   grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def check_dpop_binding(self, grant: tokens.Grant | None) -> None:
        """A DPoP-bound family refreshes only with a proof of its key (RFC 9449 5). A family
        that is not bound stays Bearer even when a proof is sent (its token_type says so),
        unless the client must have bound tokens: then it must start a new grant."""
        if grant is None or grant.client_id != self.request.client.client_id:
            return  # use_refresh_token refuses it, without marking anything
        jkt = getattr(self.request, "dpop_jkt", None)
        if _bound_to_another_key(grant.dpop_jkt, jkt):
            raise InvalidGrantError("the refresh token is bound to another DPoP key, or needs "
                                    "a DPoP proof")
        if grant.dpop_jkt is None and self.request.client.row.dpop_bound_access_tokens:
            raise InvalidGrantError("the refresh token is not DPoP-bound, and this client "
                                    "needs DPoP-bound tokens: start a new authorization")

    def authenticate_refresh_token(self, refresh_token: str) -> TokenView | None:
        """Check the token without using it: save_token marks it used in the transaction
        that stores its successor (see _rotate). A token that cannot be used still goes
        through use_refresh_token here, so a used one revokes its family (reuse)."""
        p = current_provider()
        client_id = self.request.client.client_id
        with p.db.session() as s:
            found = tokens.refresh_token_with_grant(s, refresh_token)
            # Checked before the token is used: a wrong key does not burn the refresh token.
            self.check_dpop_binding(found[1] if found else None)
            live = tokens.live_refresh_token(*found) if found else None
            if live is None or live.grant.client_id != client_id:
                live = None
                try:
                    tokens.use_refresh_token(s, refresh_token, client_id)
                except tokens.RefreshReuseError:
                    audit.record(s, "token.revoked", client_id=client_id,
                                 reason="refresh_token_reuse")
            person = _person(s, live.grant.person_id) if live else None
        if live is None:
            raise InvalidGrantError("the refresh token is invalid, expired, revoked or was "
                                    "already used")
        return TokenView(live, raw=refresh_token, person=person)

    def authenticate_user(self, refresh_token: TokenView) -> Person | None:
        return refresh_token.person

    def revoke_old_credential(self, refresh_token: TokenView) -> None:
        """Rotation already marked it used, atomically, when it was authenticated."""


class CredentialsGrant(DpopBinding, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        """RFC 6749 5.2: a scope the client may not have is an error, not silently dropped."""
        super().validate_token_request()
        asked = set((self.request.payload.scope or "").split())
        # `openid` names a person, and there is none in this grant.
        if asked - (self.request.client.registered_scopes() - {"openid"}):
            raise InvalidScopeError("the client is not registered for some requested scopes")


@dataclass
class TokenView:
    """A live token as authlib's revocation and introspection endpoints see it."""

    live: tokens.LiveToken
    raw: str | None = None  # a refresh token being rotated: save_token marks it used
    person: Person | None = None  # whom a refresh token speaks for, read with it

    def check_client(self, client: OAuthClient) -> bool:
        return self.live.grant.client_id == client.client_id

    def get_scope(self) -> str:
        return self.live.scope

    def is_expired(self) -> bool:
        return False  # a LiveToken passed its expiry check when it was found

    def is_revoked(self) -> bool:
        return False


@dataclass
class _AssertionKeys:
    """What `resolve_client_public_key` hands to authlib, which passes it on untouched to
    `process_assertion_claims`: the keys together with their client, since which algorithms,
    keys and audiences are acceptable depends on the client's profile."""

    client: OAuthClient
    keys: KeySet


# The key type (and curves) each assertion algorithm verifies with.
_ALG_KEYS: dict[str, tuple[str, frozenset[str] | None]] = {
    "PS256": ("RSA", None), "RS256": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})), "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}


def _verifying_keys(keys: KeySet, kid: Any, alg: str) -> list[Any]:
    """The client's keys that may verify this assertion: the one named by `kid` (or, without
    a kid, every key fit for `alg`), not marked for encryption, and strong enough. A key that
    is too weak is refused by name of the rule, so the agency learns what to fix."""
    kty, curves = _ALG_KEYS[alg]
    weak: WeakKeyError | None = None
    out = []
    for key in keys.keys:
        data = key.as_dict(private=False)
        if kid is not None and key.kid != kid:
            continue
        if data.get("use", "sig") != "sig" or data.get("kty") != kty:
            continue
        if curves is not None and data.get("crv") not in curves:
            continue
        try:
            check_key_strength(data)
        except WeakKeyError as exc:
            weak = exc
            continue
        out.append(key)
    if not out and weak is not None:
        raise InvalidClientError(description=f"the client's signing key is too weak: {weak}")
    if not out:
        raise InvalidClientError(description="no key of the client can verify this assertion")
    return out


class PrivateKeyJwt(JWTBearerClientAssertion):
    """RFC 7523 client authentication; `aud` may be the issuer or the token endpoint, except
    for fapi2 clients, whose assertions name the issuer only (FAPI 2.0 5.3.2.1)."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        """The issuer (what FAPI 2.0 asks for), or the URL of the endpoint being called."""
        issuer = current_provider().issuer
        return [issuer, issuer + flask_request.path]

    def verify_claims(self, claims: Any) -> None:
        """Assertions are for one request: one that claims to live longer than an hour is
        refused, so the jti replay cache never has to outlive its entries."""
        super().verify_claims(claims)
        if int(claims["exp"]) - int(time.time()) > MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(description="the client assertion lives too long "
                                                 f"(at most {MAX_ASSERTION_LIFETIME} s)")

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Remember each jti until its assertion has expired (plus leeway)."""
        ttl = int(claims["exp"]) - int(time.time()) + self.leeway
        key = f"jti:{claims['sub']}:{tokens.digest(str(jti))}"
        return current_provider().store.add(key, {"seen": 1}, max(ttl, 1))

    def resolve_client_public_key(self, client: OAuthClient) -> _AssertionKeys:  # type: ignore[override]
        """The client's keys: inline, or from its jwks_uri (fetched, briefly cached); a
        jwks_uri that cannot be read fails authentication, never the server."""
        try:
            data = client.row.jwks or fetch_jwks(client.row.jwks_uri or "")
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except FetchError as exc:
            raise InvalidClientError(description=f"the client's jwks_uri: {exc}") from None
        except (JoseError, ValueError, KeyError, TypeError):
            raise InvalidClientError(description="the client's keys cannot be read") from None
        return _AssertionKeys(client, keys)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """Verify the assertion with the rules of the client's profile: only the algorithms
        it may use (and the one it registered, if any), only strong keys, and for fapi2 only
        the issuer as `aud`; then the common claim checks (lifetime, jti replay)."""
        if not isinstance(resolve_key, _AssertionKeys):  # pragma: no cover (authlib's contract)
            raise InvalidClientError(description="the client's keys cannot be read")
        row = resolve_key.client.row
        try:
            header = jws.extract_compact(assertion.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeEncodeError):
            raise InvalidClientError(description="Invalid JWT assertion.") from None
        allowed = assertion_algorithms(row.profile, row.token_endpoint_auth_signing_alg)
        alg = header.get("alg")
        if alg not in allowed:
            raise InvalidClientError(description="the client assertion must be signed with "
                                                 f"{' or '.join(allowed) or 'no algorithm'}")
        token = None
        for key in _verifying_keys(resolve_key.keys, header.get("kid"), str(alg)):
            try:
                token = jwt.decode(assertion, key, algorithms=[str(alg)])
                break
            except JoseError as exc:
                failure = exc
        if token is None:
            raise InvalidClientError(description=failure.description) from None
        claims = token.claims
        if row.profile == "fapi2" and claims.get("aud") != current_provider().issuer:
            raise InvalidClientError(description="a fapi2 client's assertion must have the "
                                                 "issuer identifier, as a string, as its aud")
        self.verify_claims(claims)
        return claims


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return _RawToken(token_string, _owner(token_string))

    def revoke_token(self, token: _RawToken, request: Any) -> None:
        p = current_provider()
        if tokens.is_agency_token(token.raw):
            tokens.revoke_agency_token(p.store, token.raw)
            return
        with p.db.session() as s:
            grant = tokens.revoke_token(s, token.raw)
            if grant is not None:
                audit.record(s, "token.revoked", client_id=grant.client_id,
                             person_id=grant.person_id, reason="revoked_by_client")


@dataclass
class _RawToken:
    raw: str
    owner: str | None

    def check_client(self, client: OAuthClient) -> bool:
        return self.owner in (None, client.client_id)


def _owner(raw: str) -> str | None:
    """Which client a token (live or not) belongs to, so no client can revoke another's."""
    from idp.db import AccessToken, Grant, RefreshToken

    p = current_provider()
    if tokens.is_agency_token(raw):
        live = tokens.find_agency_token(p.store, raw)
        return live.grant.client_id if live else None
    with p.db.session() as s:
        h = tokens.digest(raw)
        row = s.get(RefreshToken, h) or s.get(AccessToken, h)
        grant = s.get(Grant, row.grant_id) if row else None
        return grant.client_id if grant else None


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        p = current_provider()
        if tokens.is_agency_token(token_string):
            live = tokens.find_agency_token(p.store, token_string)
            return TokenView(live) if live else None
        with p.db.session() as s:
            finders = [lambda s, raw: tokens.find_access_token(s, raw, p.store),
                       tokens.find_refresh_token]
            if token_type_hint == "refresh_token":  # noqa: S105 (a hint name, not a secret)
                finders.reverse()
            for find in finders:
                live = find(s, token_string)
                if live is not None:
                    return TokenView(live)
        return None

    def check_permission(self, token: TokenView, client: OAuthClient, request: Any) -> bool:
        """A client may introspect only its own tokens."""
        return token.check_client(client)

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        p = current_provider()
        grant = token.live.grant
        body: dict[str, Any] = {
            "active": True, "scope": token.live.scope, "client_id": grant.client_id,
            "token_type": ("refresh_token" if token.live.kind == "refresh_token"
                           else "DPoP" if grant.dpop_jkt else "Bearer"),
            "exp": int(token.live.expires_at.timestamp()),
            "iat": int(token.live.issued_at.timestamp()), "iss": p.issuer,
        }
        if grant.person_id:
            client = p.clients.get(grant.client_id)
            if client is not None:
                body["sub"] = p.subject(client, grant.person_id)
        if grant.acr:
            body["acr"] = grant.acr
        if grant.dpop_jkt:
            body["cnf"] = {"jkt": grant.dpop_jkt}  # RFC 9449 6.2
        return body


def save_token(token: dict[str, Any], request: Any) -> None:
    """Persist what authlib generated, in the grant family it belongs to; an agency token
    (client credentials) in the ephemeral store (idp.oidc.tokens)."""
    p = current_provider()
    client: OAuthClient = request.client
    scope = token.get("scope", "")
    if request.authorization_code is None and getattr(request, "refresh_token", None) is None:
        _save_agency_token(p, token, request)
        return
    with p.db.session() as s:
        if not _rotate(s, request):
            s.commit()  # keep the family's revocation (reuse), then refuse
            raise InvalidGrantError("the refresh token is invalid, expired, revoked or was "
                                    "already used")
        if request.authorization_code is not None:
            grant_id = request.authorization_code.grant_id
            grant = s.get(tokens.Grant, grant_id)
        else:
            grant = request.refresh_token.live.grant  # read with the token, not changed here
            grant_id = grant.id
        tokens.store_access_token(s, token["access_token"], grant_id, scope,
                                  int(token["expires_in"]))
        if token.get("refresh_token"):
            tokens.store_refresh_token(s, token["refresh_token"], grant_id, scope,
                                       p.settings.refresh_token_ttl)
        if grant is not None and _bind_family(grant, request):
            # RFC 9449 5: the response says the token is bound (a type name, not a secret).
            token["token_type"] = "DPoP"  # noqa: S105
        audit.record(s, "token.issued", client_id=client.client_id,
                     person_id=grant.person_id if grant else None,
                     grant_type=request.payload.grant_type,
                     refresh=bool(token.get("refresh_token")))
        request.grant_id = grant_id
        request.grant_row = grant  # for add_id_token, without reading it again


def _rotate(s: Any, request: Any) -> bool:
    """Mark the presented refresh token used in the transaction that stores its successor,
    so a rotation commits whole or not at all: a store failure between two transactions
    used to burn the old token with no new one, losing the family. Of two racers, the
    second finds the token used: that is reuse, and its family is revoked. True when there
    is nothing to rotate (a code redemption)."""
    refresh = getattr(request, "refresh_token", None)
    if request.authorization_code is not None or refresh is None or refresh.raw is None:
        return True
    if tokens.mark_refresh_token_used(s, refresh.raw):
        return True  # found live, unused and ours when authenticated; now it is used
    try:
        live = tokens.use_refresh_token(s, refresh.raw, request.client.client_id)
    except tokens.RefreshReuseError:
        audit.record(s, "token.revoked", client_id=request.client.client_id,
                     reason="refresh_token_reuse")
        return False
    return live is not None


def _save_agency_token(p: Provider, token: dict[str, Any], request: Any) -> None:
    """An agency token: in the ephemeral store, bound to the DPoP key of its request if any;
    counted in the metrics and in the audit trail's per-agency tally (idp.oidc.tally), not
    as an event each."""
    client_id = request.client.client_id
    jkt = getattr(request, "dpop_jkt", None)
    tokens.store_agency_token(p.store, token["access_token"], client_id=client_id,
                              scope=token.get("scope", ""), ttl=int(token["expires_in"]),
                              dpop_jkt=jkt)
    if jkt is not None:
        token["token_type"] = "DPoP"  # noqa: S105 (RFC 9449 5: a type name, not a secret)
    p.agency_tokens.count(client_id)
    metrics.TOKENS.labels(grant_type="client_credentials").inc()
    request.grant_id = None


def _bind_family(grant: tokens.Grant, request: Any) -> bool:
    """Bind a new family (a redeemed code, a client credentials call) to the proof's key; a
    refresh keeps the binding its family has. True when the tokens just issued are bound."""
    jkt = getattr(request, "dpop_jkt", None)
    if grant.dpop_jkt is None and jkt is not None and getattr(request, "refresh_token",
                                                              None) is None:
        grant.dpop_jkt = jkt
    return grant.dpop_jkt is not None


def add_id_token(grant: Any, response: Any) -> Any:
    """OIDC Core 3.1.3.3 and 12.2: an ID token with every code and refresh token response."""
    _, token, _ = response
    if "openid" not in (token.get("scope") or "").split():
        return token
    request = grant.request
    p = current_provider()
    g: tokens.Grant | None = request.grant_row  # save_token's; request.user: the person
    client = p.clients.get(request.client.client_id)
    assert g is not None and client is not None
    code = request.authorization_code
    signed = build_id_token(p, IdTokenInput(
        client=client, person=request.user, grant=g, access_token=token["access_token"],
        nonce=code.get_nonce() if code is not None else None,
        requested=(g.claims.get("request") or {}).get("id_token") or {},
        claims_locales=g.claims.get("claims_locales")))
    if id_token_encrypted(client):
        # OIDC Core 10.2: signed, then encrypted (a nested JWT); the key was found when the
        # client authenticated (EncryptedIdTokens), so there is no path that sends it clear.
        key = getattr(request, "id_token_key", None) or client_encryption_key(client)
        signed = encrypt_jwt(signed, key, client.id_token_encrypted_response_enc or "A256GCM")
    token["id_token"] = signed
    return token


def _register_id_tokens(grant: Any) -> None:
    grant.register_hook("after_create_token_response", add_id_token)


def _new_access_token(client: Any, grant_type: str, user: Any, scope: str) -> str:
    return tokens.new_agency_token() if grant_type == "client_credentials" \
        else tokens.new_secret()


def create_server(app: Flask, provider: Provider) -> AuthorizationServer:
    def query_client(client_id: str) -> OAuthClient | None:
        row = provider.clients.get(client_id)
        return OAuthClient(row) if row else None

    server = AuthorizationServer(query_client=query_client, save_token=save_token)
    server.register_token_generator("default", BearerTokenGenerator(
        access_token_generator=_new_access_token,
        refresh_token_generator=lambda *a, **k: tokens.new_secret(),
        expires_generator=lambda client, grant_type: provider.settings.access_token_ttl,
    ))
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD,
                                       PrivateKeyJwt(validate_jti=True, leeway=30))
    server.register_grant(CodeGrant, [CodeChallenge(required=True), _register_id_tokens])
    server.register_grant(RefreshGrant, [_register_id_tokens])
    server.register_grant(CredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    return server
