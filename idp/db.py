"""Durable store: the SQLAlchemy 2 models and the engine/session factory.

Tokens and secrets are stored only as SHA-256 digests (they carry full entropy, so a slow hash
adds nothing); the raw value is shown once, when it is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, overload

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime. SQLite hands back naive datetimes (we always
    store UTC) and PostgreSQL aware ones in the session time zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def lock_writers(session: Session, advisory_key: int, sqlite_noop_write: str) -> None:
    """Serialise writers until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on `advisory_key`, released at commit or
    rollback. Under the default READ COMMITTED isolation the next statement then sees the
    newest committed rows.

    SQLite: the database write lock. The Python driver starts a transaction only at the first
    write, so a plain read-then-write would let two writers read the same state.
    `sqlite_noop_write`, a write that matches no row, takes the write lock first (waiting out
    the busy timeout), and the read that follows sees the latest rows.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key})
    elif dialect == "sqlite":
        session.execute(text(sqlite_noop_write))


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, list[str]: JSON, datetime: DateTime(timezone=True),
    }


class Client(Base):
    """An agency registered as an OpenID Connect relying party (RFC 7591 metadata names)."""

    __tablename__ = "client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    client_name_th: Mapped[str] = mapped_column(String(200), default="")
    client_name_en: Mapped[str] = mapped_column(String(200), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    grant_types: Mapped[list[str]] = mapped_column(default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="ES256")
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    sector_identifier_uri: Mapped[str | None] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(String(10), default="pairwise")
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=True)
    # The high-assurance profile (FAPI 2.0) and encrypted responses; see idp.clients._profile.
    profile: Mapped[str] = mapped_column(String(10), default="basic")
    token_endpoint_auth_signing_alg: Mapped[str | None] = mapped_column(String(10))
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(Boolean, default=False)
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    id_token_encrypted_response_alg: Mapped[str | None] = mapped_column(String(20))
    id_token_encrypted_response_enc: Mapped[str | None] = mapped_column(String(20))
    userinfo_encrypted_response_alg: Mapped[str | None] = mapped_column(String(20))
    userinfo_encrypted_response_enc: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Person(Base):
    """Someone who logs in. `claims` are the identity data we hold (OIDC names); their IAL is
    not stored here but computed from their proofing events (kyc.proofing.current_ial)."""

    __tablename__ = "person"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="citizen")
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sandbox_persona: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identifier(Base):
    """A person's national ID or passport number: a keyed hash to find them by it, and a sealed
    copy to release it as a consented claim (kyc.identifiers). Never the plain number."""

    __tablename__ = "identifier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    namespace: Mapped[str] = mapped_column(String(40))
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProofingRecord(Base):
    """One completed identity proofing (kyc.proofing.ProofingEvent), kept with its dispute
    trail (for NDID: request_id, initial_salt, request message, the bank's signature, block
    height). The verified citizen ID is not in `claims`: `identifier_id` points at it."""

    __tablename__ = "proofing_event"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    source: Mapped[str] = mapped_column(String(80))
    ial: Mapped[str] = mapped_column(String(5))
    aal: Mapped[str | None] = mapped_column(String(5))
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    identifier_id: Mapped[int | None] = mapped_column(ForeignKey("identifier.id"))
    verification_process: Mapped[str] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    trail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FederatedLink(Base):
    """A person's account at an upstream OpenID provider: (provider, upstream `sub`)."""

    __tablename__ = "federated_link"
    __table_args__ = (UniqueConstraint("provider", "upstream_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    upstream_subject: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Authenticator(Base):
    """A person's passkey or security key (WebAuthn). The public key and sign count are what a
    login checks; `aal` is what this authenticator gives (kyc.assurance.METHODS), fixed at
    registration from its flags and attestation."""

    __tablename__ = "authenticator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    transports: Mapped[list[str]] = mapped_column(default=list)
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backup_state: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(30), default="passkey")
    aal: Mapped[str] = mapped_column(String(5), default="2.2")
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class ConsentGrant(Base):
    """What a person allowed one agency to receive; withdrawn grants are kept for the record."""

    __tablename__ = "consent_grant"
    __table_args__ = (Index("ix_consent_person_client", "person_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"))
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    claims: Mapped[list[str]] = mapped_column(default=list)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class Grant(Base):
    """One authorization: the code redemption (or client credentials call) that starts a token
    family. Revoking the grant revokes every access and refresh token that descends from it,
    which is how code reuse, refresh-token reuse and consent withdrawal are enforced."""

    __tablename__ = "grant"
    __table_args__ = (Index("ix_grant_person_client", "person_id", "client_id"),)

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"))
    scope: Mapped[str] = mapped_column(Text, default="")
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    auth_time: Mapped[int | None] = mapped_column(BigInteger)
    acr: Mapped[str | None] = mapped_column(Text)
    amr: Mapped[list[str]] = mapped_column(default=list)
    sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    # RFC 9449: the thumbprint (RFC 7638) of the DPoP key the family is bound to; every access
    # token of the grant is then usable only with a proof of that key, and every refresh needs
    # one. Set when the first tokens are issued and never changed; null means Bearer tokens.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))


class AccessToken(Base):
    __tablename__ = "access_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grant.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class RefreshToken(Base):
    """A refresh token; `used_at` marks one that was rotated, so presenting it again is reuse."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grant.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class SigningKey(Base):
    """A token signing key and its lifecycle: next -> active -> retired -> removed.

    `key_ref` is a keys.backend.KeyRef (a sealed software key or a PKCS#11 object id), never a
    bare private key. `private_jwk` holds keys made before keys were sealed; the key lifecycle
    seals them on first load and clears it.
    """

    __tablename__ = "signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="active", index=True)
    key_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    private_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column()


class CertificateAuthority(Base):
    """A CA of our own PKI (root, issuing CAs) or a service certificate's key (TSA, OCSP)."""

    __tablename__ = "certificate_authority"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # root, issuing, tsa, ocsp
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("certificate_authority.id"))
    key_ref: Mapped[dict[str, Any]] = mapped_column()
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    crl_number: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Certificate(Base):
    """Every certificate our CAs issued, with its revocation status (the OCSP and CRL source)."""

    __tablename__ = "certificate"
    __table_args__ = (Index("ix_certificate_issuer_status", "issuer_id", "status"),)

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex, lower case
    issuer_id: Mapped[str] = mapped_column(ForeignKey("certificate_authority.id"))
    profile: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(Text)
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime] = mapped_column()
    not_after: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="good")
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_reason: Mapped[str | None] = mapped_column(String(30))
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only audit record, chained to its predecessor by hash.

    Recorded unchained (prev_hash, hash and chain_pos NULL) inside the request's transaction,
    then linked after commit by the sealer (idp.audit.seal), in `chain_pos` order."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain_pos", name="uq_audit_event_chain_pos"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(60), index=True)
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    chain_pos: Mapped[int | None] = mapped_column(BigInteger)


