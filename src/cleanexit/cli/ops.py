"""Operating commands (issue 15): ``keys list | retire`` beside ``keys rotate | prune``, the
rolling-restart runbook ``keys rotate`` prints, and ``config show`` (secrets masked)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import SecretStr

from ..errors import ConfigurationError
from .target import DataDir, existing_data_dir, load_settings, redact, server_imports

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["config_app", "register", "rotation_runbook"]

config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
EXIT_NOTHING_DONE = 1


def rotation_runbook(settings: Settings, new_key: Path, *, now: float) -> list[str]:
    """What to do after ``keys rotate``: the fleet picks a key up when each instance starts."""
    window = settings.access_ttl + settings.leeway
    until = _when(now + window)
    return [
        f"the previous key verifies until {until} ({window} s: ACCESS_TTL + LEEWAY), then retires",
        "every instance signs with the newest key it loaded at start; to roll the fleet:",
        f"  1. give {new_key.name} to every instance (the same {new_key.parent} folder everywhere)",
        "  2. restart the instances one at a time (a worker drains, the next one starts) —",
        f"     all of them before {until}: past it, the tokens an instance not yet restarted",
        "     still signs with the previous key are refused elsewhere (clients refresh)",
        "  3. check: GET /.well-known/jwks.json lists both keys until then;",
        f"     `cleanexit keys list` shows which verifies until when; after {until},",
        "     `cleanexit keys prune` deletes the retired file",
    ]


def keys_list(data_dir: DataDir = None) -> None:
    """Each signing key: its kid, whether it signs, and until when a retired one verifies."""
    settings = load_settings(data_dir)
    existing_data_dir(settings)
    now = dt.datetime.now(dt.UTC).timestamp()
    window = settings.access_ttl + settings.leeway
    rows = _hs256_rows(settings, now) if settings.algorithm == "HS256" else _file_rows(settings)
    typer.echo(f"{settings.algorithm} signing keys (data dir {settings.data_dir}):")
    for kid, status, where in rows:
        if isinstance(status, float):
            ends = status + window
            state = f"retired {_when(status)}, verifies until {_when(ends)}"
            if ends <= now:
                state = f"retired {_when(status)}, no longer verifies"
        else:
            state = status
        typer.echo(f"  {kid}  {state}  ({where})")


def _file_rows(settings: Settings) -> list[tuple[str, str | float, str]]:
    with server_imports():
        from ..server.keys import key_from_pem
        from ..server.keystore import key_files
    files = key_files(settings.data_dir, settings.algorithm)
    if not files:
        return [("(none)", "the server creates one at its first start", "keys/")]
    rows: list[tuple[str, str | float, str]] = []
    for i, (path, _) in enumerate(files):
        kid = key_from_pem(path.read_bytes()).kid
        # Retired when its successor was created (the time in the successor's name).
        status: str | float = "active: signs new tokens" if i == 0 else files[i - 1][1]
        rows.append((kid, status, str(path)))
    return rows


def _hs256_rows(settings: Settings, now: float) -> list[tuple[str, str | float, str]]:
    with server_imports():
        from .._secret import Secret
        from ..server.keys import KeyRing
    active = settings.signing_secret()
    source = "CLEANEXIT_SECRET"
    stored = settings.data_dir / "secret"
    if active is None:
        if not stored.exists():
            return [("(none)", "the server generates DATA_DIR/secret at its first start", "")]
        active, source = Secret(stored.read_text().strip()), str(stored)
    ring = KeyRing.from_secrets(active, *settings.previous_signing_secrets())
    rows: list[tuple[str, str | float, str]] = [(ring.active.kid, "active: signs", source)]
    for key in ring.retired:
        record = settings.data_dir / "retired" / key.kid
        status: str | float = "listed, not yet retired (the next start records it)"
        if record.exists():
            status = float(record.read_text())
        rows.append((key.kid, status, "CLEANEXIT_PREVIOUS_SECRETS"))
    return rows


def keys_retire(
    kid: Annotated[str, typer.Argument(help="The kid of a retired key (see `keys list`).")],
    data_dir: DataDir = None,
) -> None:
    """Stop a retired key from verifying at the next start (a key that leaked): its file goes.

    The active key cannot be retired this way: `keys rotate` first."""
    settings = load_settings(data_dir)
    existing_data_dir(settings)
    if settings.algorithm == "HS256":
        raise ConfigurationError(
            "HS256: remove the secret from CLEANEXIT_PREVIOUS_SECRETS and restart every "
            "instance; to replace the active one, set CLEANEXIT_SECRET to a new secret (the old "
            "one in CLEANEXIT_PREVIOUS_SECRETS only if its tokens must keep working)"
        )
    rows = _file_rows(settings)
    found = [(i, where) for i, (key, _, where) in enumerate(rows) if key == kid]
    if not found:
        typer.echo(
            f"cleanexit: no {settings.algorithm} key {kid!r} in {settings.data_dir}", err=True
        )
        raise typer.Exit(EXIT_NOTHING_DONE)
    index, where = found[0]
    if index == 0:
        raise ConfigurationError(
            f"{kid} is the active signing key: `cleanexit keys rotate` first, then retire it"
        )
    Path(where).unlink()
    typer.echo(f"deleted {where}: key {kid} stops verifying when each instance restarts")
    typer.echo("restart every instance now; tokens it signed are refused from then on")


@config_app.command("show")
def config_show(data_dir: DataDir = None) -> None:
    """Every CLEANEXIT_* setting as this machine's environment makes it: secrets masked,
    credentials left out of URLs; `(default)` marks what nothing set."""
    settings = load_settings(data_dir)
    chosen = settings.model_fields_set
    for name in type(settings).model_fields:
        value = _shown(name, getattr(settings, name), settings)
        mark = "" if name in chosen else "  (default)"
        typer.echo(f"CLEANEXIT_{name.upper()}={value}{mark}")


def _shown(name: str, value: Any, settings: Settings) -> str:
    if isinstance(value, SecretStr):
        if name == "introspection_clients":
            clients = ", ".join(settings.introspection_credentials())
            return f"*** (clients: {clients}; secrets masked)"
        return "*** (set)"
    if name == "store_url":
        return redact(settings.store_url_resolved()) + ("" if value else "  (from DATA_DIR)")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    keys_app.command("list")(keys_list)
    keys_app.command("retire")(keys_retire)
    app.add_typer(config_app, name="config")
