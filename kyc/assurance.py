"""Thai identity and authentication assurance levels, and the `acr` values that carry them.

One table of levels, in order, so a correction to the guideline is made in one place
(`../shared/reference/assurance.md`). Levels are Decimals: never compare them as floats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

IAL_LEVELS: tuple[Decimal, ...] = tuple(Decimal(v) for v in
                                        ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3"))
AAL_LEVELS: tuple[Decimal, ...] = tuple(Decimal(v) for v in ("1", "2.1", "2.2", "3"))

IAL_MEANING = {
    "1.1": "no proofing: attributes are self-asserted",
    "1.2": "remote, evidence shown, light checks",
    "1.3": "in person, staff inspect the physical evidence",
    "2.1": "remote, evidence data checked against an authoritative source (DOPA)",
    "2.2": "remote, plus biometric face comparison with liveness or live video interview",
    "2.3": "ID card chip read, card status checked with DOPA, face compared",
    "3": "in person, biometrics collected and compared with the authoritative record",
}
AAL_MEANING = {
    "1": "one factor",
    "2.1": "two factors",
    "2.2": "two factors, one a device-bound key unlocked by the user (passkey)",
    "3": "hardware cryptographic authenticator resistant to verifier impersonation",
}

_ACR = re.compile(r"/acr/ial-(?P<ial>[0-9.]+)/aal-(?P<aal>[0-9.]+)$")


def ial(value: str) -> Decimal:
    level = Decimal(value)
    if level not in IAL_LEVELS:
        raise ValueError(f"unknown IAL {value}")
    return level


def aal(value: str) -> Decimal:
    level = Decimal(value)
    if level not in AAL_LEVELS:
        raise ValueError(f"unknown AAL {value}")
    return level


@dataclass(frozen=True, order=True)
class Assurance:
    ial: Decimal
    aal: Decimal

    def satisfies(self, wanted: Assurance) -> bool:
        """Both levels at least those wanted: the order the reference gives for acr values."""
        return self.ial >= wanted.ial and self.aal >= wanted.aal

    def acr(self, issuer: str) -> str:
        return f"{issuer}/acr/ial-{self.ial}/aal-{self.aal}"


def parse_acr(value: str, issuer: str) -> Assurance | None:
    """Our acr value back to levels; None for values that are not ours or not on the scale."""
    if not value.startswith(issuer + "/acr/"):
        return None
    m = _ACR.search(value)
    if not m:
        return None
    try:
        return Assurance(ial(m["ial"]), aal(m["aal"]))
    except (ValueError, ArithmeticError):
        return None


def supported_acr_values(issuer: str) -> list[str]:
    return [Assurance(i, a).acr(issuer) for i in IAL_LEVELS for a in AAL_LEVELS]


# How this login was made, per the reference's method table (policy): the `amr` values
# (RFC 8176) and the AAL the method gives. Federated methods (NDID, an upstream OpenID
# provider) take their AAL from the answer or the provider mapping, so None here.
METHODS: dict[str, tuple[tuple[str, ...], Decimal | None]] = {
    "ndid": (("fed",), None),
    "oidc": (("fed",), None),
    # passkey with user verification, synced or of unknown kind
    "passkey": (("swk", "user", "mfa"), Decimal("2.2")),
    # passkey known to be device-bound (attestation not from the allowed list)
    "passkey-device-bound": (("hwk", "user", "mfa"), Decimal("2.2")),
    # security key, device-bound, attestation verified from an allowed list
    "security-key": (("hwk", "user", "mfa"), Decimal("3")),
    "security-key-pin": (("hwk", "pin", "mfa"), Decimal("3")),
}


def amr_for(method: str) -> list[str]:
    """The `amr` values for a login method named in METHODS; ValueError for others."""
    try:
        return list(METHODS[method][0])
    except KeyError:
        raise ValueError(f"unknown authentication method {method!r}") from None


def aal_for(method: str) -> Decimal | None:
    """The AAL a method gives by itself; None when it comes from a federated answer."""
    try:
        return METHODS[method][1]
    except KeyError:
        raise ValueError(f"unknown authentication method {method!r}") from None
