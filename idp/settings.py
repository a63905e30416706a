"""Typed settings read from the environment.

Every setting has a default that makes `idp demo` work on a fresh machine; `production()` lists
the defaults that must never reach a real deployment, so the service can refuse to start with them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from kyc.assurance import aal, ial

DEMO_SECRET_KEY = "demo-secret-key-change-me-in-production"  # noqa: S105 (a public, known default)
ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class SettingsError(ValueError):
    """A setting in the environment cannot be read; the message names the variable."""


def _int(e: Mapping[str, str], name: str, default: int) -> int:
    value = e.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number (got {value[:20]!r})") from None
    if number <= 0:
        raise SettingsError(f"{name} must be positive")
    return number


def _count(e: Mapping[str, str], name: str, default: int) -> int:
    """A whole number that may be 0 (a count of proxies); `_int` refuses 0 on purpose."""
    value = (e.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or len(value) > 6:
        raise SettingsError(f"{name} must be a whole number, 0 or more (got {value[:20]!r})")
    return int(value)


def _networks(e: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks (CIDR), checked at start-up so a typo
    fails loudly instead of silently locking the scraper out (or letting everyone in)."""
    import ipaddress

    value = e.get(name)
    if value is None or not value.strip():
        return default
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must list addresses or networks "
                                f"(got {item[:40]!r})") from None
    return items


REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")


def _redis_url(e: Mapping[str, str]) -> str | None:
    """IDP_REDIS_URL, checked now: an unknown scheme (`redis+cluster`, a typo) or a sentinel URL
    with a malformed host list or service name fails the start with one line, instead of a
    traceback when the app is built or a 503 on every request."""
    value = (e.get("IDP_REDIS_URL") or "").strip() or None
    if value is None:
        return None
    scheme = urlsplit(value).scheme.lower()
    if scheme not in REDIS_SCHEMES:
        raise SettingsError(f"IDP_REDIS_URL must start with one of "
                            f"{', '.join(s + '://' for s in REDIS_SCHEMES)} (got {scheme[:20]!r})")
    if scheme.endswith("+sentinel"):
        from idp.store import parse_sentinel_url

        try:
            parse_sentinel_url(value)
        except ValueError as exc:
            raise SettingsError(f"IDP_REDIS_URL: {exc}") from None
    return value


def _level(e: Mapping[str, str], name: str, default: str, parse: Callable[[str], object]
           ) -> str:
    """An IAL or AAL setting, checked against the scale (kyc.assurance) at start-up."""
    value = (e.get(name) or "").strip() or default
    try:
        parse(value)
    except (ValueError, ArithmeticError):
        raise SettingsError(f"{name} is not a level on the scale (got {value[:10]!r})") from None
    return value


