"""Person kinds and the identifiers that can name them (kyc.persons)."""

from __future__ import annotations

import pytest

from kyc.identifiers import IdentifierError
from kyc.persons import check_kind, may_hold


def test_kinds() -> None:
    assert check_kind("citizen") == "citizen" and check_kind("foreigner") == "foreigner"
    with pytest.raises(ValueError, match="citizen, foreigner"):
        check_kind("robot")


@pytest.mark.parametrize(("kind", "namespace", "ok"), [
    ("citizen", "th_citizen_id", True),
    ("citizen", "passport:THA", False),
    ("foreigner", "passport:gbr", True),
    ("foreigner", "th_citizen_id", True),
])
def test_which_identifiers_name_whom(kind: str, namespace: str, ok: bool) -> None:
    assert may_hold(kind, namespace) is ok


def test_unknown_namespace_is_an_error() -> None:
    with pytest.raises(IdentifierError):
        may_hold("citizen", "ssn")
