"""The configuration reference (issue 15): ``docs/configuration.md``, generated from ``Settings``.

Defaults, types and ranges come from the model itself; the meaning of each setting from
``MEANINGS`` below. ``python scripts/configuration_doc.py --check`` (run by ``make check``)
fails when the document differs from what the model says now, when a setting has no meaning
written here, or when the source names a ``CLEANEXIT_*`` variable the document does not list
— so the reference cannot go stale: a new setting is documented in the same change.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo

from .settings import Settings

__all__ = ["COMMAND_LINE", "MEANINGS", "mentioned_variables", "reference_markdown"]

MEANINGS: dict[str, str] = {
    "data_dir": "Keys, the SQLite store and the user table (directory 0700, files 0600).",
    "secret": "HS256 signing secret, at least 32 bytes. Unset: generated into `DATA_DIR/secret` "
    "(0600) at first start — refused in production, where every instance needs the same one.",
    "previous_secrets": "Comma-separated old HS256 secrets that still verify, each for "
    "`ACCESS_TTL` + `LEEWAY` after the first start that lists it (rotation).",
    "algorithm": "Signing algorithm, pinned: never taken from a token header. EdDSA/ES256 keys "
    "are files in `DATA_DIR/keys/` (`cleanexit keys rotate`).",
    "issuer": "`iss` issued and required.",
    "audience": "`aud` issued and required.",
    "access_ttl": "Access-token lifetime, seconds.",
    "refresh_idle_ttl": "A refresh token unused this long (seconds) expires.",
    "refresh_absolute_ttl": "No session lives longer than this (seconds), refreshed or not.",
    "refresh_grace": "Seconds a just-rotated refresh token counts as a race between tabs, "
    "not theft.",
    "leeway": "Clock leeway for `exp`/`iat`, seconds.",
    "store_url": "`sqlite:///abs/path.db`, `redis://host:6379/0` (or `rediss://`, `unix://`), "
    "`postgresql://user@host:5432/db`, `memory://`. Unset: `sqlite://DATA_DIR/cleanexit.db`.",
    "postgres_schema": "PostgreSQL: the schema holding cleanexit's tables.",
    "postgres_pool_size": "PostgreSQL: pooled connections per process.",
    "postgres_listen_url": "PostgreSQL: a direct URL for `LISTEN` when the store URL goes "
    "through PgBouncer (transaction pooling cannot listen). Unset: the store URL.",
    "redis_mode": "`replica`: tail the revocation stream into the in-process view (no I/O per "
    "request); `strict`: ask Redis on every request (zero propagation delay).",
    "redis_cluster": "The store is a Redis Cluster: two-step announcements (docs/redis.md).",
    "stale_after": "Redis and PostgreSQL: seconds an instance may answer from its view without "
    "a successful read of the store; then protected requests answer 503.",
    "fail_open": "Serve from a possibly stale view instead of 503 when the store cannot be "
    "reached. Weakens invariant 3; logged loudly.",
    "production": "Refuse what weakens a deployment: a non-`Secure` cookie, demo users, weak "
    "introspection or metrics secrets, a volatile Redis, generated signing keys; `/docs` off.",
    "require_durable_redis": "Refuse a Redis that keeps nothing on disk. Unset: on in "
    "production (where `false` is refused), off otherwise.",
    "clear_site_data": "`Clear-Site-Data` header sent on logout (empty: none).",
    "introspection_clients": "`id:secret,...` allowed to call RFC 7662 introspection (secrets "
    "of at least 32 characters and ~128 bits; weaker ones refused in production).",
    "cookie_secure": "The refresh cookie's `Secure` flag, from configuration only. Unset: "
    "`Secure` (`cleanexit serve` on a loopback `--host` outside production: not).",
    "docs": "`/docs` and `/openapi.json`. Unset: on, except in production.",
    "max_body_bytes": "Largest request body accepted under `/auth`.",
    "prune_interval": "Seconds between two prunings of what can no longer matter.",
    "demo": "Demo users alice / bob (published password) while on; removed with their "
    "sessions at the next start without it. Refused in production.",
    "web_dir": "A built single-page app served at `/` instead of the demo page.",
    "cors_origins": "Comma-separated exact origins allowed to call the API with credentials; "
    "`*` is refused.",
    "issuers": "Resource-server mode: trusted external OpenID Providers, a JSON list "
    '(`[{"issuer": "https://id.example.com/", "audience": "orders-api"}]`; docs/providers.md).',
    "accept": "Whose access tokens protected routes accept: `own`, `external` or `both`. "
    "Unset: our own, plus the issuers' when `ISSUERS` is set.",
    "audit_log": "Where the audit trail goes (one JSON line per security event): `stdout`, "
    "`stderr`, a file path (appended, 0600), `logger` (the `cleanexit.audit` logger, routed "
    "by your logging configuration) or `off`. Unset: `logger`; `cleanexit serve`: `stdout`.",
    "metrics": "Prometheus metrics. Needs `METRICS_ADDRESS` or `METRICS_TOKEN`.",
    "metrics_address": "`host:port` of a metrics listener of its own (e.g. `127.0.0.1:9464`).",
    "metrics_token": "Bearer token that `GET /metrics` on the API's port requires (at least "
    "32 characters in production). Unset: no `/metrics` route on the API's port.",
    "trusted_proxies": "Comma-separated addresses or networks of reverse proxies whose "
    "`X-Forwarded-For` is believed (client address of sessions, audit, throttling). Empty: "
    "the header is ignored.",
    "login_throttle": "Per-username and per-address login back-off, shared through the store.",
    "login_free_attempts": "Failed sign-ins per username before the back-off starts.",
    "login_address_free_attempts": "Failed sign-ins per client address (IPv6: per /64) "
    "before the back-off starts.",
    "login_backoff": "The first back-off, seconds; doubled at each further attempt.",
    "login_backoff_max": "The longest back-off, seconds.",
    "login_forget_after": "A username or address with no attempt for this long starts "
    "afresh, seconds.",
}

# Variables the command line reads (not part of Settings): name -> (default, meaning).
COMMAND_LINE: dict[str, tuple[str, str]] = {
    "CLEANEXIT_HOST": ("`127.0.0.1`", "`cleanexit serve --host`."),
    "CLEANEXIT_PORT": ("`8000`", "`cleanexit serve --port`."),
    "CLEANEXIT_WORKERS": ("`1`", "`cleanexit serve --workers`: uvicorn worker processes."),
    "CLEANEXIT_LOG_LEVEL": ("`info`", "`cleanexit serve --log-level`."),
    "CLEANEXIT_CLIENT_DIR": (
        "`~/.local/share/cleanexit-client`",
        "Terminal client: where its encrypted state lives.",
    ),
    "CLEANEXIT_CLIENT_KEY": ("—", "Terminal client: the state key, when no keyring is usable."),
    "CLEANEXIT_CLIENT_KEY_FILE": (
        "`STATE_DIR/keys/state.key`",
        "Terminal client: key file used when no OS keyring is usable.",
    ),
}
_VARIABLE = re.compile(r"CLEANEXIT_[A-Z][A-Z0-9_]*[A-Z0-9]")


def reference_markdown() -> str:
    fields = Settings.model_fields
    missing = sorted(set(fields) - set(MEANINGS))
    stale = sorted(set(MEANINGS) - set(fields))
    if missing or stale:
        raise ValueError(
            f"settings_reference.MEANINGS: no meaning for {missing}; no setting for {stale}"
        )
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings model (`src/cleanexit/settings.py`) by",
        "`python scripts/configuration_doc.py`; `make check` fails when it is out of date. Do",
        "not edit by hand. Every variable is read by the settings layer only; `cleanexit config",
        "show` prints the values in effect, secrets masked.",
        "",
        "| variable | default | type / range | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in fields.items():
        lines.append(
            f"| `CLEANEXIT_{name.upper()}` | {_default(field)} | {_kind(field)} | "
            f"{MEANINGS[name]} |"
        )
    lines += [
        "",
        "## Read by the command line",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | {d} | {m} |" for name, (d, m) in COMMAND_LINE.items()]
    lines += [
        "",
        "`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's own): with several worker processes, an",
        "empty directory they share for metrics; `cleanexit serve --workers N` makes and removes",
        "one itself.",
        "",
    ]
    return "\n".join(lines)


def mentioned_variables(files: Iterable[Path]) -> set[str]:
    """Every ``CLEANEXIT_*`` name the given source files mention."""
    return {m for path in files for m in _VARIABLE.findall(path.read_text(encoding="utf-8"))}


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value in ("", ()):
        return "empty"
    return f"`{value}`"


def _kind(field: FieldInfo) -> str:
    annotation: Any = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is not typing.Literal and len(args) == 1:
        annotation = args[0]  # X | None: X
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        return "JSON list"
    base = annotation
    name = {"SecretStr": "secret", "Path": "path", "str": "text"}.get(
        getattr(base, "__name__", str(base)), getattr(base, "__name__", str(base))
    )
    bounds = []
    for rule in field.metadata:
        for cls, attr, sign in ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<")):
            if isinstance(rule, cls):
                bounds.append(f"{sign} {getattr(rule, attr)}")
    return name + (f" ({', '.join(bounds)})" if bounds else "")