@dataclass(frozen=True)
class Settings:
    issuer: str = "http://localhost:5000"
    database_url: str = field(default_factory=lambda: f"sqlite:///{ROOT / 'var' / 'idp.db'}")
    # IDP_REDIS_URL, the ephemeral store (idp/store.py `redis_client`); unset: in-process store.
    #   redis://[[user]:password@]host[:port][/db]      one Redis server
    #   rediss://…?ssl_ca_certs=/path/ca.pem             the same over TLS
    #   redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/SERVICE[/db]
    #       [?sentinel_password=…&sentinel_username=…]   the master that Sentinel names (port
    #       26379 by default); follows failovers without a restart. The user and password are
    #       the Redis servers'; sentinel_* are the sentinels' own, when they require a login.
    #   rediss+sentinel://…?ssl_ca_certs=…               the same, TLS to sentinels and master
    # Redis Cluster is not supported (docs/operations.md says why). A malformed sentinel URL
    # stops the start with one line (SettingsError), not at the first request.
    redis_url: str | None = None
    secret_key: str = DEMO_SECRET_KEY
    subject_key: str | None = None
    sandbox: bool = True
    production: bool = False
    key_backend: str = "software"
    kek: str | None = None
    kek_file: str | None = None
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: str | None = None
    code_ttl: int = 60
    interaction_ttl: int = 600
    session_ttl: int = 8 * 3600
    access_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 24 * 3600
    id_token_ttl: int = 600
    key_rotation_days: int = 90
    backchannel_timeout: float = 3.0
    max_request_bytes: int = 64 * 1024
    # NDID: our own node's RP API base URL; unset means NDID is off (sandbox: `idp demo` runs
    # the sandbox node and sets it). The callback token is the secret path segment of
    # {issuer}/federation/ndid/callback/{token}: NDID callbacks carry no signature.
    ndid_url: str | None = None
    ndid_callback_token: str | None = None
    ndid_mode: int = 2
    ndid_request_timeout: int = 300
    # Upstream OpenID providers (ThaID-style): a JSON file, a list of provider objects
    # (see federation.oidc.UpstreamConfig and docs/operator-guide.md).
    upstreams_file: str | None = None
    # Passkeys: a JSON file listing security key models (AAGUID and attestation roots) whose
    # verified attestation gives AAL 3 (see docs/passkeys.md); unset means none reach AAL 3.
    passkey_allow_list: str | None = None
    # Citizen signing credentials: the person's IAL and this login's AAL needed to get one.
    signing_min_ial: str = "2.3"
    signing_min_aal: str = "2.2"
    # Bounds on a PDF to sign (upload or API): bytes and pages.
    signing_max_bytes: int = 20 * 1024 * 1024
    signing_max_pages: int = 500
    # The verification service (/verify, POST /api/v1/verify): extra trust anchors besides our
    # own root (a PEM file, e.g. the Thai National Root CA), whether revocation may be fetched
    # online when a file carries none, and the bounds on one verification.
    verify_trust_anchors: str | None = None
    verify_online_revocation: bool = True
    verify_timeout: int = 20
    verify_max_bytes: int = 20 * 1024 * 1024
    # FAPI 2.0 only: every authorization request must come through PAR, and only clients of
    # the fapi2 profile can be registered or log people in (see docs/fapi2.md).
    fapi2_only: bool = False
    # The national ID number travels only encrypted: released in an ID token only to a client
    # whose ID tokens are encrypted, in userinfo only when its userinfo is (docs/fapi2.md).
    national_id_needs_encryption: bool = True
    # DPoP (RFC 9449 8, 9): every DPoP proof, at /token and at resources, must carry a nonce
    # this server issued (DPoP-Nonce header); off by default, see docs/fapi2.md "DPoP".
    dpop_nonce_required: bool = False
    # Serving (docs/operator-guide.md, "Running in production"). Proxies in front of the
    # provider that append to X-Forwarded-For/-Proto (0: none, the peer is the client);
    # addresses or networks allowed to read GET /metrics.
    trusted_proxies: int = 0
    metrics_allow: tuple[str, ...] = ("127.0.0.1", "::1")
    # IDP_READ_TIMEOUT: seconds a client has to send a request's line and headers; a body must
    # then keep coming at a minimum average rate (idp/gunicorn_worker.py), so a slow client
    # cannot hold a server thread.
    read_timeout: int = 15
    # Rate limits per client and per address (idp/limits.py), each per window of
    # rate_window seconds, counted in the ephemeral store; rate_limits=False turns these off
    # (benchmarks), never the per-account limits on passkeys and verification.
    rate_limits: bool = True
    rate_window: int = 60
    rate_token_per_client: int = 6000
    rate_token_per_address: int = 6000
    rate_authorize_per_address: int = 1200
    rate_login_per_address: int = 600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        base = cls()
        return replace(
            base,
            issuer=(e.get("IDP_ISSUER") or base.issuer).rstrip("/"),
            database_url=e.get("IDP_DATABASE_URL") or base.database_url,
            redis_url=_redis_url(e),
            secret_key=e.get("IDP_SECRET_KEY") or base.secret_key,
            subject_key=e.get("IDP_SUBJECT_KEY") or None,
            sandbox=_bool(e.get("IDP_SANDBOX"), base.sandbox),
            production=_bool(e.get("IDP_PRODUCTION"), base.production),
            key_backend=e.get("IDP_KEY_BACKEND") or base.key_backend,
            kek=e.get("IDP_KEK") or None,
            kek_file=e.get("IDP_KEK_FILE") or None,
            pkcs11_module=e.get("IDP_PKCS11_MODULE") or None,
            pkcs11_token=e.get("IDP_PKCS11_TOKEN") or None,
            pkcs11_pin=e.get("IDP_PKCS11_PIN") or None,
            code_ttl=_int(e, "IDP_CODE_TTL", base.code_ttl),
            access_token_ttl=_int(e, "IDP_ACCESS_TOKEN_TTL", base.access_token_ttl),
            refresh_token_ttl=_int(e, "IDP_REFRESH_TOKEN_TTL", base.refresh_token_ttl),
            id_token_ttl=_int(e, "IDP_ID_TOKEN_TTL", base.id_token_ttl),
            key_rotation_days=_int(e, "IDP_KEY_ROTATION_DAYS", base.key_rotation_days),
            session_ttl=_int(e, "IDP_SESSION_TTL", base.session_ttl),
            interaction_ttl=_int(e, "IDP_INTERACTION_TTL", base.interaction_ttl),
            max_request_bytes=_int(e, "IDP_MAX_REQUEST_BYTES", base.max_request_bytes),
            ndid_url=(e.get("IDP_NDID_URL") or "").rstrip("/") or None,
            ndid_callback_token=e.get("IDP_NDID_CALLBACK_TOKEN") or None,
            ndid_mode=_int(e, "IDP_NDID_MODE", base.ndid_mode),
            ndid_request_timeout=_int(e, "IDP_NDID_REQUEST_TIMEOUT", base.ndid_request_timeout),
            upstreams_file=e.get("IDP_UPSTREAMS_FILE") or None,
            passkey_allow_list=e.get("IDP_PASSKEY_ALLOW_LIST") or None,
            signing_min_ial=_level(e, "IDP_SIGNING_MIN_IAL", base.signing_min_ial, ial),
            signing_min_aal=_level(e, "IDP_SIGNING_MIN_AAL", base.signing_min_aal, aal),
            signing_max_bytes=_int(e, "IDP_SIGNING_MAX_BYTES", base.signing_max_bytes),
            signing_max_pages=_int(e, "IDP_SIGNING_MAX_PAGES", base.signing_max_pages),
            verify_trust_anchors=e.get("IDP_VERIFY_TRUST_ANCHORS") or None,
            verify_online_revocation=_bool(e.get("IDP_VERIFY_ONLINE_REVOCATION"),
                                           base.verify_online_revocation),
            verify_timeout=_int(e, "IDP_VERIFY_TIMEOUT", base.verify_timeout),
            verify_max_bytes=_int(e, "IDP_VERIFY_MAX_BYTES", base.verify_max_bytes),
            fapi2_only=_bool(e.get("IDP_FAPI2_ONLY"), base.fapi2_only),
            national_id_needs_encryption=_bool(e.get("IDP_NATIONAL_ID_NEEDS_ENCRYPTION"),
                                               base.national_id_needs_encryption),
            dpop_nonce_required=_bool(e.get("IDP_DPOP_NONCE_REQUIRED"), base.dpop_nonce_required),
            trusted_proxies=_count(e, "IDP_TRUSTED_PROXIES", base.trusted_proxies),
            metrics_allow=_networks(e, "IDP_METRICS_ALLOW", base.metrics_allow),
            read_timeout=_int(e, "IDP_READ_TIMEOUT", base.read_timeout),
            rate_limits=_bool(e.get("IDP_RATE_LIMITS"), base.rate_limits),
            rate_window=_int(e, "IDP_RATE_WINDOW", base.rate_window),
            rate_token_per_client=_int(e, "IDP_RATE_TOKEN_PER_CLIENT",
                                       base.rate_token_per_client),
            rate_token_per_address=_int(e, "IDP_RATE_TOKEN_PER_ADDRESS",
                                        base.rate_token_per_address),
            rate_authorize_per_address=_int(e, "IDP_RATE_AUTHORIZE_PER_ADDRESS",
                                            base.rate_authorize_per_address),
            rate_login_per_address=_int(e, "IDP_RATE_LOGIN_PER_ADDRESS",
                                        base.rate_login_per_address),
        )

    def production_problems(self) -> list[str]:
        """Why these settings are unfit for production; empty when they are fit."""
        problems: list[str] = []
        if self.secret_key == DEMO_SECRET_KEY or len(self.secret_key) < 32:
            problems.append(
                "IDP_SECRET_KEY is the demo default or shorter than 32 characters; "
                "set a long random value (for example: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        if not self.subject_key or len(self.subject_key) < 32:
            problems.append("IDP_SUBJECT_KEY is unset or shorter than 32 characters; set a long "
                            "random value and never change it: it keys every pairwise subject, "
                            "so agencies would lose their users if it changed")
        if self.key_backend == "software" and not (self.kek or self.kek_file):
            problems.append("IDP_KEK_FILE (or IDP_KEK) is unset; software keys must be sealed "
                            "under a key-encryption key kept apart from the database "
                            "(or use IDP_KEY_BACKEND=pkcs11)")
        if self.key_backend not in ("software", "pkcs11"):
            problems.append("IDP_KEY_BACKEND must be 'software' or 'pkcs11'")
        if self.ndid_url and (not self.ndid_callback_token
                              or len(self.ndid_callback_token) < 32):
            problems.append("IDP_NDID_CALLBACK_TOKEN is unset or shorter than 32 characters; "
                            "NDID callbacks are unsigned, so their URL must hold a long "
                            "random secret")
        if self.ndid_mode not in (1, 2, 3):
            problems.append("IDP_NDID_MODE must be 1, 2 or 3")
        if self.sandbox:
            problems.append("IDP_SANDBOX is on; sandbox parties must be off in production "
                            "(IDP_SANDBOX=0)")
        url = urlsplit(self.issuer)
        if url.scheme != "https" and url.hostname not in {"localhost", "127.0.0.1"}:
            problems.append(f"IDP_ISSUER must use https (got {url.scheme}://{url.hostname})")
        if self.database_url.startswith("sqlite"):
            problems.append("IDP_DATABASE_URL is SQLite; production runs on PostgreSQL")
        if not self.redis_url:
            problems.append("IDP_REDIS_URL is unset; the in-process store does not work across "
                            "processes or nodes")
        return problems


class UnsafeSettingsError(SettingsError):
    """Raised when production mode is asked for with settings that are only fit for a demo."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("refusing to start in production mode:\n  - " + "\n  - ".join(problems))
        self.problems = problems


def check(settings: Settings) -> Settings:
    if settings.production:
        problems = settings.production_problems()
        if problems:
            raise UnsafeSettingsError(problems)
    return settings
