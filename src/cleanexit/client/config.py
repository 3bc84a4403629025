"""Where a client keeps its files, and which key protects them.

Layout under one state directory (each directory 0700)::

    <state_dir>/data/auth-state.bin           the encrypted state (purge removes it)
    <state_dir>/data/revocation-outbox.bin    opt-in outbox, encrypted
    <state_dir>/keys/state.key                0600 key file, when no keyring is usable

The key file sits in its own directory so that copying or syncing ``data/`` never copies the
key with it; pass ``key_file=`` to put it somewhere else entirely.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cleanexit.client.outbox import Outbox
from cleanexit.client.persistence.keys import KeySource, choose_key_source
from cleanexit.client.persistence.state_file import StateFile
from cleanexit.clock import Clock, system_clock

__all__ = ["StateLayout", "default_state_dir", "open_state"]


def default_state_dir() -> Path:
    """``$XDG_DATA_HOME/cleanexit-client`` (``~/.local/share/cleanexit-client``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "cleanexit-client"


@dataclass(frozen=True, slots=True)
class StateLayout:
    root: Path
    key_file: Path

    @classmethod
    def under(cls, state_dir: Path | str, key_file: Path | str | None = None) -> StateLayout:
        root = Path(state_dir).expanduser()
        return cls(root, Path(key_file).expanduser() if key_file else root / "keys" / "state.key")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def keyring_account(self) -> str:
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()
        return f"state-{digest[:16]}"


def open_state(
    state_dir: Path | str,
    *,
    key: KeySource | None = None,
    key_file: Path | str | None = None,
    env_key: str | None = None,
    use_keyring: bool = True,
    clock: Clock = system_clock,
) -> tuple[StateFile, Outbox]:
    """The state file and the outbox of ``state_dir``, sharing one key source."""
    layout = StateLayout.under(state_dir, key_file)
    source = key or choose_key_source(
        key_file=layout.key_file,
        keyring_account=layout.keyring_account,
        env_key=env_key,
        use_keyring=use_keyring,
    )
    return StateFile(layout.data_dir, key=source), Outbox(layout.data_dir, key=source, clock=clock)
