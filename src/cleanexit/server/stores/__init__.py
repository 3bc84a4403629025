"""Revocation stores: one contract (``base.Store``), one module per backend."""

from __future__ import annotations

from .base import (
    Cursor,
    RefreshRecord,
    Rotation,
    RotationStatus,
    SecurityEvent,
    SessionRecord,
    Store,
    decide_rotation,
)
from .memory import MemoryStore

__all__ = [
    "Cursor",
    "MemoryStore",
    "RefreshRecord",
    "Rotation",
    "RotationStatus",
    "SecurityEvent",
    "SessionRecord",
    "Store",
    "decide_rotation",
    "open_store",
]


def open_store(url: str, **options: object) -> Store:
    """A store from a URL: ``memory://``, ``sqlite:///path/to/file.db``, ``redis://host:port/0``,
    ``postgresql://user@host:5432/dbname`` (or ``postgres://``)."""
    from ...errors import ConfigurationError

    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        # sqlite:///var/lib/x.db -> /var/lib/x.db ; sqlite://./x.db -> ./x.db
        return SqliteStore(url[len("sqlite://") :])
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .redis import RedisStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigurationError(
                "the Redis store needs redis-py: pip install 'cleanexit[redis]'"
            ) from exc
        return RedisStore(url, **options)  # type: ignore[arg-type]
    if scheme in ("postgresql", "postgres"):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigurationError(
                "the PostgreSQL store needs psycopg 3: pip install 'cleanexit[postgres]'"
            ) from exc
        return PostgresStore(url, **options)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"unknown store URL scheme {scheme!r} (memory, sqlite, redis, postgresql)"
    )
