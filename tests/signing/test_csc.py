"""The CSC API v2 over real HTTP on a live provider: info; credentials/list and info only with
the right token; agency seals (client_credentials + scope seal) through authorize + signHash
(verified with the certificate's public key by `cryptography`) and signDoc at B-LTA (judged by
pdfsig and pyhanko); a SAD works once and only for its hashes; bad inputs get clear errors;
the citizen's authorize asks for a confirmation first. Both backends."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sqlalchemy import select

from idp import signing_credentials as creds
from idp.csc.seals import SealInfo, provision_seal
from idp.db import AuditEvent, SignatureRecord
from signing.pades import Level, validate_pdf
from tests.signing.conftest import SigningEnv
from tests.support import pdfjudges as judges
from tests.support.live import Browser

ORG_ID = "NTRTH-0994000000001"
SHA256 = "2.16.840.1.101.3.4.2.1"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post(env: SigningEnv, method: str, token: str | None = None, **body: Any
         ) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{env.op.base}/csc/v2/{method}", json=body, headers=headers,
                         timeout=60)


def agency(env: SigningEnv, scope: str = "seal") -> tuple[dict[str, Any], str]:
    client = env.op.register(grant_types=["client_credentials"], scope=scope,
                             **{"client_name#en": "Department of Testing"})
    resp = env.op.token(client, grant_type="client_credentials", scope=scope)
    assert resp.status_code == 200, resp.text
    return client, resp.json()["access_token"]


def sealed_agency(env: SigningEnv) -> tuple[dict[str, Any], str, SealInfo]:
    client, token = agency(env)
    return client, token, provision_seal(env.pki, client["client_id"], ORG_ID)


def test_info_needs_no_token(signing_env: SigningEnv) -> None:
    resp = post(signing_env, "info")
    assert resp.status_code == 200
    body = resp.json()
    assert body["specs"].startswith("2.") and body["region"] == "TH"
    assert body["authType"] == ["oauth2code", "oauth2client"]
    assert body["oauth2"] == signing_env.op.base
    assert "signatures/signDoc" in body["methods"]


def test_list_and_info_need_the_right_token(signing_env: SigningEnv) -> None:
    env = signing_env
    assert post(env, "credentials/list").status_code == 401
    assert post(env, "credentials/list", "not-a-token").status_code == 401
    _, weak = agency(env, scope="tax:read")  # an agency token without scope seal
    assert post(env, "credentials/list", weak).status_code == 403

    _, token, seal = sealed_agency(env)
    listed = post(env, "credentials/list", token, credInfo=True).json()
    assert listed["credentialIDs"] == [seal.id]
    info = post(env, "credentials/info", token, credentialID=seal.id, certificates="chain",
                certInfo=True).json()
    assert info["SCAL"] == "1" and info["key"]["algo"] == ["1.2.840.10045.2.1"]
    assert info["key"]["len"] == 256
    assert len(info["cert"]["certificates"]) >= 2
    assert "2.5.4.97=" + ORG_ID in info["cert"]["subjectDN"] or ORG_ID in info["cert"][
        "subjectDN"]
    # Another agency cannot see or use this seal.
    _, other, _ = sealed_agency(env)
    resp = post(env, "credentials/info", other, credentialID=seal.id)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_seal_sign_hash_verifies_and_sad_is_single_use(signing_env: SigningEnv) -> None:
    env = signing_env
    _, token, seal = sealed_agency(env)
    digests = [hashlib.sha256(b"invoice %d" % i).digest() for i in range(2)]
    resp = post(env, "credentials/authorize", token, credentialID=seal.id, numSignatures=2,
                hashes=[b64(d) for d in digests], hashAlgorithmOID=SHA256)
    assert resp.status_code == 200, resp.text
    sad = resp.json()["SAD"]
    assert len(sad) >= 22  # at least 128 bits

    # A hash the SAD does not cover is refused (and the SAD is spent).
    other = hashlib.sha256(b"something else").digest()
    resp = post(env, "signatures/signHash", token, credentialID=seal.id, SAD=sad,
                hashes=[b64(other)], hashAlgorithmOID=SHA256, signAlgo=ECDSA_SHA256)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_sad"

    resp = post(env, "credentials/authorize", token, credentialID=seal.id, numSignatures=2,
                hashes=[b64(d) for d in digests], hashAlgorithmOID=SHA256)
    sad = resp.json()["SAD"]
    resp = post(env, "signatures/signHash", token, credentialID=seal.id, SAD=sad,
                hashes=[b64(d) for d in digests], hashAlgorithmOID=SHA256,
                signAlgo=ECDSA_SHA256)
    assert resp.status_code == 200, resp.text
    public = seal.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    for digest, sig in zip(digests, resp.json()["signatures"], strict=True):
        public.verify(base64.b64decode(sig), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    again = post(env, "signatures/signHash", token, credentialID=seal.id, SAD=sad,
                 hashes=[b64(digests[0])], hashAlgorithmOID=SHA256, signAlgo=ECDSA_SHA256)
    assert again.status_code == 400 and again.json()["error"] == "invalid_sad"


def test_seal_sign_doc_b_lta(signing_env: SigningEnv) -> None:
    env = signing_env
    client, token, seal = sealed_agency(env)
    pdf = judges.make_pdf(text="Licence 42")
    resp = post(env, "signatures/signDoc", token, credentialID=seal.id,
                documents=[{"document": b64(pdf), "signature_format": "P",
                            "conformance_level": "AdES-B-LTA"}])
    assert resp.status_code == 200, resp.text
    signed = base64.b64decode(resp.json()["documentWithSignature"][0])
    assert signed.startswith(pdf)
    path = env.work / "sealed.pdf"
    path.write_bytes(signed)
    sigs, text = judges.pdfsig(path, env.nss)
    pades = [s for s in sigs if s.type == "ETSI.CAdES.detached"]
    assert len(pades) == 1 and pades[0].valid, text
    reports = [r for r in validate_pdf(signed, env.offline_context()) if r.kind == "signature"]
    assert reports[0].level is Level.B_LTA, reports[0].problems
    with env.op.app.extensions["idp"].db.session() as s:
        record = s.scalar(select(SignatureRecord).where(
            SignatureRecord.client_id == client["client_id"]))
        assert record is not None and record.level == "B-LTA"
        assert record.document_sha256 == hashlib.sha256(pdf).hexdigest()
        event = s.scalar(select(AuditEvent).where(AuditEvent.type == "signing.sealed",
                                                  AuditEvent.client_id == client["client_id"]))
        assert event is not None and "document" not in event.data


@pytest.mark.parametrize("case", ["bad_base64", "not_pdf", "too_large", "bad_level"])
def test_sign_doc_bad_input(signing_env: SigningEnv, case: str) -> None:
    env = signing_env
    _, token, seal = sealed_agency(env)
    doc: dict[str, Any] = {"document": b64(judges.make_pdf()), "signature_format": "P"}
    status = 400
    if case == "bad_base64":
        doc["document"] = "%%%not base64%%%"
    elif case == "not_pdf":
        doc["document"] = b64(b"PK\x03\x04 a zip" + b"\x00" * 100)
    elif case == "bad_level":
        doc["conformance_level"] = "AdES-X"
    else:
        big = env.op.settings.signing_max_bytes + 1
        doc["document"] = "A" * (big * 4 // 3 + 8)
        status = 413
    resp = post(env, "signatures/signDoc", token, credentialID=seal.id, documents=[doc])
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] and body["error_description"]
    assert "Traceback" not in body["error_description"]


def test_citizen_authorize_needs_confirmation(signing_env: SigningEnv) -> None:
    from idp.authn.views import person_for_persona
    from kyc.assurance import Assurance
    from sandbox.personas import get_persona

    env = signing_env
    p = env.op.app.extensions["idp"]
    persona = get_persona("somchai")
    assert persona is not None
    person_id = person_for_persona(p, persona)
    acr = Assurance(Decimal(persona.ial), Decimal(persona.aal)).acr(p.issuer)
    cred = creds.issue_credential(p, env.pki, person_id, acr)
    client = env.op.register(scope="openid service")
    tokens = env.op.code_flow(Browser(env.op.base), client, "somchai", scope="openid service")
    token = tokens["access_token"]
    listed = post(env, "credentials/list", token).json()
    assert listed["credentialIDs"] == [cred.id]
    info = post(env, "credentials/info", token, credentialID=cred.id).json()
    assert info["SCAL"] == "2"
    digest = hashlib.sha256(b"contract").digest()
    resp = post(env, "credentials/authorize", token, credentialID=cred.id, numSignatures=1,
                hashes=[b64(digest)], hashAlgorithmOID=SHA256)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert "SAD" not in body
    assert body["confirmation_url"].startswith(env.op.base + "/csc/v2/confirm/")
    # Without a SAD, neither signHash nor signDoc signs for the citizen.
    resp = post(env, "signatures/signHash", token, credentialID=cred.id, SAD="x" * 43,
                hashes=[b64(digest)], hashAlgorithmOID=SHA256, signAlgo=ECDSA_SHA256)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_sad"


# --- the citizen's confirmation page ---------------------------------------------------------


def _citizen(env: SigningEnv, persona_name: str = "somchai"
             ) -> tuple[str, Any, Browser, Any]:
    """A person logged in (browser session) with a passkey and an active signing credential."""
    from idp.authn.views import person_for_persona
    from kyc.assurance import Assurance
    from sandbox.personas import get_persona
    from tests.signing.test_sign_page import _login_with_passkey

    p = env.op.app.extensions["idp"]
    persona = get_persona(persona_name)
    assert persona is not None
    person_id = person_for_persona(p, persona)
    browser = Browser(env.op.base)
    key = _login_with_passkey(env.op, browser)  # logs in as somchai
    acr = Assurance(Decimal(persona.ial), Decimal(persona.aal)).acr(p.issuer)
    cred = creds.issue_credential(p, env.pki, person_id, acr)
    return person_id, cred, browser, key


def _agency_token(env: SigningEnv) -> str:
    client = env.op.register(scope="openid credential",
                             **{"client_name#en": "Land Department"})
    tokens = env.op.code_flow(Browser(env.op.base), client, "somchai",
                              scope="openid credential")
    return str(tokens["access_token"])


def _authorize(env: SigningEnv, token: str, cred_id: str, digests: list[bytes]
               ) -> requests.Response:
    return post(env, "credentials/authorize", token, credentialID=cred_id,
                numSignatures=len(digests), hashes=[b64(d) for d in digests],
                hashAlgorithmOID=SHA256)


def _confirm(env: SigningEnv, browser: Browser, key: Any, url: str) -> requests.Response:
    from tests.signing.test_sign_page import attr, post_json

    path = url.removeprefix(env.op.base)
    page = browser.go(path + "?lang=en")
    assert page.status_code == 200, page.text[:2000]
    csrf = attr(page.text, "data-csrf")
    options = post_json(browser, attr(page.text, "data-options-url"), {}, csrf)
    assert options.status_code == 200, options.text
    publickey = options.json()["publicKey"]
    assert publickey["userVerification"] == "required"
    return post_json(browser, attr(page.text, "data-verify-url"),
                     {"credential": key.get(publickey)}, csrf)


def test_citizen_confirms_then_sign_hash(signing_env: SigningEnv) -> None:
    env = signing_env
    _, cred, browser, key = _citizen(env)
    token = _agency_token(env)
    digests = [hashlib.sha256(b"deed %d" % i).digest() for i in range(2)]
    first = _authorize(env, token, cred.id, digests)
    assert first.status_code == 202, first.text
    url = first.json()["confirmation_url"]

    page = browser.go(url.removeprefix(env.op.base) + "?lang=en")
    assert page.status_code == 200
    assert "Land Department" in page.text and "Confirm with passkey" in page.text
    assert 'data-csc-count="2"' in page.text
    for d in digests:
        assert d.hex()[:12] in page.text
    # Not logged in: 401 with the way to log in.
    anonymous = Browser(env.op.base).http.get(url, timeout=30)
    assert anonymous.status_code == 401 and "/account/login" in anonymous.text

    done = _confirm(env, browser, key, url)
    assert done.status_code == 200, done.text
    assert "Confirmed" in browser.go(done.json()["redirect"] + "?lang=en").text

    resp = _authorize(env, token, cred.id, list(reversed(digests)))  # order does not matter
    assert resp.status_code == 200, resp.text
    sad = resp.json()["SAD"]
    # The confirmation is used up: the next authorize asks again.
    assert _authorize(env, token, cred.id, digests).status_code == 202

    other = hashlib.sha256(b"not confirmed").digest()
    refused = post(env, "signatures/signHash", token, credentialID=cred.id, SAD=sad,
                   hashes=[b64(other)], hashAlgorithmOID=SHA256, signAlgo=ECDSA_SHA256)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_sad"

    # A fresh confirmation, then signHash verifies with the certificate's key, once.
    again = _authorize(env, token, cred.id, digests)
    assert _confirm(env, browser, key, again.json()["confirmation_url"]).status_code == 200
    sad = _authorize(env, token, cred.id, digests).json()["SAD"]
    signed = post(env, "signatures/signHash", token, credentialID=cred.id, SAD=sad,
                  hashes=[b64(d) for d in digests], hashAlgorithmOID=SHA256,
                  signAlgo=ECDSA_SHA256)
    assert signed.status_code == 200, signed.text
    public = cred.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    for digest, sig in zip(digests, signed.json()["signatures"], strict=True):
        public.verify(base64.b64decode(sig), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    replay = post(env, "signatures/signHash", token, credentialID=cred.id, SAD=sad,
                  hashes=[b64(digests[0])], hashAlgorithmOID=SHA256, signAlgo=ECDSA_SHA256)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_sad"


def test_citizen_sign_doc_after_confirmation(signing_env: SigningEnv) -> None:
    env = signing_env
    _, cred, browser, key = _citizen(env)
    token = _agency_token(env)
    pdf = judges.make_pdf(text="Deed 7")
    digest = hashlib.sha256(pdf).digest()
    first = _authorize(env, token, cred.id, [digest])
    assert _confirm(env, browser, key, first.json()["confirmation_url"]).status_code == 200
    sad = _authorize(env, token, cred.id, [digest]).json()["SAD"]
    resp = post(env, "signatures/signDoc", token, credentialID=cred.id, SAD=sad,
                documents=[{"document": b64(pdf), "signature_format": "P"}])
    assert resp.status_code == 200, resp.text
    signed = base64.b64decode(resp.json()["documentWithSignature"][0])
    path = env.work / "citizen.pdf"
    path.write_bytes(signed)
    sigs, text = judges.pdfsig(path, env.nss)
    assert len(sigs) == 1 and sigs[0].valid and sigs[0].type == "ETSI.CAdES.detached", text


def test_confirmation_for_other_hashes_gives_no_sad(signing_env: SigningEnv) -> None:
    env = signing_env
    _, cred, browser, key = _citizen(env)
    token = _agency_token(env)
    shown = [hashlib.sha256(b"shown").digest()]
    swapped = [hashlib.sha256(b"swapped").digest()]
    first = _authorize(env, token, cred.id, shown)
    assert _confirm(env, browser, key, first.json()["confirmation_url"]).status_code == 200
    resp = _authorize(env, token, cred.id, swapped)
    assert resp.status_code == 202 and "SAD" not in resp.json()
    # A confirmed page cannot be confirmed twice.
    from tests.signing.test_sign_page import attr, post_json

    path = first.json()["confirmation_url"].removeprefix(env.op.base)
    page = browser.go(path + "?lang=en")
    assert page.status_code == 200 and "data-options-url" not in page.text
    csrf = attr(browser.go("/account?lang=en").text, "data-csrf")
    assert post_json(browser, path + "/options", {}, csrf).status_code == 404


def test_another_person_cannot_open_the_page(signing_env: SigningEnv) -> None:
    env = signing_env
    _, cred, _browser, _key = _citizen(env)
    token = _agency_token(env)
    first = _authorize(env, token, cred.id, [hashlib.sha256(b"x").digest()])
    url = first.json()["confirmation_url"]
    stranger = Browser(env.op.base)
    stranger.go("/account/login")
    stranger.submit("/login", persona="malee")
    assert stranger.go("/account?lang=en").status_code == 200
    page = stranger.http.get(url + "?lang=en", timeout=30)
    assert page.status_code == 404
    assert "Land Department" not in page.text
