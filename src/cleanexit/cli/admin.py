"""Administration: users, sessions, revocation ("log out everywhere"), pruning, key rotation.

None of these commands can silently miss (issue 10):

* only ``serve`` and ``users add`` may create the data directory (they set a service up);
  every other command refuses one that does not exist, and ``revoke``, ``sessions list`` and
  ``prune`` also refuse an SQLite database that does not exist and ``memory://``;
* each says which store and data directory it acted on (credentials left out);
* exit codes: ``0`` done (a listing that finds nothing and ``prune`` with nothing to prune are
  done); ``1`` it ran but recorded nothing of what was asked (``revoke`` that matched nothing,
  ``users add`` of an existing user); ``2`` it could not run (usage, configuration, data
  directory, store URL, unreachable store, server extra missing): one ``cleanexit: ...`` line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..errors import ConfigurationError, StoreError, StoreUnavailableError
from .target import (
    DataDir,
    StoreUrl,
    describe,
    existing_data_dir,
    existing_store,
    load_settings,
    server_imports,
)

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..server.oidc import ProviderRevocation
    from ..server.sessions import LogoutResult
    from ..server.users import SqliteUsers
    from ..settings import Settings

__all__ = [
    "EXIT_NOTHING_DONE",
    "external_report",
    "preflight",
    "register",
    "revoke_report",
    "sessions_app",
]

T = TypeVar("T")
EXIT_NOTHING_DONE = 1
users_app = typer.Typer(help="Manage the standalone service's users.", no_args_is_help=True)
sessions_app = typer.Typer(
    help="Your sessions on the server (terminal client); `sessions list --user` is the admin view."
)
keys_app = typer.Typer(help="Signing keys: list, rotate, retire, prune.", no_args_is_help=True)


def preflight(settings: Settings) -> Runtime:
    """Build everything once, so configuration errors stop the start with a clear message."""
    runtime = _runtime(settings)
    _run(runtime, lambda: runtime.store.ping())
    return runtime


def _runtime(settings: Settings) -> Runtime:
    with server_imports():
        from ..runtime import build_runtime
        from ..server.audit import configure_audit
    # Admin revocations join the audit trail when it is a file (issue 15); on a terminal the
    # command's own report is the record, and its output stays what scripts parse.
    if settings.audit_log.strip().lower() not in ("", "stdout", "stderr", "logger", "off"):
        configure_audit(settings.audit_log)
    return build_runtime(settings)


def _run(runtime: Runtime, work: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        await runtime.store.open()
        try:
            return await work()
        finally:
            await runtime.store.close()

    try:
        return asyncio.run(go())
    except StoreError as exc:  # which store could not be used, in the one line
        where = describe(runtime.settings)
        raise StoreUnavailableError(f"store {where} unavailable: {exc.description}") from None


def _store_command(data_dir: Path | None, store_url: str | None) -> tuple[Runtime, str]:
    """The runtime of a command that reads or changes the store, and where that store is."""
    settings = load_settings(data_dir, store_url)
    existing_store(settings)
    return _runtime(settings), describe(settings)


def _fail(message: str, *, code: int) -> None:
    typer.echo(f"cleanexit: {message}", err=True)
    raise typer.Exit(code)


def _user_table(settings: Settings) -> SqliteUsers:
    with server_imports():
        from ..server.users import SqliteUsers
    users: Any = getattr(_runtime(settings), "users", None)
    if not isinstance(users, SqliteUsers):  # an application that brings its own users
        raise ConfigurationError(
            "this service has no bundled user table: its application manages the users"
        )
    return users


@users_app.command("add")
def users_add(
    username: str,
    data_dir: DataDir = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Add a user (password from a prompt, or stdin with --password-stdin).

    Creates the data directory if needed (and says so): this is how a service is seeded."""
    settings = load_settings(data_dir)
    created = not settings.data_dir.exists()
    if not created:
        existing_data_dir(settings)  # a file in its place is an error
    users = _user_table(settings)
    if users.path.exists() and users.exists(username):
        _fail(f"user {username!r} already exists in {users.path}: nothing added", code=1)
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    users.add(username, password)
    typer.echo(f"added user {username!r} to {users.path}")
    if created:
        typer.echo(f"created data dir {settings.data_dir}")


