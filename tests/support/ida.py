"""OpenID Connect for Identity Assurance: the `verified_claims` schema kept in tests/kyc
(written from the specification text), with format checking on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "kyc" / "verified_claims.schema.json"
VALIDATOR = Draft202012Validator(json.loads(SCHEMA_FILE.read_text()),
                                 format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(element: Any) -> Any:
    """The element is there (a schema accepts a missing member) and valid; returns it."""
    assert element is not None, "verified_claims expected"
    VALIDATOR.validate(element)
    return element
