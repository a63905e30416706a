"""The client (agency) registry: RFC 7591 / OpenID Connect Registration metadata, checked once.

Every rule an agency's registration must meet is one small function here, so the endpoints that
later rely on a client (authorize, token, logout, pairwise subjects) can trust what is stored and
never re-check it. Client secrets are generated here with full entropy and stored only as SHA-256
digests; the raw secret leaves this module once, as a return value, and is never put into an
error message.

Plain Python on purpose (no Flask): the `idp clients` command, the tests and any future
registration endpoint share exactly these rules.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.db import Client, as_utc, utcnow
from idp.fetch import fetch_sector_uris
from idp.oidc.client_keys import WeakKeyError, check_key_strength
from idp.oidc.tokens import digest, new_secret

INVALID_METADATA = "invalid_client_metadata"
INVALID_REDIRECT_URI = "invalid_redirect_uri"

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_GRANT_TYPES = ["authorization_code", "refresh_token"]
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PRIVATE_KEY_JWT = "private_key_jwt"
AUTH_METHODS = (*SECRET_AUTH_METHODS, PRIVATE_KEY_JWT)
ID_TOKEN_ALGS = ("ES256", "PS256", "RS256", "EdDSA")
PROFILES = ("basic", "fapi2")
FAPI2_ALGS = ("PS256", "ES256", "EdDSA")  # FAPI 2.0 Security Profile 5.4: no RS256, no HS*
ENCRYPTION_ALGS = ("ECDH-ES+A256KW",)
ENCRYPTION_ENCS = ("A256GCM", "A256CBC-HS512")
SUBJECT_TYPES = ("pairwise", "public")
STANDARD_SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access")
DEFAULT_SCOPE = "openid profile"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})

MAX_URIS = 20
MAX_URI_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_SCOPES = 50
MAX_SCOPE_LENGTH = 100
MAX_JWKS_KEYS = 20
# No leading "-": a client_id is typed as a command argument, where "-x..." reads as an option.
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._~][A-Za-z0-9._~-]{0,63}$")
SCOPE_RE = re.compile(r"^[a-z0-9_:./-]+$")
# JWK members that only a private (or symmetric) key has; a client registers public keys only.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class ClientMetadataError(ValueError):
    """Registration metadata that breaks a rule; `error` is the RFC 7591 error code.

    The description names the field (and list position) at fault rather than echoing the value,
    so a credential pasted into a URI or a key never reaches a log or a terminal through it.
    """

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class ClientNotFoundError(LookupError):
    """No client is registered under the given client_id."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"no client with client_id {client_id!r}")
        self.client_id = client_id


def _fail(description: str, error: str = INVALID_METADATA) -> ClientMetadataError:
    return ClientMetadataError(error, description)


# --- single values ---------------------------------------------------------------------------


def _present(meta: Mapping[str, Any], name: str) -> bool:
    """A name counts as given only with a non-null value: null lets an update clear a field."""
    return meta.get(name) is not None


def _string(meta: Mapping[str, Any], name: str, max_length: int = MAX_URI_LENGTH) -> str:
    value = meta[name]
    if not isinstance(value, str):
        raise _fail(f"{name} must be a string")
    if len(value) > max_length:
        raise _fail(f"{name} is longer than {max_length} characters")
    return value


