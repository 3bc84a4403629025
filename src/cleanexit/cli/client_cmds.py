"""The terminal client: ``login``, ``whoami``, ``sessions``, ``logout``, built on the SDK.

Each command says what it did. ``logout`` exits with (issue 9):

* ``0``: the server ended the session (or had already ended it) and nothing is left locally;
* ``3``: nothing is left locally, but the server did not confirm that the session ended
  (unreachable, timed out, an error, or it did not recognise the credentials);
* ``4``: something could not be removed locally (listed in the output);
* ``1``: any other error; ``2``: wrong usage.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from cleanexit.client import (
    Client,
    ClientError,
    LogoutResult,
    Outbox,
    Scope,
    StaticKey,
    default_state_dir,
    open_state,
)
from cleanexit.errors import InvalidCredentialsError

__all__ = [
    "EXIT_LEFT_BEHIND",
    "EXIT_NOT_CONFIRMED",
    "KeyFile",
    "StateDir",
    "logout_exit_code",
    "register",
    "sessions",
]

EXIT_NOT_CONFIRMED = 3
EXIT_LEFT_BEHIND = 4

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="CLEANEXIT_CLIENT_DIR",
        help="Where the encrypted client state lives (default: ~/.local/share/cleanexit-client)",
        show_default=False,
    ),
]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        envvar="CLEANEXIT_CLIENT_KEY_FILE",
        help="Key file used when no OS keyring is usable (default: STATE_DIR/keys/state.key)",
        show_default=False,
    ),
]


def register(app: typer.Typer, *, sessions_group: typer.Typer | None = None) -> None:
    """Add the terminal-client commands to ``app``; a bare ``sessions`` is routed here when
    the ``sessions`` command is a group shared with the admin view (``sessions_group``)."""
    app.command("login", help="Log in to a cleanexit server and keep the session (encrypted).")(
        login
    )
    app.command("whoami", help="Show who the saved session belongs to (asks the server).")(whoami)
    app.command("logout", help="Log out: revoke on the server, then purge local state.")(logout)
    if sessions_group is not None:
        sessions_group.callback(invoke_without_command=True)(_sessions_or_admin)


def _sessions_or_admin(
    ctx: typer.Context, state_dir: StateDir = None, key_file: KeyFile = None
) -> None:
    """Your sessions on the server; `sessions list --user NAME` is the admin view."""
    if ctx.invoked_subcommand is None:
        sessions(state_dir, key_file)


@contextlib.contextmanager
def _client(
    state_dir: Path | None, key_file: Path | None, *, timeout: float = 3.0
) -> Iterator[Client]:
    """A client on the state directory; reports unreadable state, flushes the outbox."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state_file, outbox = open_state(
            state_dir or default_state_dir(),
            key_file=key_file,
            env_key=os.environ.get("CLEANEXIT_CLIENT_KEY") or None,
        )
        client = Client(state_file=state_file, outbox=outbox, logout_timeout=timeout)
    for warning in caught:
        _err(f"warning: {warning.message}")
    try:
        _flush(client, outbox)
        yield client
    except InvalidCredentialsError:
        _fail("login failed: wrong username or password")
    except ClientError as exc:
        _fail(f"error: {exc.description}")
    finally:
        client.close()


def _flush(client: Client, outbox: Outbox) -> None:
    if not outbox.path.exists():
        return
    report = client.flush_outbox()
    done = report.confirmed + report.dropped
    if done or report.pending:
        typer.echo(
            f"revocation outbox: {report.confirmed} confirmed, {report.dropped} no longer "
            f"valid, {report.pending} still pending"
        )


def login(
    server: Annotated[str, typer.Option("--server", help="Server URL, e.g. http://127.0.0.1:8000")],
    username: Annotated[str, typer.Option("--username", "-u", prompt=True)],
    state_dir: StateDir = None,
    key_file: KeyFile = None,
) -> None:
    password = _read_password()
    with _client(state_dir, key_file) as client:
        if client.state.authenticated:
            typer.echo(
                "ending the previous session first: " + client.logout(queue=False).describe()
            )
        state = client.login(username, password, server_url=server.rstrip("/"))
        where = client.state_file.path if client.state_file else "memory only"
        key = client.state_file.key.description if client.state_file else "-"
        typer.echo(f"logged in to {server} as {state.user} (session {state.session_id})")
        typer.echo(f"state saved encrypted in {where} (key: {key})")


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True))
    return sys.stdin.readline().rstrip("\r\n")


