"""Revocation stores: one contract (``base.Store``), one module per backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

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
    "sqlite_path",
]


def open_store(url: str, **options: object) -> Store:
    """A store from a URL: ``memory://``, ``sqlite:///path/to/file.db``, ``redis://host:port/0``,
    ``postgresql://user@host:5432/dbname`` (or ``postgres://``).

    A malformed URL is a ``ConfigurationError`` here, before any connection (issue 10): redis-py
    would fail at first use with a ``ValueError``, or quietly use database 0 for ``/1x``; a
    PostgreSQL URL is parsed by libpq's rules as the store is made."""
    from ...errors import ConfigurationError

    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(sqlite_path(url))
    if scheme in ("redis", "rediss", "unix"):
        _check_redis_url(url)
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


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite://`` URL: ``sqlite:///var/lib/x.db`` -> ``/var/lib/x.db``,
    ``sqlite://./x.db`` -> ``./x.db``."""
    from ...errors import ConfigurationError

    path = url[len("sqlite://") :]
    if not path or path.endswith("/"):
        raise ConfigurationError("malformed store URL: sqlite:// needs a file, sqlite:///path/x.db")
    return Path(path)


def _check_redis_url(url: str) -> None:
    # The messages never quote the URL: it may carry a password.
    from ...errors import ConfigurationError

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        raise ConfigurationError("malformed Redis URL: unreadable host or port") from None
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigurationError("malformed Redis URL: unix:// needs a socket path")
        return
    if not parts.hostname:
        raise ConfigurationError("malformed Redis URL: no host (redis://host:6379/0)")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ConfigurationError(
            "malformed Redis URL: the database is a number (redis://host:6379/0)"
        )
