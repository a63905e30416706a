"""What a consent covers for one person, and how the consent pages say it.

A consent is recorded as scopes plus claim names. Claim names are the claims asked for one by
one in the `claims` parameter, and `verified:<claim>` for each claim asked for inside
`verified_claims` (see `idp.oidc.verified`). Before a consent is checked, recorded or shown,
the names are narrowed to what this person can actually give: a claim they do not hold, a
claim the provider does not know, or a verified claim no unexpired proofing event of theirs
vouches for is never released, so it is neither asked about nor recorded. The page therefore
lists what the agency will receive, and the record names exactly what the page listed; when
the person later holds more (proofing done, a citizen ID verified), a request for it finds the
consent short and shows the page again.

The release itself can still be smaller than the consent: a `value`, `values` or `max_age`
constraint in the request, or verified claims spread over several proofing events (one
request element is answered from one event), can leave a listed claim out. It is never larger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idp import persons
from idp.db import Person, utcnow
from idp.i18n import shown_date
from idp.oidc.claims import PROTOCOL_CLAIMS, VERIFIED_CLAIMS, localize, select_claims
from idp.oidc.verified import CONSENT_PREFIX, consent_name, is_supported
from idp.provider import Provider
from kyc.proofing import ProofingEvent, ranked_events
from kyc.verified_claims import build_verified_claims, citizen_id_claim

# The scope whose only claim is the pairwise subject.
_SUBJECT_SCOPE = "openid"


@dataclass(frozen=True)
class Label:
    """How one claim or scope is named on a page: the text key, the raw name shown when no
    text exists, and the language of a language-tagged claim (`given_name#th`)."""

    key: str
    fallback: str
    language: str | None = None


@dataclass(frozen=True)
class Line:
    """One line of a consent list: its label, the exact claim names released under it (for
    `data-claims`, so what a page promises can be checked against what a token carries),
    and, for a scope, the labels of the claims it brings."""

    label: Label
    claims: tuple[str, ...]
    details: tuple[Label, ...] = ()
    sensitive: bool = False


@dataclass(frozen=True)
class VerifiedGroup:
    """Verified claims vouched for by one proofing event, with who vouched and when."""

    source_key: str
    source_params: dict[str, str]
    ial: str
    date: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class ConsentView:
    scopes: tuple[Line, ...] = ()
    claims: tuple[Line, ...] = ()
    verified: tuple[VerifiedGroup, ...] = ()
    verified_missing: bool = False
    """Verified claims were asked for that this person cannot give (told on the page)."""


@dataclass
class _Holdings:
    plain: dict[str, Any]
    events: list[tuple[ProofingEvent, list[str]]] = field(default_factory=list)
    """Unexpired proofing events, best first, each with the supported verified claim
    names it vouches for."""

    def verified_names(self) -> set[str]:
        return {n for _, names in self.events for n in names}


def _holdings(p: Provider, person_id: str, with_verified: bool,
              now: datetime | None = None) -> _Holdings:
    """The person's claims (as localized for tokens) and, only when needed, what their
    proofing events vouch for (reading events unseals the citizen ID, so not by default)."""
    with p.db.session() as s:
        person = s.get(Person, person_id)
        held = _Holdings(plain=localize(person.claims, None) if person is not None else {})
        if with_verified and person is not None:
            at = now or utcnow()
            for event in ranked_events(persons.proofing_events(s, p.identifiers, person_id),
                                       at):
                claims = build_verified_claims(event, p.issuer)["claims"]
                held.events.append((event, [n for n in claims if is_supported(n, p.issuer)]))
    return held


def _plain_requested(names: list[str]) -> list[str]:
    return [n for n in names if not n.startswith(CONSENT_PREFIX)
            and n not in PROTOCOL_CLAIMS and n != VERIFIED_CLAIMS]


def _verified_requested(names: list[str]) -> list[str]:
    return [n.removeprefix(CONSENT_PREFIX) for n in dict.fromkeys(names)
            if n.startswith(CONSENT_PREFIX)]


def _narrow(held: _Holdings, names: list[str]) -> tuple[list[str], list[str]]:
    plain = [n for n in _plain_requested(names) if n in held.plain]
    have = held.verified_names()
    verified = [n for n in _verified_requested(names) if n in have]
    return plain, verified


def consentable(p: Provider, person_id: str, names: list[str]) -> list[str]:
    """The consent names (from `flow.requested_claim_names`) this person can actually give,
    sorted: what a consent must cover, and what recording one records."""
    if not names:
        return []
    held = _holdings(p, person_id, bool(_verified_requested(names)))
    plain, verified = _narrow(held, names)
    return sorted(set(plain) | {consent_name(n) for n in verified})


def label_of(name: str, issuer: str) -> Label:
    if name == citizen_id_claim(issuer):
        return Label("claim_th_citizen_id", name)
    base, _, language = name.partition("#")
    return Label("claim_" + base, name, language or None)


def _scope_line(scope: str, held: dict[str, Any], issuer: str) -> Line:
    if scope == _SUBJECT_SCOPE:
        return Line(Label("scope_" + scope, scope), ("sub",))
    released = tuple(select_claims(held, [scope], None, include_scope_claims=True))
    details: list[Label] = []
    for name in released:
        label = label_of(name.partition("#")[0], issuer)
        if label not in details:
            details.append(label)
    return Line(Label("scope_" + scope, scope), released, tuple(details))


def _source(event: ProofingEvent) -> tuple[str, dict[str, str]]:
    """Who vouched, in words: the bank, the ID card chip, the passport, the upstream."""
    for evidence in event.evidence:
        kind = evidence.get("type")
        if kind == "electronic_record":
            record = evidence.get("record")
            source = record.get("source") if isinstance(record, dict) else None
            name = source.get("name") if isinstance(source, dict) else None
            if isinstance(name, str) and name:
                return "verified_by_bank", {"bank": name}
        if kind == "document":
            details = evidence.get("document_details")
            document = details.get("type") if isinstance(details, dict) else None
            if document == "idcard":
                return "verified_by_id_card", {}
            if document == "passport":
                return "verified_by_passport", {}
    if event.source.startswith("oidc:"):
        return "verified_by_provider", {"provider": event.source.removeprefix("oidc:")}
    return "verified_by_other", {}


def _verified_groups(held: _Holdings, names: list[str], issuer: str
                     ) -> tuple[VerifiedGroup, ...]:
    """Each verified claim under the best event that vouches for it (events come best
    first, as `kyc.verified_claims` prefers them)."""
    by_event: dict[int, list[str]] = {}
    for name in names:
        index = next(i for i, (_, held_names) in enumerate(held.events) if name in held_names)
        by_event.setdefault(index, []).append(name)
    groups = []
    for index in sorted(by_event):
        event = held.events[index][0]
        key, params = _source(event)
        lines = tuple(Line(label_of(n, issuer), (n,), sensitive=n == citizen_id_claim(issuer))
                      for n in by_event[index])
        groups.append(VerifiedGroup(key, params, str(event.ial),
                                    shown_date(event.time), lines))
    return tuple(groups)


def describe(p: Provider, person_id: str, scopes: list[str], names: list[str]) -> ConsentView:
    """The consent page's (and the consents page's) lists for these scopes and consent
    names: a line per scope, a line per claim asked for by name that no scope already brings,
    and the verified claims grouped by who vouched for them."""
    wanted_verified = _verified_requested(names)
    held = _holdings(p, person_id, bool(wanted_verified))
    plain, verified = _narrow(held, names)
    scope_lines = tuple(_scope_line(s, held.plain, p.issuer) for s in scopes)
    by_scope = {c for line in scope_lines for c in line.claims}
    claim_lines = tuple(Line(label_of(n, p.issuer), (n,)) for n in dict.fromkeys(plain)
                        if n not in by_scope)
    return ConsentView(scopes=scope_lines, claims=claim_lines,
                       verified=_verified_groups(held, verified, p.issuer),
                       verified_missing=len(verified) < len(wanted_verified))
