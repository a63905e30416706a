"""A passkey device for the real-browser tests: Chromium's DevTools virtual authenticator.

It stands in for the phone's platform authenticator (internal transport, resident keys, user
verification done), so the provider's own `passkey.js` runs the real WebAuthn ceremonies in the
browser. With automatic presence on, it answers every request at once, including the quiet
autofill (conditional mediation) request the login page makes as soon as it loads; switch
presence off before loading a page whose explicit passkey button the test means to press.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class VirtualAuthenticator:
    """One virtual authenticator attached to one browser tab (its CDP session)."""

    cdp: Any
    authenticator_id: str

    def credentials(self) -> list[dict[str, Any]]:
        """The passkeys the device holds (credential id, rp id, sign count, user handle)."""
        got = self.cdp.send("WebAuthn.getCredentials",
                            {"authenticatorId": self.authenticator_id})
        return list(got.get("credentials", []))

    def presence(self, on: bool) -> None:
        """Whether the device answers by itself (as if the person touched and unlocked it)."""
        self.cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                      {"authenticatorId": self.authenticator_id, "enabled": on})

    def remove(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator",
                      {"authenticatorId": self.authenticator_id})


def add_platform_authenticator(page: Any, *, presence: bool = True) -> VirtualAuthenticator:
    """A phone-like passkey device for `page`'s tab: CTAP2 over the internal transport, with
    resident (discoverable) keys and user verification, so a login needs nothing typed."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    got = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": presence}})
    return VirtualAuthenticator(cdp, str(got["authenticatorId"]))
