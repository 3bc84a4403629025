"""What a server-side command acts on: its settings, data directory and store, checked before
anything is touched (issue 10: admin commands that cannot silently miss).

This module imports nothing of the server at import time, so the ``cleanexit`` command starts
in a client-only install; the server's modules are imported by ``server_imports()``, which
turns a missing one into a one-line install hint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "SERVER_HINT",
    "DataDir",
    "StoreUrl",
    "describe",
    "existing_data_dir",
    "existing_store",
    "load_settings",
    "redact",
    "server_imports",
]

SERVER_HINT = "pip install 'cleanexit[server]'"
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CLEANEXIT_DATA_DIR",
        help="Where keys, users and SQLite live (default: ./.cleanexit)",
        show_default=False,
    ),
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store-url",
        envvar="CLEANEXIT_STORE_URL",
        help="sqlite:///path.db, redis://host:6379/0 or postgresql://user@host/db "
        "(default: sqlite://DATA_DIR/cleanexit.db)",
        show_default=False,
    ),
]
_SECRET_PARAMS = ("pass", "secret", "token", "key", "auth")


@contextlib.contextmanager
def server_imports() -> Iterator[None]:
    """Wrap the imports of server modules: a missing dependency becomes an install hint."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"this command needs the server: {SERVER_HINT} (missing module {exc.name!r})"
        ) from None


def load_settings(data_dir: Path | None = None, store_url: str | None = None) -> Settings:
    """``Settings`` from the flags and the environment, with an absolute data directory, or a
    ``ConfigurationError`` that names each bad variable without quoting it (pydantic's own
    text quotes the raw input, secrets included)."""
    with server_imports():
        from pydantic import ValidationError
        from pydantic_settings import SettingsError

        from ..settings import Settings
    given = {"data_dir": data_dir, "store_url": store_url}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
    except SettingsError as exc:  # a JSON variable (CLEANEXIT_ISSUERS) that is not JSON
        field = str(exc).split('"')[1] if '"' in str(exc) else "a variable"
        raise ConfigurationError(
            f"invalid configuration: CLEANEXIT_{field.upper()} is not valid JSON"
        ) from None
    except ValidationError as exc:
        where = "; ".join(
            f"CLEANEXIT_{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {where}") from None
    return settings.model_copy(update={"data_dir": settings.data_dir.resolve()})


def existing_data_dir(settings: Settings) -> Path:
    """The data directory, which must exist: only ``serve`` and ``users add`` create one."""
    path = settings.data_dir
    if not path.exists():
        raise ConfigurationError(
            f"data directory {path} does not exist (give --data-dir or CLEANEXIT_DATA_DIR; "
            "`cleanexit serve` and `cleanexit users add` create it)"
        )
    if not path.is_dir():
        raise ConfigurationError(f"data directory {path} is not a directory")
    return path


def existing_store(settings: Settings) -> str:
    """The store URL (redacted) of a command that reads or changes the store: an SQLite file
    must exist and ``memory://`` is refused, since either would be a fresh, empty store that
    no server reads."""
    existing_data_dir(settings)
    url = settings.store_url_resolved()
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        raise ConfigurationError(
            "memory:// lives inside one server process: no other command can reach it"
        )
    if scheme == "sqlite":
        with server_imports():
            from ..server.stores import sqlite_path
        path = sqlite_path(url)
        if not path.is_file():
            raise ConfigurationError(
                f"no cleanexit database at {path} (is --data-dir or --store-url right? "
                "`cleanexit serve` creates it at its first start)"
            )
    return redact(url)


def describe(settings: Settings) -> str:
    """``<store URL without credentials> (data dir <path>)``: what a command acted on."""
    return f"{redact(settings.store_url_resolved())} (data dir {settings.data_dir})"


def redact(url: str) -> str:
    """``url`` without its credentials: the user-info and secret-looking query values.
    Plain string work, so even a malformed URL is shown (never raises)."""
    scheme, sep, rest = url.partition("://")
    rest = rest.partition("#")[0]
    head, qmark, query = rest.partition("?")
    authority, slash, path = head.partition("/")
    if "@" in authority:  # the last "@" ends the user-info, even if a password holds one
        authority = "***@" + authority.rpartition("@")[2]
    pairs = [_redact_pair(pair) for pair in query.split("&")] if query else []
    return f"{scheme}{sep}{authority}{slash}{path}{qmark}{'&'.join(pairs)}"


def _redact_pair(pair: str) -> str:
    name, eq, _ = pair.partition("=")
    secret = any(word in name.lower() for word in _SECRET_PARAMS)
    return f"{name}{eq}***" if secret and eq else pair
