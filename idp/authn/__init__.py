"""idp/authn."""