def _choice(meta: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    if not _present(meta, name):
        return default
    value = _string(meta, name, 40)
    if value not in allowed:
        raise _fail(f"{name} must be one of: {', '.join(allowed)}")
    return value


def _string_list(meta: Mapping[str, Any], name: str, max_items: int, error: str) -> list[str]:
    """A JSON array of strings, bounded, with duplicates dropped (order kept)."""
    value = meta[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{name} must be an array of strings", error)
    if len(value) > max_items:
        raise _fail(f"{name} may list at most {max_items} values", error)
    return list(dict.fromkeys(value))


# --- names -----------------------------------------------------------------------------------


def _language_of(key: str) -> str | None:
    """'th' or 'en' for a language-tagged client_name key (`client_name#th-TH` counts as th)."""
    if key in ("client_name_th", "client_name_en"):
        return key[-2:]
    if key.startswith("client_name#"):
        primary = key.removeprefix("client_name#").split("-", 1)[0].lower()
        return primary if primary in ("th", "en") else None
    return None


def _check_name(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(f"{key} must be a string")
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise _fail(f"{key} is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise _fail(f"{key} must not contain control characters")
    return value


def given_names(meta: Mapping[str, Any]) -> dict[str, str]:
    """The Thai and English names this metadata states, keyed 'th'/'en'.

    A tagged name (`client_name#th` or `client_name_th`) wins over the untagged `client_name`,
    which stands for both languages; a language not mentioned at all is absent from the result,
    so a partial update can tell "not mentioned" from "set to empty".
    """
    names: dict[str, str] = {}
    if _present(meta, "client_name"):
        plain = _check_name("client_name", meta["client_name"])
        names = {"th": plain, "en": plain}
    for key, value in meta.items():
        lang = _language_of(key)
        if lang is not None and value is not None:
            names[lang] = _check_name(key, value)
    return names


# --- URIs ------------------------------------------------------------------------------------


def _check_uri(label: str, uri: str, *, allow_http: str, error: str) -> str:
    """An absolute URI without fragment, credentials or whitespace.

    allow_http: "never" (https only), "local" (http only for localhost/127.0.0.1, where a
    developer's machine has no certificate), or "any".
    """
    if len(uri) > MAX_URI_LENGTH:
        raise _fail(f"{label} is longer than {MAX_URI_LENGTH} characters", error)
    if any(c.isspace() or ord(c) < 0x20 for c in uri):
        raise _fail(f"{label} must not contain whitespace or control characters", error)
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        raise _fail(f"{label} is not a valid URI", error) from None
    if parts.scheme not in ("https", "http") or not host:
        raise _fail(f"{label} must be an absolute https URI", error)
    if parts.scheme == "http" and not (
        allow_http == "any" or (allow_http == "local" and host in LOCAL_HOSTS)
    ):
        raise _fail(f"{label} must use https (http only for localhost or 127.0.0.1)", error)
    if "#" in uri:
        raise _fail(f"{label} must not contain a fragment", error)
    if "@" in parts.netloc:
        raise _fail(f"{label} must not contain user credentials", error)
    return uri


def _uri_list(meta: Mapping[str, Any], name: str, error: str) -> list[str]:
    if not _present(meta, name):
        return []
    uris = _string_list(meta, name, MAX_URIS, error)
    return [
        _check_uri(f"{name}[{i}]", uri, allow_http="local", error=error)
        for i, uri in enumerate(uris)
    ]


def _https_uri(meta: Mapping[str, Any], name: str) -> str | None:
    if not _present(meta, name):
        return None
    return _check_uri(name, _string(meta, name), allow_http="never", error=INVALID_METADATA)


def _backchannel_logout_uri(meta: Mapping[str, Any]) -> str | None:
    """OIDC Back-Channel Logout 1.0 allows http here (no `local` limit); fragment forbidden."""
    name = "backchannel_logout_uri"
    if not _present(meta, name):
        return None
    return _check_uri(name, _string(meta, name), allow_http="any", error=INVALID_METADATA)


# --- grants, scope, keys ---------------------------------------------------------------------


def _grant_types(meta: Mapping[str, Any]) -> list[str]:
    if not _present(meta, "grant_types"):
        return list(DEFAULT_GRANT_TYPES)
    grants = _string_list(meta, "grant_types", 10, INVALID_METADATA)
    if not grants:
        raise _fail("grant_types must list at least one grant type")
    unknown = [g for g in grants if g not in GRANT_TYPES]
    if unknown:
        raise _fail(f"grant_types may only contain: {', '.join(GRANT_TYPES)}")
    if "refresh_token" in grants and "authorization_code" not in grants:
        # Refresh tokens here only extend a person's authorization; RFC 6749 4.4.3 says the
        # client credentials grant should not issue them.
        raise _fail("grant_types: refresh_token needs authorization_code")
    return grants


def _check_response_types(meta: Mapping[str, Any], grants: list[str]) -> None:
    """Only the code flow exists here; response_types is checked but not stored (it follows
    from grant_types)."""
    if not _present(meta, "response_types"):
        return
    if meta["response_types"] != ["code"]:
        raise _fail('response_types must be ["code"]')
    if "authorization_code" not in grants:
        raise _fail("response_types code needs the authorization_code grant type")


def _scope(meta: Mapping[str, Any]) -> str:
    """Space-separated scope values; any lower-case token matching SCOPE_RE is allowed, so
    agencies can define API scopes (e.g. `tax:read`) next to STANDARD_SCOPES."""
    if not _present(meta, "scope"):
        return DEFAULT_SCOPE
    values = list(dict.fromkeys(_string(meta, "scope", MAX_SCOPES * MAX_SCOPE_LENGTH).split()))
    if not values:
        raise _fail("scope must list at least one value")
    if len(values) > MAX_SCOPES:
        raise _fail(f"scope may list at most {MAX_SCOPES} values")
    for value in values:
        if len(value) > MAX_SCOPE_LENGTH or not SCOPE_RE.match(value):
            raise _fail("scope values may only use a-z 0-9 _ : . / - (at most "
                        f"{MAX_SCOPE_LENGTH} characters each)")
    return " ".join(values)


def _token_endpoint_auth_method(meta: Mapping[str, Any]) -> str:
    if meta.get("token_endpoint_auth_method") == "none":
        raise _fail("token_endpoint_auth_method none is not allowed: every agency client is "
                    "confidential and must authenticate")
    return _choice(meta, "token_endpoint_auth_method", AUTH_METHODS, "client_secret_basic")


def _id_token_alg(meta: Mapping[str, Any]) -> str:
    value = meta.get("id_token_signed_response_alg")
    if isinstance(value, str) and value.lower() == "none":
        raise _fail("id_token_signed_response_alg none is not allowed: ID tokens are always "
                    "signed")
    return _choice(meta, "id_token_signed_response_alg", ID_TOKEN_ALGS, "ES256")


def _jwks(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JWK Set of public keys; private members are refused, since holding an agency's private
    key would let this provider (or anyone reading its database) impersonate the agency."""
    if not _present(meta, "jwks"):
        return None
    jwks = meta["jwks"]
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise _fail('jwks must be an object with a "keys" array')
    keys = jwks["keys"]
    if not keys or len(keys) > MAX_JWKS_KEYS:
        raise _fail(f"jwks must hold between 1 and {MAX_JWKS_KEYS} keys")
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or not isinstance(key.get("kty"), str):
            raise _fail(f'jwks.keys[{i}] must be a JWK object with "kty"')
        if PRIVATE_JWK_MEMBERS & key.keys():
            raise _fail(f"jwks.keys[{i}] holds private key material; register public keys only")
        try:
            check_key_strength(key)
        except WeakKeyError as exc:
            raise _fail(f"jwks.keys[{i}]: {exc}") from None
    return {"keys": keys}


def _check_key_source(method: str, jwks: Any, jwks_uri: str | None) -> None:
    if jwks is not None and jwks_uri is not None:
        raise _fail("jwks and jwks_uri are mutually exclusive; give one")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise _fail("private_key_jwt needs jwks or jwks_uri")


def _encryption(meta: Mapping[str, Any], what: str) -> tuple[str | None, str | None]:
    """`{what}_encrypted_response_alg` and `_enc` (OIDC Registration 2): the key agreement
    and the content cipher the agency asked for; enc defaults to A256GCM once alg is given,
    and enc alone is refused (the spec makes alg required when enc is present)."""
    alg_name, enc_name = f"{what}_encrypted_response_alg", f"{what}_encrypted_response_enc"
    if not _present(meta, alg_name):
        if _present(meta, enc_name):
            raise _fail(f"{enc_name} needs {alg_name}")
        return None, None
    return (_choice(meta, alg_name, ENCRYPTION_ALGS, ENCRYPTION_ALGS[0]),
            _choice(meta, enc_name, ENCRYPTION_ENCS, "A256GCM"))


def _check_encryption_key(values: Mapping[str, Any]) -> None:
    """Encrypting to an agency needs its public key agreement key: an EC key in `jwks` not
    marked for signing only (a `jwks_uri` is read when encrypting)."""
    wants = values["id_token_encrypted_response_alg"] or values["userinfo_encrypted_response_alg"]
    if not wants or values["jwks_uri"] is not None:
        return
    if values["jwks"] is None:
        raise _fail("encrypted responses need the agency's public key in jwks or jwks_uri")
    keys = values["jwks"].get("keys", [])
    if not any(k.get("kty") == "EC" and k.get("use", "enc") == "enc" for k in keys):
        raise _fail("encrypted responses need an EC key (use enc) in jwks, for ECDH-ES")


def _profile(meta: Mapping[str, Any], values: dict[str, Any]) -> str:
    """The client's security profile. `fapi2` (FAPI 2.0 Security Profile) pins what the
    profile requires instead of trusting the agency to ask for it: private_key_jwt with
    PS256/ES256/EdDSA, pushed authorization requests and DPoP-bound tokens."""
    profile = _choice(meta, "profile", PROFILES, "basic")
    if profile != "fapi2":
        return profile
    if values["token_endpoint_auth_method"] != PRIVATE_KEY_JWT:
        raise _fail("the fapi2 profile authenticates with private_key_jwt only")
    for name in ("token_endpoint_auth_signing_alg", "id_token_signed_response_alg"):
        if values[name] not in (None, *FAPI2_ALGS):
            raise _fail(f"the fapi2 profile allows {name} {', '.join(FAPI2_ALGS)} only")
    values["require_pushed_authorization_requests"] = True
    values["dpop_bound_access_tokens"] = True
    return profile


def _bool(meta: Mapping[str, Any], name: str, default: bool) -> bool:
    if not _present(meta, name):
        return default
    if not isinstance(meta[name], bool):
        raise _fail(f"{name} must be true or false")
    return bool(meta[name])


# --- sectors (pairwise subjects) -------------------------------------------------------------


def _hosts(uris: list[str]) -> list[str]:
    return list(dict.fromkeys(urlsplit(u).hostname or "" for u in uris))


def _check_sector(subject_type: str, sector_uri: str | None, redirect_uris: list[str]) -> None:
    """OIDC Core 8.1: without a sector_identifier_uri the sector is the redirect URIs' host, so
    a pairwise client whose redirect URIs span several hosts has no well-defined sector."""
    if subject_type == "pairwise" and sector_uri is None and len(_hosts(redirect_uris)) > 1:
        raise _fail("redirect_uris use several hosts; a pairwise client then needs a "
                    "sector_identifier_uri")


def check_sector_identifier(uris_listed: list[str], redirect_uris: list[str]) -> None:
    """Refuse unless the JSON list fetched from sector_identifier_uri names every redirect URI
    (OIDC Registration 5); otherwise a client could borrow another agency's sector."""
    listed = set(uris_listed)
    for i, uri in enumerate(redirect_uris):
        if uri not in listed:
            raise _fail(f"redirect_uris[{i}] is not listed at sector_identifier_uri")


def sector_of(client: Client) -> str:
    """The pairwise subject sector: the sector_identifier_uri's host, else the single host of
    the redirect URIs. A client without redirect URIs (client credentials only) never receives
    a person's subject, so its own client_id stands in as a sector no other client shares."""
    if client.sector_identifier_uri:
        return urlsplit(client.sector_identifier_uri).hostname or ""
    hosts = _hosts(client.redirect_uris or [])
    if not hosts:
        return client.client_id
    if len(hosts) > 1:
        raise _fail("client has redirect URIs on several hosts and no sector_identifier_uri")
    return hosts[0]


# --- the whole registration ------------------------------------------------------------------


def validate_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Check RFC 7591 / OIDC Registration metadata and return it normalised, keyed by `Client`
    column names (so `Client(**result)` works). Unknown names are ignored (RFC 7591 2);
    a null value means "not given", so defaults apply."""
    if not isinstance(meta, Mapping):
        raise _fail("client metadata must be a JSON object")
    grants = _grant_types(meta)
    _check_response_types(meta, grants)
    redirect_uris = _uri_list(meta, "redirect_uris", INVALID_REDIRECT_URI)
    if "authorization_code" in grants and not redirect_uris:
        raise _fail("redirect_uris is required for the authorization_code grant type",
                    INVALID_REDIRECT_URI)
    method = _token_endpoint_auth_method(meta)
    jwks = _jwks(meta)
    jwks_uri = _https_uri(meta, "jwks_uri")
    _check_key_source(method, jwks, jwks_uri)
    subject_type = _choice(meta, "subject_type", SUBJECT_TYPES, "pairwise")
    sector_uri = _https_uri(meta, "sector_identifier_uri")
    _check_sector(subject_type, sector_uri, redirect_uris)
    names = given_names(meta)
    id_token_enc = _encryption(meta, "id_token")
    userinfo_enc = _encryption(meta, "userinfo")
    values: dict[str, Any] = {
        "client_name_th": names.get("th", ""),
        "client_name_en": names.get("en", ""),
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": _uri_list(meta, "post_logout_redirect_uris",
                                               INVALID_METADATA),
        "grant_types": grants,
        "scope": _scope(meta),
        "token_endpoint_auth_method": method,
        "id_token_signed_response_alg": _id_token_alg(meta),
        "jwks": jwks,
        "jwks_uri": jwks_uri,
        "sector_identifier_uri": sector_uri,
        "subject_type": subject_type,
        "backchannel_logout_uri": _backchannel_logout_uri(meta),
        "backchannel_logout_session_required": _bool(
            meta, "backchannel_logout_session_required", True),
        "token_endpoint_auth_signing_alg": _choice(
            meta, "token_endpoint_auth_signing_alg", ID_TOKEN_ALGS, "")
        if _present(meta, "token_endpoint_auth_signing_alg") else None,
        "require_pushed_authorization_requests": _bool(
            meta, "require_pushed_authorization_requests", False),
        "dpop_bound_access_tokens": _bool(meta, "dpop_bound_access_tokens", False),
        "id_token_encrypted_response_alg": id_token_enc[0],
        "id_token_encrypted_response_enc": id_token_enc[1],
        "userinfo_encrypted_response_alg": userinfo_enc[0],
        "userinfo_encrypted_response_enc": userinfo_enc[1],
    }
    values["profile"] = _profile(meta, values)
    _check_encryption_key(values)
    return values


# --- secrets ---------------------------------------------------------------------------------


def uses_secret(method: str) -> bool:
    """Whether this token endpoint auth method authenticates with a shared secret."""
    return method in SECRET_AUTH_METHODS


def _new_secret(client: Client) -> str:
    """Give the client a fresh secret (≥ 256 bits) and keep only its SHA-256 digest: a secret
    with full entropy needs no slow hash, and the database never holds the secret itself."""
    secret = new_secret()
    client.secret_hash = digest(secret)
    return secret


def check_secret(client: Client, presented: str) -> bool:
    """Whether `presented` is the client's secret, compared in constant time on the digests."""
    if client.secret_hash is None or not uses_secret(client.token_endpoint_auth_method):
        return False
    return hmac.compare_digest(digest(presented), client.secret_hash)


# --- registry --------------------------------------------------------------------------------


def _check_client_id(client_id: str) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise _fail("client_id must be 1-64 characters of A-Z a-z 0-9 . _ ~ - "
                    "(not starting with -)")
    return client_id


def new_client_id() -> str:
    """128 random bits, URL-safe, redrawn when it would start with "-" (1 in 64 draws) so it
    can be passed to `idp clients show ID` without being taken for an option."""
    while True:
        client_id = secrets.token_urlsafe(16)
        if not client_id.startswith("-"):
            return client_id


SectorFetcher = Callable[[str], list[str]]


def _check_sector_document(values: Mapping[str, Any], fetch: SectorFetcher) -> None:
    """A sector_identifier_uri must list every redirect URI (OIDC Registration 5), or a client
    could claim another agency's sector and receive the same pairwise subjects."""
    uri = values.get("sector_identifier_uri")
    if not uri:
        return
    try:
        listed = fetch(uri)
    except ValueError as exc:
        raise _fail(f"sector_identifier_uri: {exc}") from exc
    check_sector_identifier(listed, list(values.get("redirect_uris") or []))


def create_client(
    session: Session, meta: Mapping[str, Any], client_id: str | None = None,
    fetch_sector: SectorFetcher = fetch_sector_uris,
) -> tuple[Client, str | None]:
    """Register a client; returns it with its raw secret, which is shown this once only
    (None for private_key_jwt, which authenticates with the agency's own keys)."""
    values = validate_metadata(meta)
    _check_sector_document(values, fetch_sector)
    client_id = new_client_id() if client_id is None else _check_client_id(client_id)
    if session.get(Client, client_id) is not None:
        raise _fail(f"client_id {client_id!r} is already registered")
    now = utcnow()
    client = Client(client_id=client_id, created_at=now, updated_at=now, **values)
    secret = _new_secret(client) if uses_secret(client.token_endpoint_auth_method) else None
    session.add(client)
    session.flush()
    return client, secret


def get_client(session: Session, client_id: str) -> Client | None:
    """The client, or None; an id that no client could have (too long, control characters)
    is answered without asking the database, which may refuse such a string outright."""
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        return None
    return session.get(Client, client_id)


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.created_at, Client.client_id)))


def _require(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise ClientNotFoundError(client_id)
    return client


def stored_metadata(client: Client) -> dict[str, Any]:
    """The client's current metadata in the form `validate_metadata` reads."""
    return {
        "client_name_th": client.client_name_th,
        "client_name_en": client.client_name_en,
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "grant_types": list(client.grant_types or []),
        "scope": client.scope,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "sector_identifier_uri": client.sector_identifier_uri,
        "subject_type": client.subject_type,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "profile": client.profile,
        "token_endpoint_auth_signing_alg": client.token_endpoint_auth_signing_alg,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        "id_token_encrypted_response_alg": client.id_token_encrypted_response_alg,
        "id_token_encrypted_response_enc": client.id_token_encrypted_response_enc,
        "userinfo_encrypted_response_alg": client.userinfo_encrypted_response_alg,
        "userinfo_encrypted_response_enc": client.userinfo_encrypted_response_enc,
    }


def merge_metadata(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay a partial update on the current metadata.

    Names are merged per language (a new `client_name#en` keeps the Thai name), and giving one
    key source (jwks or jwks_uri) replaces the other, since a client may have only one.
    """
    merged = {k: v for k, v in current.items() if _language_of(k) is None}
    merged.update({k: v for k, v in changes.items()
                   if _language_of(k) is None and k != "client_name"})
    names = {"th": current.get("client_name_th", ""), "en": current.get("client_name_en", "")}
    names.update(given_names(changes))
    merged["client_name_th"], merged["client_name_en"] = names["th"], names["en"]
    for given, other in (("jwks", "jwks_uri"), ("jwks_uri", "jwks")):
        if _present(changes, given) and other not in changes:
            merged[other] = None
    return merged


def update_client(session: Session, client_id: str, meta: Mapping[str, Any],
                  fetch_sector: SectorFetcher = fetch_sector_uris) -> Client:
    """Apply a partial update, re-validating the merged whole so a change can never leave the
    client in a state `create_client` would refuse. Moving to private_key_jwt drops the secret;
    moving to a secret method leaves none until `rotate_secret` issues one."""
    client = _require(session, client_id)
    values = validate_metadata(merge_metadata(stored_metadata(client), meta))
    _check_sector_document(values, fetch_sector)
    for name, value in values.items():
        setattr(client, name, value)
    if not uses_secret(client.token_endpoint_auth_method):
        client.secret_hash = None
    client.updated_at = utcnow()
    session.flush()
    return client


def rotate_secret(session: Session, client_id: str) -> str:
    """Replace the client's secret; the old one stops working at once."""
    client = _require(session, client_id)
    if not uses_secret(client.token_endpoint_auth_method):
        raise _fail(f"client uses {client.token_endpoint_auth_method} and has no secret")
    secret = _new_secret(client)
    client.updated_at = utcnow()
    session.flush()
    return secret


def remove_client(session: Session, client_id: str) -> bool:
    """Delete the client; its consents, grants and tokens go with it (ON DELETE CASCADE)."""
    client = session.get(Client, client_id)
    if client is None:
        return False
    session.delete(client)
    session.flush()
    return True


# --- RFC 7591 response -----------------------------------------------------------------------


def _epoch(value: datetime) -> int:
    """Seconds since the epoch; SQLite hands back naive datetimes, which are UTC here."""
    return int(as_utc(value).timestamp())


_OPTIONAL: tuple[tuple[str, Callable[[Client], Any]], ...] = (
    ("jwks", lambda c: c.jwks),
    ("jwks_uri", lambda c: c.jwks_uri),
    ("sector_identifier_uri", lambda c: c.sector_identifier_uri),
    ("backchannel_logout_uri", lambda c: c.backchannel_logout_uri),
)


def client_to_dict(client: Client, secret: str | None = None) -> dict[str, Any]:
    """The client as an RFC 7591 registration response. The secret appears only when passed in
    (right after it was made); the stored digest never appears."""
    out: dict[str, Any] = {"client_id": client.client_id}
    if secret is not None:
        out["client_secret"] = secret
        out["client_secret_expires_at"] = 0  # RFC 7591 3.2.1: 0 means it does not expire
    out["client_id_issued_at"] = _epoch(client.created_at)
    out["client_name"] = client.client_name_th or client.client_name_en
    if client.client_name_th:
        out["client_name#th"] = client.client_name_th
    if client.client_name_en:
        out["client_name#en"] = client.client_name_en
    grants = list(client.grant_types or [])
    out.update({
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "grant_types": grants,
        "response_types": ["code"] if "authorization_code" in grants else [],
        "scope": client.scope,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "subject_type": client.subject_type,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
    })
    for name, read in _OPTIONAL:
        value = read(client)
        if value is not None:
            out[name] = value
    return out