class SigningCredential(Base):
    """A citizen's signing key and its certificate (idp.signing_credentials).

    `key_ref` is a keys.backend.KeyRef (a sealed software key or an HSM object id), never a
    bare private key. `active_person_id` is the person's id while the credential is active and
    NULL once revoked: its unique constraint makes "one active credential per person" hold
    on every database, also when two requests race.
    """

    __tablename__ = "signing_credential"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    active_person_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    key_ref: Mapped[dict[str, Any]] = mapped_column(JSON)
    alg: Mapped[str] = mapped_column(String(10))
    certificate_serial: Mapped[str] = mapped_column(String(40), index=True)  # certificate.serial
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | revoked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class SignatureRecord(Base):
    """One signature made with a citizen credential or an agency seal: the document's SHA-256,
    never the document. `audit_seq` points at the audit event that says who asked for it.
    For CSC signHash (level "raw") there is no document, only the hash the agency sent, in
    the algorithm it chose (up to SHA-512: 128 hex digits)."""

    __tablename__ = "signature_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credential_id: Mapped[str | None] = mapped_column(ForeignKey("signing_credential.id"),
                                                      index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    document_sha256: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(20))  # PAdES B-B, B-T, B-LT, B-LTA, or raw
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

class SealCredential(Base):
    """An agency's seal key (a KeyRef, never a bare key) and its certificate's serial."""

    __tablename__ = "seal_credential"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True)
    active_client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    key_ref: Mapped[dict[str, Any]] = mapped_column(JSON)
    alg: Mapped[str] = mapped_column(String(10))
    certificate_serial: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL's recommended durability: a commit survives the process crashing, and only a
            # power cut can lose the last commits; FULL fsyncs every commit (a third of a
            # token's time). SQLite is the single-machine mode: production runs PostgreSQL.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """Engine plus session factory; `session()` commits on success and rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        s = self._factory()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()


class RegistryDocument(Base):
    """An e-license or e-certificate an agency issued (signing.registry): its public id (the
    {id} of `{issuer}/verify/{id}`), type, holder, fields, validity, status and the SHA-256 of
    the sealed PDF (never the PDF). The holder's national ID, when given, is kept only as a
    keyed lookup hash and a sealed copy (kyc.identifiers); `holder` holds names, not IDs.
    Expiry is computed from `valid_until`, never stored as a status."""

    __tablename__ = "registry_document"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # e-license | e-certificate
    holder: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holder_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    holder_id_sealed: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="active")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    status_changed_at: Mapped[datetime | None] = mapped_column()
    document_sha256: Mapped[str] = mapped_column(String(64), index=True)
    document_size: Mapped[int] = mapped_column(BigInteger)
    seal_serial: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
