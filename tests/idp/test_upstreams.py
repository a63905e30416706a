"""IDP_UPSTREAMS_FILE: read once at start (a broken file stops the start and lists every
problem, never a secret), and `idp upstreams list | check` for operators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from idp.app import create_app
from idp.cli import main
from idp.settings import Settings, SettingsError
from idp.upstreams import UpstreamsFileError, load_configs
from tests.conftest import TEST_KEK
from tests.support.wsgi import serve_wsgi

SECRET = "s3cr3t-value-that-must-never-be-printed"


def provider(discovery_url: str, **changes: Any) -> dict[str, Any]:
    obj = {"name": "thaid", "display_name": {"th": "ไทยดี", "en": "ThaID"},
           "discovery_url": discovery_url, "client_id": "our-idp", "client_secret": SECRET,
           "scopes": ["openid", "pid", "ial"], "claims": {"pid": "th_citizen_id"},
           "aal": "2.2"}
    obj.update(changes)
    return obj


def write(path: Path, data: Any) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_no_file_no_upstreams() -> None:
    assert load_configs(Settings()) == []


def test_a_broken_file_lists_every_problem_without_the_secret(tmp_path: Path) -> None:
    path = write(tmp_path / "up.json", [provider("https://thaid.example/.well-known/"
                                                 "openid-configuration", aal="9", scopes=[]),
                                        provider("ftp://x", name="dga")])
    with pytest.raises(UpstreamsFileError) as info:
        load_configs(replace(Settings(), upstreams_file=path))
    message = str(info.value)
    assert message.startswith(f"IDP_UPSTREAMS_FILE {path} cannot be used:")
    assert '"aal"' in message and '"scopes"' in message and "dga" in message
    assert SECRET not in message
    assert isinstance(info.value, SettingsError)


@pytest.mark.parametrize(("content", "expected"), [
    ("[", "not valid JSON"),
    ("x" * (300 * 1024), "larger than 256 KiB"),
])
def test_unreadable_files(tmp_path: Path, content: str, expected: str) -> None:
    path = write(tmp_path / "up.json", content)
    with pytest.raises(UpstreamsFileError, match=expected):
        load_configs(replace(Settings(), upstreams_file=path))
    with pytest.raises(UpstreamsFileError, match="cannot be read"):
        load_configs(replace(Settings(), upstreams_file=str(tmp_path / "missing.json")))


def test_the_app_refuses_to_start_with_a_broken_file(settings: Settings, tmp_path: Path
                                                     ) -> None:
    path = write(tmp_path / "up.json", [provider("https://thaid.example/oidc")])
    with pytest.raises(UpstreamsFileError, match='give "issuer" too'):
        create_app(replace(settings, upstreams_file=path))


def test_the_app_loads_the_upstreams(settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "up.json", [provider("https://thaid.example/.well-known/"
                                                 "openid-configuration")])
    app = create_app(replace(settings, upstreams_file=path))
    assert [c.name for c in app.extensions["idp_upstreams"].configs()] == ["thaid"]


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def discovery() -> Iterator[str]:
    """A stand-in provider publishing discovery and a JWKS."""
    base = {"url": ""}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = Request(environ).path
        issuer = base["url"]
        if path == "/.well-known/openid-configuration":
            body: Any = {"issuer": issuer, "authorization_endpoint": f"{issuer}/auth",
                         "token_endpoint": f"{issuer}/token", "jwks_uri": f"{issuer}/jwks",
                         "userinfo_endpoint": f"{issuer}/me",
                         "id_token_signing_alg_values_supported": ["RS256"]}
        elif path == "/jwks":
            body = {"keys": []}
        else:
            return Response("no", status=404)(environ, start_response)
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)

    server, url = serve_wsgi(app)
    base["url"] = url
    try:
        yield url
    finally:
        server.shutdown()


def run(args: list[str], upstreams_file: str, database_url: str) -> Any:
    env = {"IDP_UPSTREAMS_FILE": upstreams_file, "IDP_DATABASE_URL": database_url,
           "IDP_KEK": TEST_KEK, "IDP_ISSUER": "https://id.example.go.th"}
    return CliRunner().invoke(main, ["upstreams", *args], env=env)


def test_list_shows_providers_and_the_callback_but_no_secret(tmp_path: Path) -> None:
    path = write(tmp_path / "up.json", [provider("https://thaid.example/.well-known/"
                                                 "openid-configuration")])
    result = run(["list"], path, f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 0, result.output
    assert "https://id.example.go.th/federation/oidc/callback" in result.output
    assert "thaid\tThaID / ไทยดี\thttps://thaid.example" in result.output
    assert "AAL 2.2" in result.output
    assert SECRET not in result.output
    as_json = run(["list", "--json"], path, f"sqlite:///{tmp_path / 'x.db'}")
    [listed] = json.loads(as_json.output)
    assert listed["client_id"] == "our-idp" and "client_secret" not in listed
    assert SECRET not in as_json.output


def test_list_with_a_broken_file_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path / "up.json", [provider("https://thaid.example/x", aal="9")])
    result = run(["list"], path, f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 2
    assert "error: IDP_UPSTREAMS_FILE" in result.output and '"aal"' in result.output
    assert SECRET not in result.output


def test_check_reports_ok_and_problems_per_provider(tmp_path: Path, discovery: str) -> None:
    path = write(tmp_path / "up.json", [
        provider(f"{discovery}/.well-known/openid-configuration"),
        provider("http://127.0.0.1:9/.well-known/openid-configuration", name="down"),
        provider(f"{discovery}/.well-known/openid-configuration", name="mixup",
                 issuer="https://thaid.example")])
    result = run(["check"], path, f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"thaid: OK ({discovery})"
    assert lines[1].startswith("down: PROBLEM: the discovery document could not be reached")
    assert lines[2].startswith("mixup: PROBLEM:") and "issuer" in lines[2]
    assert SECRET not in result.output


def test_serve_with_a_broken_file_is_one_error_line(tmp_path: Path) -> None:
    path = write(tmp_path / "up.json", [provider("https://thaid.example/x")])
    env = {"IDP_UPSTREAMS_FILE": path, "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "IDP_KEK": TEST_KEK}
    result = CliRunner().invoke(main, ["serve", "--port", "0"], env=env)
    assert result.exit_code == 2, result.output
    assert "error: IDP_UPSTREAMS_FILE" in result.output and "Traceback" not in result.output
    assert SECRET not in result.output
