"""Settings from the environment, and production mode refusing demo defaults."""

from __future__ import annotations

import pytest

from idp.settings import DEMO_SECRET_KEY, Settings, UnsafeSettingsError, check

GOOD = {
    "IDP_PRODUCTION": "1",
    "IDP_ISSUER": "https://id.example.go.th",
    "IDP_DATABASE_URL": "postgresql://idp@db/idp",
    "IDP_REDIS_URL": "redis://cache:6379/0",
    "IDP_SECRET_KEY": "k" * 48,
    "IDP_SANDBOX": "0",
    "IDP_SUBJECT_KEY": "s" * 48,
    "IDP_KEK_FILE": "/etc/idp/kek",
}


def test_defaults_are_the_embedded_demo() -> None:
    s = Settings.from_env({})
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/idp.db")
    assert s.redis_url is None
    assert s.sandbox is True
    assert s.production is False
    assert s.secret_key == DEMO_SECRET_KEY
    assert check(s) is s  # demo mode starts with demo defaults


def test_environment_is_read() -> None:
    s = Settings.from_env(GOOD | {"IDP_ISSUER": "https://id.example.go.th/"})
    assert s.issuer == "https://id.example.go.th"
    assert s.redis_url == "redis://cache:6379/0"
    assert s.sandbox is False and s.production is True
    assert check(s) is s


@pytest.mark.parametrize(("change", "reason"), [
    ({"IDP_SECRET_KEY": ""}, "IDP_SECRET_KEY"),
    ({"IDP_SECRET_KEY": "short"}, "IDP_SECRET_KEY"),
    ({"IDP_SANDBOX": "1"}, "IDP_SANDBOX"),
    ({"IDP_ISSUER": "http://id.example.go.th"}, "https"),
    ({"IDP_DATABASE_URL": ""}, "SQLite"),
    ({"IDP_REDIS_URL": ""}, "IDP_REDIS_URL"),
    ({"IDP_SUBJECT_KEY": ""}, "IDP_SUBJECT_KEY"),
    ({"IDP_KEK_FILE": ""}, "IDP_KEK_FILE"),
    ({"IDP_KEY_BACKEND": "paper"}, "IDP_KEY_BACKEND"),
])
def test_production_refuses_each_demo_default(change: dict[str, str], reason: str) -> None:
    with pytest.raises(UnsafeSettingsError) as err:
        check(Settings.from_env(GOOD | change))
    assert reason in str(err.value)
    assert "k" * 48 not in str(err.value)


def test_production_allows_http_only_for_localhost() -> None:
    s = Settings.from_env(GOOD | {"IDP_ISSUER": "http://localhost:8080"})
    assert "https" not in " ".join(s.production_problems())


def test_cli_refuses_to_serve_with_demo_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from idp.cli import main

    result = CliRunner().invoke(main, ["serve"], env={"IDP_PRODUCTION": "1"})
    assert result.exit_code == 2
    assert "refusing to start in production mode" in result.output


def test_a_malformed_number_is_a_clear_error() -> None:
    from idp.settings import SettingsError

    with pytest.raises(SettingsError, match="IDP_CODE_TTL must be a whole number"):
        Settings.from_env({"IDP_CODE_TTL": "sixty"})


def test_subject_key_is_separate_from_the_secret_key(settings: Settings) -> None:
    """Rotating the cookie secret must not change the subjects agencies know people by."""
    from dataclasses import replace

    from idp.db import Client
    from idp.provider import build_provider

    client = Client(client_id="a", redirect_uris=["https://a.go.th/cb"], subject_type="pairwise")
    keyed = replace(settings, subject_key="s" * 48)
    before = build_provider(keyed).subject(client, "p")
    after = build_provider(replace(keyed, secret_key="z" * 48)).subject(client, "p")
    assert before == after
    unkeyed = build_provider(settings).subject(client, "p")
    assert unkeyed != before


def test_init_with_the_wrong_kek_is_one_clear_line(database_url: str) -> None:
    from click.testing import CliRunner

    from idp.cli import main

    env = {"IDP_DATABASE_URL": database_url, "IDP_KEK": "a" * 64}
    assert CliRunner().invoke(main, ["init"], env=env).exit_code == 0
    result = CliRunner().invoke(main, ["init"], env=dict(env, IDP_KEK="b" * 64))
    assert result.exit_code == 2
    assert "error: signing key" in result.output and "IDP_KEK" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_key_backend_is_refused_in_demo_mode_too(database_url: str) -> None:
    from click.testing import CliRunner

    from idp.cli import main

    result = CliRunner().invoke(main, ["init"], env={"IDP_DATABASE_URL": database_url,
                                                     "IDP_KEY_BACKEND": "pkcs-11"})
    assert result.exit_code == 2
    assert "error: IDP_KEY_BACKEND must be 'software' or 'pkcs11'" in result.output
