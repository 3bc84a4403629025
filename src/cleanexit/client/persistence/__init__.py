"""Encrypted persisted client state: load, save, purge (idempotent), and its key sources."""

from __future__ import annotations

from cleanexit.client.persistence.binding import PersistedAuth, SharedState
from cleanexit.client.persistence.keys import (
    KeyFileKey,
    KeyringKey,
    KeySource,
    StaticKey,
    choose_key_source,
    decode_key,
    encode_key,
    keyring_usable,
)
from cleanexit.client.persistence.state_file import Loaded, StateFile

__all__ = [
    "KeyFileKey",
    "KeySource",
    "KeyringKey",
    "Loaded",
    "PersistedAuth",
    "SharedState",
    "StateFile",
    "StaticKey",
    "choose_key_source",
    "decode_key",
    "encode_key",
    "keyring_usable",
]
