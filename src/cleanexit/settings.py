"""Configuration from flags and ``CLEANEXIT_*`` environment variables.

This is the only module that reads the environment; the core takes explicit arguments.

Settings that would quietly weaken the service are refused here, at construction, so no way
of wiring an app can start with them (issue 9, finding 7): production mode refuses a refresh
cookie without ``Secure``, demo users and weak introspection secrets. The errors are
``ConfigurationError``\\s, never pydantic's, whose text would quote the raw input (secrets).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._secret import Secret, weakness
from .errors import ConfigurationError
from .server.oidc.issuer import TrustedIssuer

__all__ = ["Settings"]

MIN_CLIENT_SECRET = 32  # characters; with the alphabet check, about 128 bits at least
_GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEANEXIT_", extra="ignore", frozen=True)

    data_dir: Path = Path(".cleanexit")
    secret: SecretStr | None = None
    # Comma-separated; each verifies for access_ttl + leeway after the first start that lists
    # it, then is ignored (keystore.load_key_ring).
    previous_secrets: SecretStr | None = None
    algorithm: Literal["HS256", "EdDSA", "ES256"] = "HS256"
    issuer: str = "cleanexit"
    audience: str = "cleanexit-api"
    access_ttl: int = Field(default=600, ge=1, le=86400)
    refresh_idle_ttl: int = Field(default=14 * 86400, ge=10)
    refresh_absolute_ttl: int = Field(default=30 * 86400, ge=10)
    refresh_grace: float = Field(default=5.0, ge=0, le=60)
    leeway: int = Field(default=0, ge=0, le=300)
    store_url: str | None = None  # default: sqlite://<data_dir>/cleanexit.db
    redis_mode: Literal["replica", "strict"] = "replica"
    redis_cluster: bool = False  # Redis Cluster: two-step announcements (docs/redis.md)
    # PostgreSQL store (docs/postgres.md): its tables' schema, the pool size per process, and
    # a direct (session) URL for LISTEN when the store URL goes through PgBouncer.
    postgres_schema: str = Field(default="cleanexit", pattern=r"^[a-z_][a-z0-9_]{0,39}$")
    postgres_pool_size: int = Field(default=10, ge=1, le=1000)
    postgres_listen_url: str | None = None
    stale_after: float = Field(default=1.0, gt=0)
    fail_open: bool = False
    production: bool = False
    require_durable_redis: bool | None = None  # default: on in production
    clear_site_data: str = '"cache", "cookies", "storage"'
    introspection_clients: SecretStr | None = None  # "id:secret,id2:secret2"
    # The refresh cookie's Secure flag. Unset: Secure. Only `cleanexit serve` on a loopback
    # host outside production turns it off by default (from its own --host, never a request).
    cookie_secure: bool | None = None
    docs: bool | None = None  # /docs and /openapi.json; unset: on, except in production
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    prune_interval: float = Field(default=60.0, gt=0)
    demo: bool = False  # demo users exist only while this is on (`cleanexit serve --demo`)
    # A built single-page app served at / instead of the demo page (issue 14).
    web_dir: Path | None = None
    # Comma-separated exact origins allowed to call the API with credentials (CORS); no `*`.
    cors_origins: str = ""
    # Resource-server mode (issue 11): trusted external issuers, a JSON list in
    # CLEANEXIT_ISSUERS ('[{"issuer": "https://id.example.com/", "audience": "orders-api"}]').
    issuers: tuple[TrustedIssuer, ...] = ()
    # Whose access tokens protected routes accept. Unset: our own, plus the issuers' if any.
    accept: Literal["own", "external", "both"] | None = None

    # -- operations (issue 15): audit trail, metrics, proxies, login throttling ----------------
    # stdout | stderr | logger | off | a file path. Unset: the `cleanexit.audit` logger (your
    # logging configuration routes it); `cleanexit serve` makes it stdout.
    audit_log: str = "logger"
    metrics: bool = False  # /metrics: needs metrics_address or metrics_token
    metrics_address: str | None = None  # "127.0.0.1:9464": its own listener
    metrics_token: SecretStr | None = None  # Bearer token for /metrics on the API's port
    trusted_proxies: str = ""  # addresses/networks whose X-Forwarded-For is believed
    login_throttle: bool = True
    login_free_attempts: int = Field(default=5, ge=1, le=1000)  # per username
    login_address_free_attempts: int = Field(default=50, ge=1, le=1_000_000)  # per address
    login_backoff: float = Field(default=1.0, gt=0, le=3600)  # first back-off, doubled
    login_backoff_max: float = Field(default=900.0, gt=0, le=86400)
    login_forget_after: float = Field(default=3600.0, gt=0, le=30 * 86400)

    @model_validator(mode="after")
    def _refuse_weakening(self) -> Settings:
        # ConfigurationError is not a ValueError: pydantic lets it through unwrapped.
        self.introspection_credentials()  # malformed entries are an error in any mode
        self.cors_origin_list()
        self._check_issuers()
        self._check_operations()
        if self.production:
            problems = self._production_problems()
            if problems:
                raise ConfigurationError(
                    "refused in production mode (CLEANEXIT_PRODUCTION=1): " + "; ".join(problems)
                )
        return self

    def _production_problems(self) -> list[str]:
        problems = []
        if self.cookie_secure is False:
            problems.append(
                "CLEANEXIT_COOKIE_SECURE=false would send the refresh cookie over plain http; "
                "serve https (a TLS-terminating proxy is fine) and leave it unset"
            )
        if self.demo:
            problems.append("demo users (--demo) have a published password")
        problems.extend(self._weak_clients())
        problems.extend(
            f"CLEANEXIT_ISSUERS: {url!r} is not https (its keys could be swapped in transit)"
            for issuer in self.issuers
            for url in issuer.insecure_urls()
        )
        problems.extend(self._production_operations())
        return problems

    def _check_issuers(self) -> None:
        names = [issuer.issuer for issuer in self.issuers]
        if len(set(names)) != len(names):
            raise ConfigurationError("CLEANEXIT_ISSUERS: an issuer is listed twice")
        if self.issuer in names:
            raise ConfigurationError(
                f"CLEANEXIT_ISSUERS: {self.issuer!r} is cleanexit's own issuer (CLEANEXIT_ISSUER)"
            )
        if self.accept == "external" and not self.issuers:
            raise ConfigurationError("CLEANEXIT_ACCEPT=external needs CLEANEXIT_ISSUERS")

    def accepted(self) -> tuple[bool, bool]:
        """Whether protected routes accept (our own tokens, external issuers' tokens)."""
        accept = self.accept or ("both" if self.issuers else "own")
        return accept != "external", accept != "own" and bool(self.issuers)

    def _weak_clients(self) -> list[str]:
        return [
            f"CLEANEXIT_INTROSPECTION_CLIENTS: the secret of client {client!r} is weak "
            f"({reason}); {_GENERATE}"
            for client, secret in self.introspection_credentials().items()
            if (reason := weakness(secret, min_chars=MIN_CLIENT_SECRET)) is not None
        ]

    def warnings(self) -> list[str]:
        """What is allowed outside production but weakens the service: say it loudly."""
        found = self._weak_clients()
        if self.production and self.docs:
            found.append("CLEANEXIT_DOCS=true: /docs and /openapi.json are public")
        found.extend(
            f"CLEANEXIT_ISSUERS: {i.issuer!r} has audience = client_id and no typ: its ID "
            "tokens (same aud) would pass for access tokens; set typ (e.g. at+jwt)"
            for i in self.issuers
            if i.audience == i.client_id and i.typ is None
        )
        if self.production and not self.login_throttle:
            found.append("CLEANEXIT_LOGIN_THROTTLE=false: nothing slows down password guessing")
        found.extend(self._weak_metrics_token())
        return found

    def signing_secret(self) -> Secret | None:
        return Secret(self.secret.get_secret_value()) if self.secret is not None else None

    def previous_signing_secrets(self) -> tuple[Secret, ...]:
        raw = self.previous_secrets.get_secret_value() if self.previous_secrets else ""
        return tuple(Secret(part.strip()) for part in raw.split(",") if part.strip())

    def store_url_resolved(self) -> str:
        return self.store_url or f"sqlite://{self.data_dir / 'cleanexit.db'}"

    def refresh_cookie_secure(self) -> bool:
        return self.cookie_secure is not False

    def docs_enabled(self) -> bool:
        return self.docs if self.docs is not None else not self.production

    def cors_origin_list(self) -> tuple[str, ...]:
        """Exact ``scheme://host[:port]`` origins; ``*``, paths and junk are an error."""
        origins = tuple(part.strip() for part in self.cors_origins.split(",") if part.strip())
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ConfigurationError(
                    f"CLEANEXIT_CORS_ORIGINS: {origin!r} is not an exact origin like "
                    "https://app.example.com (no '*', no path: credentials go to it)"
                )
        return origins

    def introspection_credentials(self) -> dict[str, str]:
        """``{client_id: secret}``; a malformed entry is an error, never silently dropped."""
        if self.introspection_clients is None:
            return {}
        clients: dict[str, str] = {}
        entries = self.introspection_clients.get_secret_value().split(",")
        for number, entry in enumerate(entries, start=1):
            if not entry.strip():
                continue
            client, sep, secret = (part.strip() for part in entry.partition(":"))
            if not sep or not client or not secret or client in clients:
                # Entries are named by position: their text may hold a secret.
                raise ConfigurationError(
                    f"CLEANEXIT_INTROSPECTION_CLIENTS: entry {number} is not a new 'id:secret'"
                )
            clients[client] = secret
        return clients

    # -- operations (issue 15) -------------------------------------------------------------
    def _check_operations(self) -> None:
        from .server.client_ip import parse_networks

        parse_networks(self.trusted_proxies)
        self.metrics_listen()
        if self.metrics and self.metrics_address is None and self.metrics_token is None:
            raise ConfigurationError(
                "CLEANEXIT_METRICS=true needs CLEANEXIT_METRICS_ADDRESS (a listener of its own, "
                "e.g. 127.0.0.1:9464) or CLEANEXIT_METRICS_TOKEN (a Bearer token for /metrics "
                "on the API's port): metrics are not for the public"
            )
        if self.login_backoff > self.login_backoff_max:
            raise ConfigurationError(
                "CLEANEXIT_LOGIN_BACKOFF is more than CLEANEXIT_LOGIN_BACKOFF_MAX"
            )

    def _production_operations(self) -> list[str]:
        problems = []
        if self.require_durable_redis is False:
            problems.append(
                "CLEANEXIT_REQUIRE_DURABLE_REDIS=false: a Redis that keeps nothing on disk "
                "forgets every revocation when it restarts"
            )
        if self.metrics_token is not None and (
            reason := weakness(self.metrics_token.get_secret_value(), min_chars=MIN_CLIENT_SECRET)
        ):
            problems.append(f"CLEANEXIT_METRICS_TOKEN is weak ({reason}); {_GENERATE}")
        return problems

    def _weak_metrics_token(self) -> list[str]:
        if self.production or self.metrics_token is None:
            return []
        reason = weakness(self.metrics_token.get_secret_value(), min_chars=MIN_CLIENT_SECRET)
        return [f"CLEANEXIT_METRICS_TOKEN is weak ({reason})"] if reason else []

    def metrics_listen(self) -> tuple[str, int] | None:
        """``(host, port)`` of the metrics listener, or ``None`` (``[::1]:9464`` for IPv6)."""
        if self.metrics_address is None:
            return None
        host, _, port = self.metrics_address.strip().rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                "CLEANEXIT_METRICS_ADDRESS: expected host:port, e.g. 127.0.0.1:9464"
            )
        return host, int(port)

    def metrics_multiprocess_dir(self) -> str | None:
        """prometheus-client's multiprocess directory (``cleanexit serve --workers N`` sets
        it; any other multi-process server must set it, empty, before starting)."""
        return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
