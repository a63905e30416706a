"""The provider's certificate authority: hierarchy, issuance, revocation, CRLs and status
(`Pki`), for the OCSP responder, the TSA, the /pki/ endpoints and `idp ca`."""

from idp.pki.service import CaRecord, CertStatus, Pki

__all__ = ["CaRecord", "CertStatus", "Pki"]
