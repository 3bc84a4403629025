"""The typer application. Server commands live here and in ``admin``; the terminal client's
commands are registered from ``client_cmds``.

Importing this module imports nothing of the server (FastAPI, uvicorn, argon2, the stores):
a client-only install (``cleanexit[client]``) runs ``login``, ``whoami``, ``sessions`` and
``logout``, and the server commands answer with an install hint (``target.server_imports``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import CleanexitError, ConfigurationError
from . import admin
from .target import StoreUrl, load_settings, redact, server_imports

if TYPE_CHECKING:
    from ..server.users import SqliteUsers
    from ..settings import Settings

__all__ = ["app", "run"]

app = typer.Typer(
    name="cleanexit",
    help="Full session termination for JWT APIs: the server, its admin, and a terminal client.",
    epilog="login, whoami, sessions and logout need the client extra (cleanexit\\[client]); "
    "the other commands need the server extra (cleanexit\\[server]).",
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
    store_url: StoreUrl = None,
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
    """Run the auth service (uvicorn) with the embedded SQLite store unless --store-url says.

    Creates the data directory if it does not exist."""
    data_dir = data_dir.resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigurationError(f"data directory {data_dir} is not a directory")
    # Workers read their settings from the environment: what the flags decide goes there.
    os.environ["CLEANEXIT_DATA_DIR"] = str(data_dir)
    os.environ["CLEANEXIT_DEMO"] = "true" if demo else "false"
    if store_url:
        os.environ["CLEANEXIT_STORE_URL"] = store_url
    # The standalone server's audit trail goes to its output unless configured (issue 15);
    # an app that embeds cleanexit routes the `cleanexit.audit` logger itself.
    os.environ.setdefault("CLEANEXIT_AUDIT_LOG", "stdout")
    with _metrics_dir(workers):
        _serve(data_dir, host, port, workers, demo, log_level)


def _serve(data_dir: Path, host: str, port: int, workers: int, demo: bool, log_level: str) -> None:
    with server_imports():
        import uvicorn

    settings = _settings()
    behind_proxy = bool(settings.trusted_proxies.strip())
    if (
        settings.cookie_secure is None
        and not settings.production
        and host in LOOPBACK
        and not behind_proxy  # issue 15: behind a TLS proxy a loopback bind is still https
    ):
        # Plain http on this machine only: decided from --host, never from a request.
        os.environ["CLEANEXIT_COOKIE_SECURE"] = "false"
        settings = _settings()
    runtime = admin.preflight(settings)  # creates the secret once, before workers race for it
    echo = typer.echo
    echo(f"cleanexit serve: data dir {data_dir}")
    echo(f"  store      {redact(settings.store_url_resolved())}")
    echo(f"  signing    {runtime.keys.algorithm} (kid {runtime.keys.active.kid})")
    own, external = settings.accepted()
    for issuer in settings.issuers:  # issue 11: whose tokens are also accepted
        logout = (
            "back-channel logout to /auth/backchannel-logout"
            if issuer.client_id
            else ("no back-channel logout (no client_id)")
        )
        echo(
            f"  issuer     {issuer.issuer} ({'accepted' if external else 'not accepted'}; {logout})"
        )
    if not own:
        echo("  accepting  external issuers' tokens only (CLEANEXIT_ACCEPT=external)")
    if demo:
        _seed_demo(runtime.bundled_users(), host)
    cookie = "Secure" if settings.refresh_cookie_secure() else "not Secure (loopback, http)"
    if not settings.refresh_cookie_secure() and host in LOOPBACK:
        cookie += " — behind a TLS proxy set CLEANEXIT_TRUSTED_PROXIES (docs/deployment.md)"
    echo(f"  cookie     {cookie}; docs {'on' if settings.docs_enabled() else 'off'}")
    for warning in _warnings(settings, host=host):
        typer.secho(f"  WARNING: {warning}", fg="red", err=True)
    echo(f"  listening  http://{host}:{port}/  ({workers} worker{'s' * (workers > 1)})")
    if settings.metrics:
        where = settings.metrics_address or "/metrics on this port (CLEANEXIT_METRICS_TOKEN)"
        echo(f"  metrics    {where}")
    uvicorn.run(
        "cleanexit.integrations.fastapi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        server_header=False,
        # The client address comes from X-Forwarded-For only through CLEANEXIT_TRUSTED_PROXIES
        # (server.client_ip). uvicorn's own rewrite trusts 127.0.0.1 by default, which would
        # let any local process, or a proxy we were not told about, pick its address.
        proxy_headers=False,
    )


@contextlib.contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """Several workers with metrics on: a fresh prometheus-client multiprocess directory,
    shared by the workers (they inherit the variable) and removed when the server stops. One
    the operator set is used as it is (it must be emptied before each start)."""
    if workers < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR") or not _settings().metrics:
        yield
        return
    path = tempfile.mkdtemp(prefix="cleanexit-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)


def _seed_demo(users: SqliteUsers | None, host: str) -> None:
    from ..server.users import DEMO_PASSWORD, DEMO_USERS

    if users is None:  # pragma: no cover - the CLI's runtime always has its user table
        raise CleanexitError("--demo needs the bundled user table")
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
    return load_settings()


def _register_client(app: typer.Typer) -> None:
    try:
        from . import client_cmds
    except ModuleNotFoundError as exc:  # a server-only install: no httpx, keyring, anyio
        if (exc.name or "cleanexit").startswith("cleanexit"):
            raise
        _client_hints(app, str(exc.name))
        return
    client_cmds.register(app, sessions_group=admin.sessions_app)


def _client_hints(app: typer.Typer, missing: str) -> None:
    """The terminal client's commands, answering with an install hint."""

    def hint() -> None:
        raise CleanexitError(
            "the terminal client needs its extra: pip install 'cleanexit[client]' "
            f"(missing module {missing!r})"
        )

    anything = {"allow_extra_args": True, "ignore_unknown_options": True}
    for name in ("login", "whoami", "logout"):
        app.command(
            name, context_settings=anything, help="Needs the client extra (cleanexit\\[client])."
        )(hint)


admin.register(app)
_register_client(app)


def run() -> None:
    """Run the command; an error it expects (configuration, data directory, store) is one
    ``cleanexit: ...`` line on stderr and exit code 2, never a traceback."""
    try:
        app(standalone_mode=True)
    except CleanexitError as exc:
        typer.secho(f"cleanexit: {exc.description}", fg="red", err=True)
        sys.exit(2)
    except OSError as exc:  # the file system said no: a path, a permission, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        typer.secho(f"cleanexit: {exc.strerror or exc}{where}", fg="red", err=True)
        sys.exit(2)
