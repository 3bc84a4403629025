"""Configuration from flags and ``CLEANEXIT_*`` environment variables.

This is the only module that reads the environment; the core takes explicit arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._secret import Secret

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEANEXIT_", extra="ignore", frozen=True)

    data_dir: Path = Path(".cleanexit")
    secret: SecretStr | None = None
    previous_secrets: SecretStr | None = None  # comma-separated, still verify (rotation)
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
    stale_after: float = Field(default=1.0, gt=0)
    fail_open: bool = False
    production: bool = False
    require_durable_redis: bool | None = None  # default: on in production
    clear_site_data: str = '"cache", "cookies", "storage"'
    introspection_clients: SecretStr | None = None  # "id:secret,id2:secret2"
    cookie_secure: bool | None = None  # default: Secure except on plain-http loopback
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    prune_interval: float = Field(default=60.0, gt=0)
    demo: bool = False

    def signing_secret(self) -> Secret | None:
        return Secret(self.secret.get_secret_value()) if self.secret is not None else None

    def previous_signing_secrets(self) -> tuple[Secret, ...]:
        raw = self.previous_secrets.get_secret_value() if self.previous_secrets else ""
        return tuple(Secret(part.strip()) for part in raw.split(",") if part.strip())

    def store_url_resolved(self) -> str:
        return self.store_url or f"sqlite://{self.data_dir / 'cleanexit.db'}"

    def introspection_credentials(self) -> dict[str, str]:
        if self.introspection_clients is None:
            return {}
        pairs = (p.split(":", 1) for p in self.introspection_clients.get_secret_value().split(","))
        return {p[0].strip(): p[1].strip() for p in pairs if len(p) == 2 and p[0].strip()}
