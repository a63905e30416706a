import json, requests
from tests.support.live import forms_of
def test_probe(op, browser):
    c = op.register()
    url, v = op.auth_url(c, ui_locales="en", login_hint="malee")
    r = browser.go(url)
    print(r.status_code, r.url, r.text[:60])
    print(forms_of(r.text)[0]["fields"])
    print(json.dumps(requests.get(op.base + "/jwks").json(), indent=1)[:1500])
    d = requests.get(op.base + "/.well-known/openid-configuration")
    print(d.headers["content-type"], d.json()["id_token_signing_alg_values_supported"], d.json()["acr_values_supported"][:3])
