"""Settings that would quietly weaken the service are refused, or said out loud (issue 9,
finding 7). The error text never quotes a secret."""

from __future__ import annotations

import secrets

import pytest

from cleanexit._secret import weakness
from cleanexit.errors import ConfigurationError
from cleanexit.settings import Settings

STRONG = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"cookie_secure": False}, "CLEANEXIT_COOKIE_SECURE=false"),
        ({"demo": True}, "demo users"),
        ({"introspection_clients": "rs:short-one"}, "client 'rs' is weak (shorter than 32"),
        (
            {"introspection_clients": f"ok:{STRONG},rs:{'0123456789' * 4}"},
            "client 'rs' is weak (a short pattern repeated)",
        ),
        (
            {"introspection_clients": "rs:" + "12345678901234567890123456789012"},
            "client 'rs' is weak (less than 128 bits",
        ),
    ],
)
def test_finding7_production_refuses_weakening_settings(
    overrides: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigurationError, match="refused in production mode") as caught:
        Settings(production=True, **overrides)  # type: ignore[arg-type]
    assert expected in caught.value.description
    secret = str(overrides.get("introspection_clients", "")).rpartition(":")[2]
    assert not secret or secret not in caught.value.description
    Settings(**overrides)  # type: ignore[arg-type]  # allowed outside production


def test_finding7_weak_client_secrets_are_warned_about_outside_production() -> None:
    settings = Settings(introspection_clients="rs:introspection-secret-for-tests")
    (warning,) = settings.warnings()
    assert "client 'rs' is weak" in warning and "introspection-secret" not in warning
    assert Settings(introspection_clients=f"rs:{STRONG}").warnings() == []


@pytest.mark.parametrize("clients", ["rs", "rs:", ":secret", f"rs:{STRONG},rs:{STRONG}x"])
def test_finding7_malformed_introspection_clients_are_an_error_in_any_mode(clients: str) -> None:
    """An entry without a secret used to become a client whose secret is "" (or vanish)."""
    with pytest.raises(ConfigurationError, match=r"entry \d is not a new 'id:secret'") as caught:
        Settings(introspection_clients=clients)
    assert STRONG not in caught.value.description


def test_introspection_clients_parse() -> None:
    settings = Settings(introspection_clients=f" a : {STRONG} ,, b:{STRONG}x ")
    assert settings.introspection_credentials() == {"a": STRONG, "b": STRONG + "x"}


def test_finding7_cookie_secure_comes_from_configuration() -> None:
    assert Settings().refresh_cookie_secure() is True  # unset: Secure
    assert Settings(cookie_secure=False).refresh_cookie_secure() is False
    assert Settings(production=True).refresh_cookie_secure() is True


def test_finding7_docs_off_in_production_unless_enabled() -> None:
    assert Settings().docs_enabled() is True
    assert Settings(docs=False).docs_enabled() is False
    assert Settings(production=True).docs_enabled() is False
    explicit = Settings(production=True, docs=True)
    assert explicit.docs_enabled() is True
    assert any("CLEANEXIT_DOCS=true" in w for w in explicit.warnings())


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANEXIT_COOKIE_SECURE", "false")
    monkeypatch.setenv("CLEANEXIT_DOCS", "false")
    monkeypatch.setenv("CLEANEXIT_PRODUCTION", "1")
    with pytest.raises(ConfigurationError, match="COOKIE_SECURE"):
        Settings()
    monkeypatch.delenv("CLEANEXIT_COOKIE_SECURE")
    assert Settings().docs_enabled() is False


@pytest.mark.parametrize(
    "value",
    [
        secrets.token_urlsafe(24),  # 32 characters of base64url
        secrets.token_hex(16),  # 32 hex digits: 128 bits
        secrets.token_urlsafe(48),
        "Zq3vX9sL0mT8rW2yB6nK4pD1fH7jC5gA",
    ],
)
def test_strong_secrets_pass(value: str) -> None:
    assert weakness(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "hunter2",
        "x" * 64,
        "abcdefghij" * 4,
        "9" * 16 + "0123456789012345",
        "01234567890123456789012345678901",  # digits: ~106 bits
    ],
)
def test_weak_secrets_are_named_without_quoting(value: str) -> None:
    reason = weakness(value)
    assert reason is not None and (not value or value not in reason)


# -- issue 15: operations --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"require_durable_redis": False}, "CLEANEXIT_REQUIRE_DURABLE_REDIS=false"),
        ({"metrics": True, "metrics_token": "tiny-t0ken"}, "CLEANEXIT_METRICS_TOKEN is weak"),
    ],
)
def test_production_refuses_operational_weakenings(
    overrides: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigurationError, match="refused in production mode") as caught:
        Settings(production=True, **overrides)  # type: ignore[arg-type]
    assert expected in caught.value.description and "tiny-t0ken" not in caught.value.description


def test_metrics_are_never_public_by_accident() -> None:
    with pytest.raises(ConfigurationError, match="CLEANEXIT_METRICS_ADDRESS"):
        Settings(metrics=True)
    assert Settings(metrics=True, metrics_address="127.0.0.1:9464").metrics_listen() == (
        "127.0.0.1",
        9464,
    )
    assert Settings(metrics_address="[::1]:9").metrics_listen() == ("::1", 9)
    with pytest.raises(ConfigurationError, match="host:port"):
        Settings(metrics_address="9464")


def test_trusted_proxies_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="CLEANEXIT_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8, nginx")
    with pytest.raises(ConfigurationError, match="CLEANEXIT_LOGIN_BACKOFF"):
        Settings(login_backoff=10, login_backoff_max=5)


def test_throttling_off_is_said_out_loud_in_production() -> None:
    assert any(
        "LOGIN_THROTTLE" in w for w in Settings(production=True, login_throttle=False).warnings()
    )
