"""Remote signing over the Cloud Signature Consortium API v2, and agency seals."""
