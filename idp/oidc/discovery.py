"""The discovery document (OIDC Discovery 1.0, RFC 8414, and the OP metadata of OpenID Connect
for Identity Assurance 1.0): only members this provider honours."""

from __future__ import annotations

from typing import Any

from idp.oidc.claims import VERIFIED_CLAIMS, supported_claims
from idp.oidc.client_keys import BASIC_ASSERTION_ALGS
from idp.oidc.dpop import ALGORITHMS as DPOP_ALGORITHMS
from idp.oidc.encryption import CONTENT_ENCRYPTIONS, KEY_AGREEMENT
from idp.provider import Provider
from kyc.assurance import supported_acr_values
from kyc.verified_claims import citizen_id_claim
from kyc.verified_claims import discovery_metadata as identity_assurance_metadata

SCOPES = ["openid", "profile", "email", "phone", "address", "offline_access"]


def discovery_document(p: Provider) -> dict[str, Any]:
    iss = p.issuer
    auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/authorize",
        "token_endpoint": f"{iss}/token",
        "userinfo_endpoint": f"{iss}/userinfo",
        "jwks_uri": f"{iss}/jwks",
        "end_session_endpoint": f"{iss}/logout",
        "revocation_endpoint": f"{iss}/revoke",
        "introspection_endpoint": f"{iss}/introspect",
        # RFC 9126 5: pushed authorization requests; required of everyone under IDP_FAPI2_ONLY
        # (a fapi2 client is always required to push, see its own registration metadata).
        "pushed_authorization_request_endpoint": f"{iss}/par",
        "require_pushed_authorization_requests": p.settings.fapi2_only,
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": p.keys.algorithms,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        # What a client assertion may be signed with (idp.oidc.client_keys): RS256 only for
        # basic clients, PS256, ES256 or EdDSA for fapi2 ones; never HS256.
        "token_endpoint_auth_signing_alg_values_supported": list(BASIC_ASSERTION_ALGS),
        # Encrypted ID tokens and userinfo (idp.oidc.encryption): nested JWTs to the
        # agency's EC key.
        "id_token_encryption_alg_values_supported": [KEY_AGREEMENT],
        "id_token_encryption_enc_values_supported": list(CONTENT_ENCRYPTIONS),
        "userinfo_encryption_alg_values_supported": [KEY_AGREEMENT],
        "userinfo_encryption_enc_values_supported": list(CONTENT_ENCRYPTIONS),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        # RFC 9449 5.1: the algorithms a DPoP proof may be signed with (idp.oidc.dpop).
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "claims_parameter_supported": True,
        "claims_supported": supported_claims((VERIFIED_CLAIMS, citizen_id_claim(iss))),
        "claim_types_supported": ["normal"],
        "claims_locales_supported": ["th", "en"],
        "ui_locales_supported": ["th", "en"],
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "acr_values_supported": supported_acr_values(iss),
        "request_parameter_supported": False,
        # False although PAR's request_uri works: in OIDC Discovery this member means request
        # objects by reference (any URL), which are refused; RFC 9126 needs only the PAR member.
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        # OpenID Connect for Identity Assurance 1.0, "OP metadata": what verified_claims
        # can carry (trust framework, evidence, documents, claims).
        **identity_assurance_metadata(iss),
    }
