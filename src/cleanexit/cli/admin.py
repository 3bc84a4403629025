"""Administration: users, sessions, revocation ("log out everywhere"), pruning, key rotation."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from ..errors import ConfigurationError
from ..runtime import Runtime, build_runtime
from ..server.keystore import expired_key_files, rotate_signing_key
from ..settings import Settings

__all__ = ["load_settings", "preflight", "register", "sessions_app"]

T = TypeVar("T")
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="CLEANEXIT_DATA_DIR", help="Where keys and SQLite live."),
]
users_app = typer.Typer(help="Manage the standalone service's users.", no_args_is_help=True)
sessions_app = typer.Typer(
    help="Your sessions on the server (terminal client); `sessions list --user` is the admin view."
)
keys_app = typer.Typer(help="Signing keys (EdDSA / ES256 rotation).", no_args_is_help=True)


def preflight(settings: Settings) -> Runtime:
    """Build everything once, so configuration errors stop the start with a clear message."""
    runtime = build_runtime(settings)
    _run(runtime, lambda: runtime.store.ping())
    return runtime


def load_settings(data_dir: Path | None = None) -> Settings:
    """``Settings`` from the environment, or a ``ConfigurationError`` that names each bad
    variable without quoting it (pydantic's own text quotes the raw input, secrets included)."""
    try:
        return Settings(data_dir=data_dir) if data_dir else Settings()
    except ValidationError as exc:
        where = "; ".join(
            f"CLEANEXIT_{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {where}") from None


def _run(runtime: Runtime, work: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        await runtime.store.open()
        try:
            return await work()
        finally:
            await runtime.store.close()

    return asyncio.run(go())


@users_app.command("add")
def users_add(
    username: str,
    data_dir: DataDir = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Add a user (password from a prompt, or stdin with --password-stdin)."""
    runtime = build_runtime(load_settings(data_dir))
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    runtime.bundled_users().add(username, password)
    typer.echo(f"added user {username!r} to {runtime.bundled_users().path}")


@users_app.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List users."""
    for name in build_runtime(load_settings(data_dir)).bundled_users().usernames():
        typer.echo(name)


@sessions_app.command("list")
def sessions_list(
    user: Annotated[str, typer.Option("--user", help="The user (sub).")],
    data_dir: DataDir = None,
) -> None:
    """List a user's active sessions."""
    runtime = build_runtime(load_settings(data_dir))
    now = dt.datetime.now(dt.UTC).timestamp()
    sessions = _run(runtime, lambda: runtime.store.list_sessions(user, now=now))
    if not sessions:
        typer.echo(f"no active sessions for {user!r}")
    for s in sessions:
        seen = dt.datetime.fromtimestamp(s.last_seen, dt.UTC).isoformat(timespec="seconds")
        typer.echo(f"{s.sid}  last seen {seen}  {s.ip}  {s.user_agent[:60]}")


def revoke(
    user: Annotated[
        str | None, typer.Option("--user", help="Log this user out everywhere.")
    ] = None,
    session: Annotated[str | None, typer.Option("--session", help="End one session.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke a user's every session (e.g. after a password change) or one session."""
    if (user is None) == (session is None):
        raise typer.BadParameter("give exactly one of --user or --session")
    runtime = build_runtime(load_settings(data_dir))
    service = runtime.service
    if user is not None:
        result = _run(runtime, lambda: service.revoke_user(user, reason="admin"))
        typer.echo(
            f"revoked {len(result.sessions)} session(s) of {user!r}; "
            f"tokens issued before the cutoff are refused everywhere"
        )
    else:
        assert session is not None
        result = _run(runtime, lambda: service.revoke_session(session, reason="admin"))
        if not result.sessions:
            typer.secho(f"no active session {session!r}: nothing revoked", fg="yellow")
            raise typer.Exit(1)
        typer.echo(f"revoked session {session}")


def prune(data_dir: DataDir = None) -> None:
    """Delete revocations, refresh tokens and sessions that can no longer matter."""
    runtime = build_runtime(load_settings(data_dir))
    now = dt.datetime.now(dt.UTC).timestamp()
    gone = _run(runtime, lambda: runtime.store.prune(now=now))
    typer.echo(f"pruned {gone} row(s) from {runtime.store!r}")


@keys_app.command("rotate")
def keys_rotate(data_dir: DataDir = None) -> None:
    """Add a new signing key; the previous one verifies for one access-token lifetime more.

    Restart the server (every instance) to sign with the new key."""
    settings = _asymmetric(data_dir)
    path = rotate_signing_key(settings.data_dir, algorithm=settings.algorithm)
    typer.echo(f"new {settings.algorithm} signing key: {path}")
    lifetime = settings.access_ttl + settings.leeway
    typer.echo(f"the previous key verifies for {lifetime} s more, then retires; restart to use it")


@keys_app.command("prune")
def keys_prune(data_dir: DataDir = None) -> None:
    """Delete the files of retired keys that no longer verify anything."""
    settings = _asymmetric(data_dir)
    now = dt.datetime.now(dt.UTC).timestamp()
    expired = expired_key_files(
        settings.data_dir,
        algorithm=settings.algorithm,
        retire_after=settings.access_ttl + settings.leeway,
        now=now,
    )
    for path in expired:
        path.unlink()
        typer.echo(f"deleted retired key {path}")
    typer.echo(f"{len(expired)} retired key file(s) deleted")


def _asymmetric(data_dir: Path | None) -> Settings:
    settings = load_settings(data_dir)
    if settings.algorithm == "HS256":
        raise typer.BadParameter(
            "HS256 rotates by setting CLEANEXIT_SECRET to the new secret and "
            "CLEANEXIT_PREVIOUS_SECRETS to the old one (it verifies for one access-token "
            "lifetime after the first start that lists it)"
        )
    return settings


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(keys_app, name="keys")
    app.command()(revoke)
    app.command()(prune)
