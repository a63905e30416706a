"""Proofing events: someone's identity was proven, by whom, how well, until when.

A person's IAL is the highest IAL among their unexpired events (1.1 when there is none); see
`../shared/reference/assurance.md`. Evidence is kept in the form OpenID Connect for Identity
Assurance 1.0 uses in `verification.evidence`, so `kyc.verified_claims` can release it as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from kyc.assurance import AAL_LEVELS, IAL_LEVELS

NO_PROOFING_IAL = Decimal("1.1")
# Policy: bank/NDID proofing is trusted for a year; then an agency asking for fresh data
# triggers proofing again.
DEFAULT_VALIDITY = timedelta(days=365)
THAILAND = "THA"  # ISO 3166-1 alpha-3

_SOURCE = re.compile(r"ndid|sandbox|oidc:[a-z0-9][a-z0-9._-]{0,62}")


def format_time(value: datetime) -> str:
    """`2026-11-24T07:45:00Z`: UTC, seconds precision, as IDA times need to pass RFC 3339."""
    if value.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _level(value: Decimal, levels: tuple[Decimal, ...], what: str) -> Decimal:
    """The canonical table entry equal to value (so Decimal("2.30") prints as "2.3")."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal, never a float")
    for level in levels:
        if level == value:
            return level
    raise ValueError(f"unknown {what} {value}")


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a datetime with a time zone")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class ProofingEvent:
    """One completed identity proofing.

    source: "ndid", "oidc:<provider>" or "sandbox". evidence: OIDC4IDA evidence objects.
    claims: the verified claims, keyed by OpenID claim names (language-tagged names such as
    `name#th` allowed; the Thai ID under `th_citizen_id`). verification_process: the NDID
    request_id or the upstream transaction reference. time: when proofing completed (UTC).
    The claims hold personal data, so they are left out of repr().
    """

    person_id: str
    source: str
    ial: Decimal
    aal: Decimal | None
    evidence: list[dict[str, Any]] = field(repr=False, hash=False)
    claims: dict[str, Any] = field(repr=False, hash=False)
    verification_process: str
    time: datetime
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not _SOURCE.fullmatch(self.source):
            raise ValueError('source must be "ndid", "sandbox" or "oidc:<provider>"')
        if not isinstance(self.person_id, str) or not self.person_id:
            raise ValueError("person_id is required")
        if not isinstance(self.verification_process, str) or not self.verification_process:
            raise ValueError("verification_process is required")
        object.__setattr__(self, "ial", _level(self.ial, IAL_LEVELS, "IAL"))
        if self.aal is not None:
            object.__setattr__(self, "aal", _level(self.aal, AAL_LEVELS, "AAL"))
        object.__setattr__(self, "time", _utc(self.time, "time"))
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", _utc(self.expires_at, "expires_at"))
        if not isinstance(self.evidence, list) or not all(
                isinstance(e, dict) and isinstance(e.get("type"), str) for e in self.evidence):
            raise ValueError("evidence must be a list of objects with a type")
        if not isinstance(self.claims, dict):
            raise ValueError("claims must be an object")

    def is_valid_at(self, now: datetime) -> bool:
        """Not expired at `now` (an event with no expiry never expires)."""
        return self.expires_at is None or _utc(now, "now") < self.expires_at


def default_expiry(time: datetime) -> datetime:
    """When proofing completed at `time` stops counting (policy: DEFAULT_VALIDITY)."""
    return _utc(time, "time") + DEFAULT_VALIDITY


def best_event(events: Iterable[ProofingEvent], now: datetime) -> ProofingEvent | None:
    """The unexpired event with the highest IAL; among equals, the most recent one."""
    valid = [e for e in events if e.is_valid_at(now)]
    if not valid:
        return None
    return max(valid, key=lambda e: (e.ial, e.time))


def current_ial(events: Iterable[ProofingEvent], now: datetime) -> Decimal:
    """The person's IAL now: their best unexpired event's, else 1.1 (self-asserted)."""
    best = best_event(events, now)
    return best.ial if best is not None else NO_PROOFING_IAL


def ranked_events(events: Iterable[ProofingEvent], now: datetime) -> list[ProofingEvent]:
    """Unexpired events, best first (highest IAL, then most recent): the order in which
    `kyc.verified_claims` prefers them."""
    return sorted((e for e in events if e.is_valid_at(now)),
                  key=lambda e: (e.ial, e.time), reverse=True)


def ndid_bank_evidence(bank_node_name: str, bank_node_id: str, request_id: str,
                       time: datetime) -> dict[str, Any]:
    """A bank's answer to an NDID identity request, as `electronic_record` evidence."""
    return {
        "type": "electronic_record",
        "record": {
            "type": "bank_kyc",
            "source": {"name": bank_node_name, "country_code": THAILAND},
        },
        "check_details": [{
            "check_method": "data",
            "organization": bank_node_id,
            "check_id": request_id,
            "time": format_time(time),
        }],
    }


def id_card_chip_evidence(time: datetime) -> dict[str, Any]:
    """A Thai ID card chip read (cryptographic check), its status checked with DOPA (data
    check) and a remote face comparison (biometric check), as `document` evidence."""
    at = format_time(time)
    return {
        "type": "document",
        "document_details": {"type": "idcard", "issuer": {"country_code": THAILAND}},
        "check_details": [
            {"check_method": "vcrypt", "time": at},
            {"check_method": "data", "organization": "DOPA", "time": at},
            {"check_method": "bvr", "time": at},
        ],
    }


def passport_evidence(country: str, time: datetime) -> dict[str, Any]:
    """A passport's chip read and verified (ICAO 9303 passive authentication), as `document`
    evidence; `country` is the issuing state, ISO 3166-1 alpha-3."""
    return {
        "type": "document",
        "document_details": {"type": "passport", "issuer": {"country_code": country}},
        "check_details": [{"check_method": "vcrypt", "time": format_time(time)}],
    }