def whoami(state_dir: StateDir = None, key_file: KeyFile = None) -> None:
    with _client(state_dir, key_file) as client:
        me = client.me()
        state = client.state
        left = int(float(me.get("exp", 0)) - time.time())
        typer.echo(f"{me.get('sub')} on {state.server_url}")
        typer.echo(f"session {me.get('session_id')}; access token expires in {max(left, 0)} s")


def sessions(state_dir: StateDir = None, key_file: KeyFile = None) -> None:
    from rich.console import Console
    from rich.table import Table

    with _client(state_dir, key_file) as client:
        rows = client.sessions()
        table = Table("session", "created", "last seen", "user agent", "ip", "")
        for row in rows:
            table.add_row(
                str(row.get("session_id")),
                _when(row.get("created_at")),
                _when(row.get("last_seen")),
                str(row.get("user_agent") or ""),
                str(row.get("ip") or ""),
                "← this one" if row.get("current") else "",
            )
        Console().print(table)


def _when(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def logout(
    all_sessions: Annotated[
        bool, typer.Option("--all", help="End every session of the user (log out everywhere).")
    ] = False,
    others: Annotated[
        bool, typer.Option("--others", help="End every other session; keep this one.")
    ] = False,
    retry_later: Annotated[
        bool,
        typer.Option(
            "--retry-later",
            help="If the server cannot confirm, keep the refresh token (encrypted) and retry "
            "revocation on the next command.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 3.0,
    state_dir: StateDir = None,
    key_file: KeyFile = None,
) -> None:
    if all_sessions and others:
        _fail("--all and --others exclude each other", code=2)
    scope: Scope = "all" if all_sessions else "others" if others else "current"
    with _client(state_dir, key_file, timeout=timeout) as client:
        result = client.logout(scope, queue=retry_later)
        where = _where(client, result)
    _report(result, where)


def logout_exit_code(result: LogoutResult) -> int:
    """0 only when the server says the session is over and nothing is left locally."""
    if result.left_behind:
        return EXIT_LEFT_BEHIND
    if result.noop:
        return 0
    if result.scope == "others":
        return 0 if result.server_confirmed else EXIT_NOT_CONFIRMED
    return 0 if result.server.session_over else EXIT_NOT_CONFIRMED


def _where(client: Client, result: LogoutResult) -> list[str]:
    """Where each part of the logout happened: the server, the state file, its key."""
    lines: list[str] = []
    if result.noop and not result.left_behind:
        return lines
    s = result.server
    if s.attempted:
        answer = f"HTTP {s.status}" if s.status is not None else s.error or "no answer"
        lines.append(f"  server: {result.server_url} ({answer})")
    state_file = client.state_file
    if state_file is not None and result.scope != "others":
        gone = str(state_file.path) not in result.left_behind
        lines.append(f"  state:  {state_file.path} ({'removed' if gone else 'NOT removed'})")
        lines.append(f"  key:    {state_file.key.description} ({_key_fate(result, client)})")
    return lines


def _key_fate(result: LogoutResult, client: Client) -> str:
    if result.key_shredded:
        return "shredded: older copies of the state can no longer be decrypted"
    key = client.state_file.key if client.state_file else None
    if key is not None and key.description in result.left_behind:
        return "NOT shredded"
    if isinstance(key, StaticKey):
        return "kept: supplied from outside, not this client's to delete"
    return "kept: the revocation outbox still needs it"


def _report(result: LogoutResult, where: list[str]) -> None:
    if result.noop:
        typer.echo("not logged in; nothing to purge")
    else:
        typer.echo(result.describe())
    for line in where:
        typer.echo(line)
    code = logout_exit_code(result)
    if code == EXIT_LEFT_BEHIND:
        _fail("something was left behind locally; remove it by hand", code=code)
    if code == EXIT_NOT_CONFIRMED:
        hint = result.server.retryable and not result.queued_for_retry and result.scope != "others"
        _fail(
            "the server did not confirm that the session ended: it may stay usable on the "
            "server until its tokens expire" + (" (--retry-later keeps retrying)" if hint else ""),
            code=code,
        )


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, *, code: int = 1) -> None:
    _err(message)
    raise typer.Exit(code)
