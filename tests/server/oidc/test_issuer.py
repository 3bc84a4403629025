"""Configuration of trusted issuers (issue 11): what would weaken it is refused at start-up,
from the Python API and from ``CLEANEXIT_*`` alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cleanexit.errors import ConfigurationError
from cleanexit.runtime import build_runtime
from cleanexit.server.guard import Guard, ProviderGuard
from cleanexit.server.oidc import TrustedIssuer
from cleanexit.settings import Settings

OP = "https://id.example.com/"
SECRET = "s" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"


def issuer(**overrides: Any) -> TrustedIssuer:
    return TrustedIssuer(**{"issuer": OP, "audience": "orders-api", **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"algorithms": ["none"]}, "not none"),
        ({"algorithms": ["HS256"]}, "HMAC would verify with a public value"),
        ({"algorithms": []}, "algorithms must be among"),
        ({"algorithms": ["RS256", "RS512"]}, "not RS512"),
        ({"issuer": ""}, "issuer must be 1 to 256 printable characters"),
        ({"issuer": "https://op\x1f.example"}, "printable"),
        ({"issuer": "not-a-url"}, "keys are discovered from it"),
        ({"audience": ""}, "audience"),
        ({"jwks_uri": "ftp://id.example.com/jwks"}, "jwks_uri must be an http(s) URL"),
        ({"typ": "logout+jwt"}, "access-token type"),
        ({"max_token_lifetime": 86401}, "max_token_lifetime"),
        ({"client_id": ""}, "client_id"),
        ({"logout_max_age": 0}, "logout_max_age"),
    ],
)
def test_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match="trusted issuer") as refused:
        issuer(**overrides)
    assert message in refused.value.description


def test_a_non_url_issuer_needs_a_jwks_uri() -> None:
    named = issuer(issuer="orders-auth", jwks_uri="https://auth.internal/jwks.json")
    assert named.algorithms == ("RS256",)


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "CLEANEXIT_ISSUERS",
        json.dumps(
            [
                {
                    "issuer": OP,
                    "audience": "orders-api",
                    "algorithms": ["ES256"],
                    "typ": "at+jwt",
                    "client_id": "orders-web",
                }
            ]
        ),
    )
    settings = Settings(data_dir=tmp_path, secret=SECRET)
    assert settings.issuers == (
        issuer(algorithms=("ES256",), typ="at+jwt", client_id="orders-web"),
    )
    assert settings.accepted() == (True, True)
    monkeypatch.setenv("CLEANEXIT_ISSUERS", json.dumps([{"issuer": OP, "audience": "x",
                                                         "algorithms": ["HS256"]}]))  # fmt: skip
    with pytest.raises(ConfigurationError, match="HMAC"):
        Settings(data_dir=tmp_path, secret=SECRET)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"issuers": [issuer(), issuer()]}, "listed twice"),
        ({"issuers": [issuer(issuer="https://me.example")], "issuer": "https://me.example"},
         "cleanexit's own issuer"),
        ({"accept": "external"}, "needs CLEANEXIT_ISSUERS"),
    ],
)  # fmt: skip
def test_settings_refuse(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings(**overrides)


def test_production_wants_https() -> None:
    with pytest.raises(ConfigurationError, match="is not https"):
        Settings(production=True, issuers=[issuer(issuer="http://id.example.com")])
    Settings(production=True, issuers=[issuer()])


def test_an_id_token_could_pass_for_an_access_token_is_said_out_loud() -> None:
    same = Settings(issuers=[issuer(audience="orders-web", client_id="orders-web")])
    assert any("ID tokens" in w for w in same.warnings())
    typed = Settings(issuers=[issuer(audience="orders-web", client_id="orders-web", typ="at+jwt")])
    assert not typed.warnings()


@pytest.mark.parametrize(
    ("accept", "guard", "own", "external"),
    [(None, ProviderGuard, True, True), ("both", ProviderGuard, True, True),
     ("external", ProviderGuard, False, True), ("own", Guard, True, False)],
)  # fmt: skip
def test_wiring(
    tmp_path: Path, accept: str | None, guard: type[Guard], own: bool, external: bool
) -> None:
    settings = Settings(data_dir=tmp_path, secret=SECRET, issuers=[issuer()], accept=accept)
    runtime = build_runtime(settings)
    assert type(runtime.guard) is guard
    assert settings.accepted() == (own, external)
    assert runtime.providers is not None  # revocation and back-channel logout work in any case


def test_without_issuers_the_hot_path_is_the_plain_guard(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path, secret=SECRET))
    assert type(runtime.guard) is Guard and runtime.providers is None
