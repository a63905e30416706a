"""The registry tests run on the signing tests' live provider (TSA, OCSP and CRLs over HTTP,
our hierarchy, pdfsig's NSS database); agencies are registered and sealed here."""

from __future__ import annotations

from typing import Any

import requests

from idp.csc.seals import SealInfo, provision_seal
from tests.signing.conftest import SigningEnv, signing_env

__all__ = ["agency", "api", "signing_env"]

ORG_ID = "NTRTH-0994000000001"


def agency(env: SigningEnv, scope: str = "issue", *, seal: bool = True,
           name_th: str = "กรมพัฒนาธุรกิจการค้า", name_en: str = "Department of Business "
           "Development") -> tuple[dict[str, Any], str, SealInfo | None]:
    """A client_credentials agency with a token for `scope`, sealed unless told not to."""
    client = env.op.register(grant_types=["client_credentials"], scope=scope,
                             **{"client_name#en": name_en, "client_name#th": name_th})
    resp = env.op.token(client, grant_type="client_credentials", scope=scope)
    assert resp.status_code == 200, resp.text
    info = provision_seal(env.pki, client["client_id"], ORG_ID) if seal else None
    return client, resp.json()["access_token"], info


def api(env: SigningEnv, method: str, path: str, token: str | None = None,
        **kwargs: Any) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{env.op.base}/api/v1/registry{path}", headers=headers,
                            timeout=60, **kwargs)
