"""A SANDBOX NDID node: a development stand-in for a relying party's own NDID API node.

It is not NDID and talks to no blockchain, bank or authoritative source. It speaks the relying
party part of the NDID API v6 (paths, bodies, status codes, error objects, callbacks and their
timing) so that our provider, and an agency's own code, can be developed and tested without a
membership. Banks are simulated, and each one has a small page where a tester plays the person
approving or refusing the request in the bank app. Never enable it in production settings.

`create_ndid_app` builds the node; `Script` and `Scenario` choose unhappy paths for tests;
`SCRIPTED_IDENTIFIERS` lists the citizen IDs that pick one by themselves.
"""

from sandbox.ndid.node import (
    DEFAULT_BANKS,
    SCRIPTED_IDENTIFIERS,
    SandboxNode,
    Scenario,
    Script,
    create_ndid_app,
)

__all__ = [
    "DEFAULT_BANKS",
    "SCRIPTED_IDENTIFIERS",
    "SandboxNode",
    "Scenario",
    "Script",
    "create_ndid_app",
]