@users_app.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List users, one per line (where they came from goes to stderr)."""
    settings = load_settings(data_dir)
    existing_data_dir(settings)
    users = _user_table(settings)
    if not users.path.exists():
        typer.echo(f"no user table in {settings.data_dir} yet (`users add` creates it)", err=True)
        return
    names = users.usernames()
    typer.echo(f"{len(names)} user(s) in {users.path}", err=True)
    for name in names:
        typer.echo(name)


@sessions_app.command("list")
def sessions_list(
    user: Annotated[str, typer.Option("--user", help="The user (sub).")],
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """List a user's active sessions (where they came from goes to stderr)."""
    runtime, where = _store_command(data_dir, store_url)
    now = dt.datetime.now(dt.UTC).timestamp()
    sessions = _run(runtime, lambda: runtime.store.list_sessions(user, now=now))
    typer.echo(f"active sessions of {user!r} in {where}: {len(sessions)}", err=True)
    if not sessions:
        typer.echo(f"no active sessions for {user!r}")
    for s in sessions:
        seen = _when(s.last_seen)
        typer.echo(f"{s.sid}  last seen {seen}  {s.ip}  {s.user_agent[:60]}")


def revoke(
    user: Annotated[
        str | None, typer.Option("--user", help="Log this user out everywhere.")
    ] = None,
    session: Annotated[str | None, typer.Option("--session", help="End one session.")] = None,
    issuer: Annotated[
        str | None,
        typer.Option(
            "--issuer",
            help="A trusted external issuer (CLEANEXIT_ISSUERS), with one of --sub, --sid, "
            "--jti: revoke tokens it issued.",
        ),
    ] = None,
    sub: Annotated[
        str | None, typer.Option("--sub", help="With --issuer: every token of this user.")
    ] = None,
    sid: Annotated[
        str | None, typer.Option("--sid", help="With --issuer: every token of this session.")
    ] = None,
    jti: Annotated[str | None, typer.Option("--jti", help="With --issuer: this token.")] = None,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Revoke a user's every session (e.g. after a password change) or one session; or, with
    --issuer, tokens an external issuer gave out (--sub, --sid or --jti).

    Exits 1 when nothing was recorded: an unknown or already ended --session, or an --issuer
    entry that was already recorded. --user always records a cutoff (tokens issued to the user
    until now are refused), so it exits 0 even when no session was active, and says so."""
    external = {"--sub": sub, "--sid": sid, "--jti": jti}
    if issuer is not None or any(v is not None for v in external.values()):
        if user is not None or session is not None:
            raise typer.BadParameter("--user and --session are for cleanexit's own tokens")
        return _revoke_external(issuer, external, data_dir, store_url)
    if (user is None) == (session is None):
        raise typer.BadParameter("give exactly one of --user or --session (or --issuer ...)")
    runtime, where = _store_command(data_dir, store_url)
    service = runtime.service
    if user is not None:
        result = _run(runtime, lambda: service.revoke_user(user, reason="admin"))
        _warn_unknown_user(runtime, user, result)
    else:
        assert session is not None
        result = _run(runtime, lambda: service.revoke_session(session, reason="admin"))
    lines, problem = revoke_report(result, user=user, session=session, where=where)
    for line in lines:
        typer.echo(line)
    if problem:
        _fail(problem, code=EXIT_NOTHING_DONE)


def _revoke_external(
    issuer: str | None,
    targets: dict[str, str | None],
    data_dir: Path | None,
    store_url: str | None,
) -> None:
    given = [(flag, value) for flag, value in targets.items() if value is not None]
    if issuer is None or len(given) != 1:
        raise typer.BadParameter("--issuer goes with exactly one of --sub, --sid or --jti")
    ((flag, value),) = given
    assert value is not None
    runtime, where = _store_command(data_dir, store_url)
    if issuer == runtime.settings.issuer:
        raise ConfigurationError(
            f"{issuer!r} is cleanexit's own issuer: use --user or --session for its tokens"
        )
    providers = runtime.providers
    if providers is None:
        raise ConfigurationError(
            "no trusted external issuer is configured (CLEANEXIT_ISSUERS): "
            "there is nothing of theirs to revoke"
        )
    act = {"--sub": providers.revoke_user, "--sid": providers.revoke_session,
           "--jti": providers.revoke_token}[flag]  # fmt: skip
    providers.issuer(issuer)  # an unknown issuer is a usage error, before the store is opened
    result = _run(runtime, lambda: act(issuer, value))
    lines, problem = external_report(result, where=where)
    for line in lines:
        typer.echo(line)
    if problem:
        _fail(problem, code=EXIT_NOTHING_DONE)


def external_report(result: ProviderRevocation, *, where: str) -> tuple[list[str], str | None]:
    """What ``revoke --issuer`` recorded, and the failure line when it was there already."""
    what = {
        "user": f"every token issued to {result.value!r} before {_when(result.cutoff or 0)}",
        "session": f"every token of session {result.value!r}",
        "token": f"the token with jti {result.value!r}",
    }[result.kind]
    if not result.recorded:
        return [], f"nothing revoked in {where}: {what} of {result.issuer!r} was revoked already"
    lines = [
        f"revoked {what} of {result.issuer!r} in {where}",
        f"  refused on every instance until {_when(result.until)} (its longest token lifetime)",
    ]
    return lines, None


def revoke_report(
    result: LogoutResult, *, user: str | None, session: str | None, where: str
) -> tuple[list[str], str | None]:
    """What ``revoke`` recorded, as lines for stdout, and the failure line when it recorded
    nothing (exit 1)."""
    ended = list(result.sessions)
    cutoff = result.user_cutoff
    if not ended and cutoff is None:
        missed = (
            f"no active session {session!r}"
            if session is not None
            else f"no session of {user!r} ended and no cutoff was recorded"
        )
        return [], f"nothing revoked in {where}: {missed}"
    if session is not None:
        return [f"revoked session {session} in {where}"], None
    lines = [f"logged {user!r} out everywhere in {where}"]
    lines.append(
        f"  sessions ended: {len(ended)} ({', '.join(ended)})"
        if ended
        else "  sessions ended: 0 (none was active)"
    )
    if cutoff is not None:
        lines.append(f"  cutoff set: tokens issued to {user!r} before {_when(cutoff)} are refused")
    else:
        lines.append("  cutoff: NOT set (tokens of sessions not listed above stay valid)")
    return lines, None


def _warn_unknown_user(runtime: Runtime, user: str, result: LogoutResult) -> None:
    """A typo ends no session and sets a harmless cutoff: say that the name is unknown."""
    users: Any = getattr(runtime, "users", None)
    path = getattr(users, "path", None)
    if result.sessions or not isinstance(path, Path) or not path.exists():
        return
    if not users.exists(user):
        typer.echo(f"cleanexit: warning: {user!r} is not a user in {path}", err=True)


def prune(data_dir: DataDir = None, store_url: StoreUrl = None) -> None:
    """Delete revocations, refresh tokens and sessions that can no longer matter."""
    runtime, where = _store_command(data_dir, store_url)
    now = dt.datetime.now(dt.UTC).timestamp()
    gone = _run(runtime, lambda: runtime.store.prune(now=now))
    typer.echo(f"pruned {gone} row(s) from {where}")


@keys_app.command("rotate")
def keys_rotate(data_dir: DataDir = None) -> None:
    """Add a new signing key; the previous one verifies for one access-token lifetime more.

    Restart the server (every instance) to sign with the new key."""
    settings = _asymmetric(data_dir)
    with server_imports():
        from ..server.keystore import key_files, rotate_signing_key
    from .ops import rotation_runbook

    path = rotate_signing_key(settings.data_dir, algorithm=settings.algorithm)
    typer.echo(f"new {settings.algorithm} signing key: {path} (data dir {settings.data_dir})")
    if len(key_files(settings.data_dir, settings.algorithm)) == 1:
        typer.echo("it is the first one: give the keys folder to every instance, then start them")
        return
    for line in rotation_runbook(settings, path, now=dt.datetime.now(dt.UTC).timestamp()):
        typer.echo(line)


@keys_app.command("prune")
def keys_prune(data_dir: DataDir = None) -> None:
    """Delete the files of retired keys that no longer verify anything."""
    settings = _asymmetric(data_dir)
    with server_imports():
        from ..server.keystore import expired_key_files
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
    typer.echo(f"{len(expired)} retired key file(s) deleted (data dir {settings.data_dir})")


def _asymmetric(data_dir: Path | None) -> Settings:
    settings = load_settings(data_dir)
    existing_data_dir(settings)
    if settings.algorithm == "HS256":
        raise ConfigurationError(
            "signing keys are files with CLEANEXIT_ALGORITHM=EdDSA or ES256; HS256 rotates by "
            "setting CLEANEXIT_SECRET to the new secret and CLEANEXIT_PREVIOUS_SECRETS to the "
            "old one (it verifies for one access-token lifetime after the first start that "
            "lists it)"
        )
    return settings


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(keys_app, name="keys")
    app.command()(revoke)
    app.command()(prune)
    from .ops import register as register_ops

    register_ops(app, keys_app)  # keys list | retire, config show (issue 15)
