"""Proofing events and a person's IAL (reference: assurance.md, "Which method gives which
level" and "verified_claims")."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from kyc.proofing import (
    DEFAULT_VALIDITY,
    ProofingEvent,
    best_event,
    current_ial,
    default_expiry,
    format_time,
    id_card_chip_evidence,
    ndid_bank_evidence,
    ranked_events,
)

NOW = datetime(2026, 5, 24, 9, 30, tzinfo=UTC)


def event(ial: str, *, days_ago: int = 10, expires_in: int | None = 300,
          source: str = "ndid", **kw: Any) -> ProofingEvent:
    time = NOW - timedelta(days=days_ago)
    return ProofingEvent(
        person_id=kw.pop("person_id", "p1"), source=source, ial=Decimal(ial),
        aal=kw.pop("aal", Decimal("2.2")), evidence=kw.pop("evidence", []),
        claims=kw.pop("claims", {"given_name": "Somchai"}),
        verification_process=kw.pop("verification_process", "req-1"), time=time,
        expires_at=None if expires_in is None else NOW + timedelta(days=expires_in), **kw)


def test_no_events_means_ial_1_1() -> None:
    assert current_ial([], NOW) == Decimal("1.1")
    assert best_event([], NOW) is None


def test_highest_unexpired_ial_wins() -> None:
    events = [event("2.1"), event("2.3"), event("1.2")]
    assert current_ial(events, NOW) == Decimal("2.3")


def test_expired_events_do_not_count() -> None:
    events = [event("2.3", expires_in=-1), event("2.1")]
    assert current_ial(events, NOW) == Decimal("2.1")
    assert current_ial([event("3", expires_in=0)], NOW) == Decimal("1.1")  # expiry is exclusive


def test_event_without_expiry_never_expires() -> None:
    assert current_ial([event("2.2", expires_in=None, days_ago=4000)], NOW) == Decimal("2.2")


def test_best_event_prefers_the_most_recent_among_equals() -> None:
    old, new = event("2.3", days_ago=100, verification_process="old"), event(
        "2.3", days_ago=1, verification_process="new")
    best = best_event([old, new], NOW)
    assert best is not None and best.verification_process == "new"
    assert [e.verification_process for e in ranked_events([old, event("2.1"), new], NOW)] == [
        "new", "old", "req-1"]


def test_levels_are_decimals_and_canonical() -> None:
    e = event("2.30")
    assert e.ial == Decimal("2.3") and str(e.ial) == "2.3"
    with pytest.raises(TypeError):
        ProofingEvent("p1", "ndid", 2.3, None, [], {}, "r", NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        event("2.4")
    with pytest.raises(ValueError):
        event("2.3", aal=Decimal("2"))


@pytest.mark.parametrize("source", ["ndid", "sandbox", "oidc:thaid", "oidc:dga-digital-id"])
def test_sources(source: str) -> None:
    assert event("2.3", source=source).source == source


@pytest.mark.parametrize("source", ["", "bank", "oidc:", "oidc:Bad Name", "NDID"])
def test_unknown_sources_refused(source: str) -> None:
    with pytest.raises(ValueError):
        event("2.3", source=source)


def test_times_must_be_aware_and_become_utc() -> None:
    bangkok = timezone(timedelta(hours=7))
    e = ProofingEvent("p1", "ndid", Decimal("2.3"), None, [], {}, "r",
                      datetime(2026, 5, 24, 16, 30, tzinfo=bangkok))
    assert e.time == datetime(2026, 5, 24, 9, 30, tzinfo=UTC) and e.time.tzinfo == UTC
    with pytest.raises(ValueError):
        ProofingEvent("p1", "ndid", Decimal("2.3"), None, [], {}, "r", datetime(2026, 5, 24))


def test_event_is_frozen_and_hides_claims() -> None:
    e = event("2.3", claims={"th_citizen_id": "1345951597671", "given_name": "Somchai"})
    with pytest.raises(FrozenInstanceError):
        e.ial = Decimal("3")  # type: ignore[misc]
    assert "1345951597671" not in repr(e) and "Somchai" not in repr(e)
    hash(e)  # usable in sets


def test_default_validity_is_a_year() -> None:
    assert timedelta(days=365) == DEFAULT_VALIDITY
    assert default_expiry(NOW) == NOW + timedelta(days=365)
    e = event("2.3", days_ago=366, expires_in=None)
    fresh = ProofingEvent(e.person_id, e.source, e.ial, e.aal, [], {}, "r", e.time,
                          default_expiry(e.time))
    assert current_ial([fresh], NOW) == Decimal("1.1")


def test_format_time_is_utc_seconds_z() -> None:
    bangkok = timezone(timedelta(hours=7))
    assert format_time(datetime(2026, 11, 24, 14, 45, 0, 123456, tzinfo=bangkok)) == \
        "2026-11-24T07:45:00Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 11, 24))


def test_ndid_bank_evidence_shape() -> None:
    evidence = ndid_bank_evidence("Example Bank", "bank-node-1", "req-123", NOW)
    assert evidence == {
        "type": "electronic_record",
        "record": {"type": "bank_kyc",
                   "source": {"name": "Example Bank", "country_code": "THA"}},
        "check_details": [{"check_method": "data", "organization": "bank-node-1",
                           "check_id": "req-123", "time": "2026-05-24T09:30:00Z"}],
    }


def test_id_card_chip_evidence_shape() -> None:
    evidence = id_card_chip_evidence(NOW)
    assert evidence["type"] == "document"
    assert evidence["document_details"] == {"type": "idcard", "issuer": {"country_code": "THA"}}
    methods = [(c["check_method"], c.get("organization")) for c in evidence["check_details"]]
    assert methods == [("vcrypt", None), ("data", "DOPA"), ("bvr", None)]
    assert all(c["time"] == "2026-05-24T09:30:00Z" for c in evidence["check_details"])


def test_evidence_must_have_types() -> None:
    with pytest.raises(ValueError):
        event("2.3", evidence=[{"record": {}}])


def test_amr_and_aal_per_method_table() -> None:
    from kyc.assurance import aal_for, amr_for

    assert amr_for("ndid") == ["fed"] and aal_for("ndid") is None
    assert amr_for("oidc") == ["fed"]
    assert set(amr_for("passkey")) == {"swk", "user", "mfa"} and aal_for("passkey") == Decimal(
        "2.2")
    assert set(amr_for("security-key")) == {"hwk", "user", "mfa"}
    assert aal_for("security-key") == Decimal("3")
    with pytest.raises(ValueError):
        amr_for("password")
