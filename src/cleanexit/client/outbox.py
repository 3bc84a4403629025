"""Opt-in revocation outbox: logouts the server never confirmed, to retry later.

Only what a retry needs is kept: the server URL, the scope and the *refresh* token (the
access token expires on its own within minutes), encrypted like the state. An entry is
dropped once the server confirms, answers that the token is no longer valid, or the token
itself would have expired. When the last entry goes and no session is on disk, the shared key
is shredded too. See docs/client.md for the trade-off.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cleanexit._secret import Secret, fingerprint
from cleanexit.client.errors import KeyUnavailableError, PersistenceError
from cleanexit.client.persistence.envelope import open_sealed, seal
from cleanexit.client.persistence.files import (
    atomic_write,
    ensure_private_dir,
    locked,
    read_bytes,
    shred,
)
from cleanexit.client.persistence.keys import KeySource, shred_if_unused
from cleanexit.clock import Clock, system_clock

__all__ = ["DEFAULT_MAX_AGE", "Outbox", "OutboxEntry"]

logger = logging.getLogger("cleanexit.client")
DEFAULT_MAX_AGE = 30 * 24 * 3600.0
_PURPOSE = "revocation-outbox/v1"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    server_url: str
    refresh_token: Secret
    scope: str
    created_at: float
    expires_at: float
    attempts: int = 0

    @property
    def ident(self) -> str:
        return fingerprint(self.refresh_token.reveal())


class Outbox:
    def __init__(
        self,
        directory: Path,
        *,
        key: KeySource,
        clock: Clock = system_clock,
        name: str = "revocation-outbox",
    ) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.bin"
        self.key = key
        self.clock = clock

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def add(self, entry: OutboxEntry) -> None:
        ensure_private_dir(self.directory)
        with locked(self.directory):
            self._write([*self._read(), entry])

    def entries(self) -> list[OutboxEntry]:
        """Pending entries, expired ones left out."""
        if not self.directory.is_dir():
            return []
        with locked(self.directory):
            return [e for e in self._read() if e.expires_at > self.clock()]

    def settle(self, done: set[str], failed: set[str]) -> None:
        """Drop entries whose idents are in ``done``; count an attempt for ``failed``."""
        if not self.directory.is_dir():
            return
        with locked(self.directory):
            now = self.clock()
            kept = [
                replace(e, attempts=e.attempts + (e.ident in failed))
                for e in self._read()
                if e.ident not in done and e.expires_at > now
            ]
            self._write(kept)

    def clear(self) -> None:
        if self.directory.is_dir():
            with locked(self.directory):
                shred(self.path)
                self._shred_key()

    def _shred_key(self) -> None:
        """The last entry is gone: without a session on disk, the key has nothing to protect."""
        try:
            shred_if_unused(self.key, self.directory)
        except (OSError, PersistenceError):
            logger.exception("could not shred the key in %s", self.key.description)

    def _read(self) -> list[OutboxEntry]:
        try:
            blob = read_bytes(self.path)
            if blob is None:
                return []
            key = self.key.get_key(create=False)
            if key is None:
                raise KeyUnavailableError("no key for the outbox")
            return [_decode(item) for item in json.loads(open_sealed(key, blob, purpose=_PURPOSE))]
        except (ValueError, OSError, KeyError, TypeError, PersistenceError) as exc:
            logger.warning("discarding unreadable revocation outbox (%s)", type(exc).__name__)
            return []

    def _write(self, entries: list[OutboxEntry]) -> None:
        if not entries:
            shred(self.path)
            self._shred_key()
            return
        key = self.key.get_key(create=True)
        if key is None:
            raise KeyUnavailableError("no key for the outbox")
        data = json.dumps([_encode(e) for e in entries]).encode()
        atomic_write(self.path, seal(key, data, purpose=_PURPOSE))


def _encode(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "server_url": entry.server_url,
        "refresh_token": entry.refresh_token.reveal(),
        "scope": entry.scope,
        "created_at": entry.created_at,
        "expires_at": entry.expires_at,
        "attempts": entry.attempts,
    }


def _decode(item: dict[str, Any]) -> OutboxEntry:
    return OutboxEntry(
        server_url=str(item["server_url"]),
        refresh_token=Secret(str(item["refresh_token"])),
        scope=str(item["scope"]),
        created_at=float(item["created_at"]),
        expires_at=float(item["expires_at"]),
        attempts=int(item["attempts"]),
    )
