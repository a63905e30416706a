"""idp/oidc."""
