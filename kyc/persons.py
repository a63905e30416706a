"""Who a person is to the provider: a Thai citizen or a foreigner, and which identifiers can
name them. Plain rules; the rows live in the provider's database (idp.persons).

A citizen is named by their Thai national ID. A foreigner is named by a passport (with its
issuing country) or, when they hold one, by the 13-digit Thai ID issued to foreign residents
(same check-digit rule, so it shares the `th_citizen_id` namespace; the first digit is never
used to tell them apart, as the reference warns).
"""

from __future__ import annotations

from typing import Literal, get_args

from kyc.identifiers import PASSPORT_PREFIX, TH_CITIZEN_ID, canonical_namespace

PersonKind = Literal["citizen", "foreigner"]
PERSON_KINDS: tuple[str, ...] = get_args(PersonKind)


def check_kind(kind: str) -> PersonKind:
    if kind not in PERSON_KINDS:
        raise ValueError(f"a person is one of {', '.join(PERSON_KINDS)}")
    return kind  # type: ignore[return-value]


def may_hold(kind: str, namespace: str) -> bool:
    """Whether a person of this kind can be named by an identifier in this namespace."""
    ns = canonical_namespace(namespace)
    if check_kind(kind) == "citizen":
        return ns == TH_CITIZEN_ID
    return ns == TH_CITIZEN_ID or ns.startswith(PASSPORT_PREFIX)
