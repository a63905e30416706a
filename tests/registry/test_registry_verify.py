"""Verifying a registry document checks both halves: the seal (signing.verification) and the
register (status now, and whether the bytes are the ones issued). Over real HTTP: the QR code
on the issued PDF (read by zbarimg) leads to /verify/{id}; a genuine license is valid; once
revoked it says revoked from the PDF and from the QR link; a copy re-rendered with a changed
field and sealed with a valid seal says "not the one issued"; the public page shows only what
the license type makes public. Both backends."""

from __future__ import annotations

import base64
import re
from html import unescape
from typing import Any

import requests

from signing.pades import Level, SignRequest, sign_pdf
from tests.registry.conftest import agency, api
from tests.registry.test_registry_api import LICENSE, NATIONAL_ID, forged_copy, issue
from tests.signing.conftest import SigningEnv
from tests.support import pdfjudges as judges


def _verify(env: SigningEnv, pdf: bytes) -> dict[str, Any]:
    resp = requests.post(env.op.base + "/api/v1/verify", data=pdf, timeout=60,
                         headers={"Content-Type": "application/pdf"})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _page(env: SigningEnv, url: str) -> requests.Response:
    return requests.get(url, timeout=30, headers={"Accept": "text/html",
                                                  "Accept-Language": "en"})


def _verdict(html: str) -> str:
    found = re.search(r'data-verdict="([^"]+)"', html)
    assert found, html[:2000]
    return found[1]


def test_a_license_is_valid_then_revoked_from_the_pdf_and_the_qr_link(
        signing_env: SigningEnv) -> None:
    env = signing_env
    _client, token, _seal = agency(env)
    doc = issue(env, token)
    pdf = base64.b64decode(doc["pdf"])
    assert judges.qr_codes(pdf, env.work) == [doc["verify_url"]]
    assert doc["verify_url"] == f"{env.op.base}/verify/{doc['id']}"

    body = _verify(env, pdf)
    assert body["indication"] == "TOTAL_PASSED", body
    assert body["signatures"][0]["format"] == "PAdES-BASELINE-LTA"
    assert body["summary"]["verdict"] == "valid"
    registry = body["registry"]
    assert (registry["id"], registry["match"], registry["status"], registry["verdict"]) == \
        (doc["id"], "exact", "active", "active")
    page = _page(env, doc["verify_url"])
    assert page.status_code == 200 and _verdict(page.text) == "active"
    assert "This document is valid" in page.text

    revoked = api(env, "POST", f"/documents/{doc['id']}/revoke", token,
                  json={"reason": "licence withdrawn by court order"})
    assert revoked.status_code == 200, revoked.text
    body = _verify(env, pdf)
    assert body["indication"] == "TOTAL_PASSED"  # the seal is genuine...
    assert body["summary"]["verdict"] == "revoked"  # ...and the license is revoked
    assert body["registry"]["status"] == "revoked"
    page = _page(env, doc["verify_url"])
    assert _verdict(page.text) == "revoked" and "has been revoked" in page.text
    as_json = requests.get(doc["verify_url"], timeout=30,
                           headers={"Accept": "application/json"}).json()
    assert as_json["status"] == "revoked"
    for private in (NATIONAL_ID.replace("-", ""), NATIONAL_ID, "court order",
                    LICENSE["fields"]["address"]):
        assert private not in page.text and private not in repr(as_json)


def test_a_resealed_copy_with_a_changed_field_is_not_the_one_issued(
        signing_env: SigningEnv) -> None:
    env = signing_env
    _client, token, _seal = agency(env)
    doc = issue(env, token)
    forged = forged_copy(env, doc)
    body = _verify(env, forged)
    assert body["indication"] == "TOTAL_PASSED"  # a valid seal, on the wrong content
    assert body["registry"]["match"] == "different"
    assert body["summary"]["verdict"] == "not_issued"
    assert "not the one the agency issued" in body["summary"]["en"]


def test_the_qr_page_checks_an_upload_against_its_own_document(signing_env: SigningEnv
                                                               ) -> None:
    env = signing_env
    _client, token, _seal = agency(env)
    doc = issue(env, token)
    other = sign_pdf(judges.make_pdf(text="Some other sealed paper"), env.seal,
                     SignRequest(level=Level.B_T), timestamper=env.timestamper())
    session = requests.Session()
    page = session.get(doc["verify_url"] + "?lang=en", timeout=30)
    token_field = unescape(re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[index]
                                     page.text)[1])
    assert f'name="id" value="{doc["id"]}"' in page.text

    def upload(pdf: bytes) -> requests.Response:
        return session.post(env.op.base + "/verify?lang=en", timeout=60,
                            data={"csrf_token": token_field, "id": doc["id"]},
                            files={"file": ("licence.pdf", pdf, "application/pdf")})

    genuine = upload(base64.b64decode(doc["pdf"]))
    assert genuine.status_code == 200 and _verdict(genuine.text) == "valid"
    assert 'data-registry-match="exact"' in genuine.text
    wrong = upload(other)
    assert _verdict(wrong.text) == "not_issued", wrong.text[:3000]


def test_unknown_ids_are_404(signing_env: SigningEnv) -> None:
    env = signing_env
    for doc_id in ("A" * 32, "no", "../../etc/passwd"):
        page = _page(env, f"{env.op.base}/verify/{doc_id}")
        assert page.status_code == 404
    as_json = requests.get(f"{env.op.base}/verify/{'A' * 32}", timeout=30,
                           headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json()["error"] == "not_found"
