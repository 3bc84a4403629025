"""The typer application. Server commands live here and in ``admin``; the terminal client's
commands are registered from ``client_cmds``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CleanexitError
from ..server.users import DEMO_PASSWORD, DEMO_USERS, SqliteUsers
from ..settings import Settings
from . import admin

__all__ = ["app"]

app = typer.Typer(
    name="cleanexit",
    help="Full session termination for JWT APIs: the server, its admin, and a terminal client.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="CLEANEXIT_DATA_DIR", help="Where keys and SQLite live."),
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@app.command()
def serve(
    data_dir: DataDir = Path(".cleanexit"),
    host: Annotated[str, typer.Option(envvar="CLEANEXIT_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CLEANEXIT_PORT")] = 8000,
    workers: Annotated[int, typer.Option(min=1, envvar="CLEANEXIT_WORKERS")] = 1,
    store_url: Annotated[str | None, typer.Option(envvar="CLEANEXIT_STORE_URL")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            envvar="CLEANEXIT_DEMO",
            help="Demo users alice and bob, for as long as the server runs with --demo.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(envvar="CLEANEXIT_LOG_LEVEL")] = "info",
) -> None:
    """Run the auth service (uvicorn) with the embedded SQLite store unless --store-url says."""
    import uvicorn

    data_dir = data_dir.resolve()
    # Workers read their settings from the environment: what the flags decide goes there.
    os.environ["CLEANEXIT_DATA_DIR"] = str(data_dir)
    os.environ["CLEANEXIT_DEMO"] = "true" if demo else "false"
    if store_url:
        os.environ["CLEANEXIT_STORE_URL"] = store_url
    settings = _settings()
    if settings.cookie_secure is None and not settings.production and host in LOOPBACK:
        # Plain http on this machine only: decided from --host, never from a request.
        os.environ["CLEANEXIT_COOKIE_SECURE"] = "false"
        settings = _settings()
    runtime = admin.preflight(settings)  # creates the secret once, before workers race for it
    echo = typer.echo
    echo(f"cleanexit serve: data dir {data_dir}")
    echo(f"  store      {_redact(settings.store_url_resolved())}")
    echo(f"  signing    {runtime.keys.algorithm} (kid {runtime.keys.active.kid})")
    if demo:
        _seed_demo(runtime.users, host)
    cookie = "Secure" if settings.refresh_cookie_secure() else "not Secure (loopback, http)"
    echo(f"  cookie     {cookie}; docs {'on' if settings.docs_enabled() else 'off'}")
    for warning in _warnings(settings, host=host):
        typer.secho(f"  WARNING: {warning}", fg="red", err=True)
    echo(f"  listening  http://{host}:{port}/  ({workers} worker{'s' * (workers > 1)})")
    uvicorn.run(
        "cleanexit.integrations.fastapi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        server_header=False,
    )


def _seed_demo(users: SqliteUsers, host: str) -> None:
    users.add_demo()
    typer.echo(f"  demo users {', '.join(DEMO_USERS)}, password: {DEMO_PASSWORD!r}")
    typer.echo("  (they are removed at the next start without --demo)")
    if host not in LOOPBACK:
        typer.secho("  WARNING: demo users with a public password on a non-loopback host", fg="red")


def _warnings(settings: Settings, *, host: str) -> list[str]:
    found = settings.warnings()
    if settings.cookie_secure is False and host not in LOOPBACK:
        found.append(f"CLEANEXIT_COOKIE_SECURE=false on {host}: the refresh cookie may leak")
    return found


def _settings() -> Settings:
    return admin.load_settings()


def _redact(url: str) -> str:
    """A store URL without credentials: the user info, and query parameters that carry a
    password (libpq's ``?password=``, ``sslpassword=``)."""
    scheme, sep, rest = url.partition("://")
    rest, qmark, query = rest.partition("?")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    if qmark:
        params = [
            f"{name}=***" if "password" in name.lower() else f"{name}{eq}{value}"
            for name, eq, value in (p.partition("=") for p in query.split("&"))
        ]
        query = "&".join(params)
    return scheme + sep + rest + qmark + query


admin.register(app)
try:
    import httpx  # noqa: F401 - the client extra
except ModuleNotFoundError:  # pragma: no cover - the client extra is not installed
    pass
else:
    from . import client_cmds

    client_cmds.register(app)

    @admin.sessions_app.callback(invoke_without_command=True)
    def sessions(
        ctx: typer.Context,
        state_dir: client_cmds.StateDir = None,
        key_file: client_cmds.KeyFile = None,
    ) -> None:
        """Your sessions on the server; `sessions list --user NAME` is the admin view."""
        if ctx.invoked_subcommand is None:
            client_cmds.sessions(state_dir, key_file)


def run() -> None:
    try:
        app(standalone_mode=True)
    except CleanexitError as exc:
        typer.secho(f"cleanexit: {exc.description}", fg="red", err=True)
        sys.exit(2)
