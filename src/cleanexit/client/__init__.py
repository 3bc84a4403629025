"""cleanexit client SDK: local-first logout, encrypted persisted state, sync and async.

from cleanexit.client import Client

with Client("http://127.0.0.1:8000", state_dir="~/.myapp/auth") as client:
    client.login("alice", "correct horse battery staple")
    client.me()
    result = client.logout()      # always resets and purges, even offline
    print(result.describe())
"""

from __future__ import annotations

from cleanexit.client._async import AsyncClient
from cleanexit.client._sync import Client
from cleanexit.client.config import StateLayout, default_state_dir, open_state
from cleanexit.client.errors import (
    ClientError,
    ForeignOriginError,
    KeyUnavailableError,
    NotAuthenticatedError,
    PersistedStateWarning,
    PersistenceError,
    ServerError,
    ServerUnreachableError,
    SessionCompromisedError,
    SessionEndedError,
)
from cleanexit.client.outbox import Outbox, OutboxEntry
from cleanexit.client.persistence import (
    KeyFileKey,
    KeyringKey,
    KeySource,
    StateFile,
    StaticKey,
    choose_key_source,
)
from cleanexit.client.result import (
    SCOPES,
    LogoutResult,
    OutboxReport,
    Scope,
    ServerOutcome,
    Verdict,
)
from cleanexit.client.state import INITIAL_STATE, AuthState, AuthStatus, Tokens
from cleanexit.client.store import AuthStore, Change

__all__ = [
    "INITIAL_STATE",
    "SCOPES",
    "AsyncClient",
    "AuthState",
    "AuthStatus",
    "AuthStore",
    "Change",
    "Client",
    "ClientError",
    "ForeignOriginError",
    "KeyFileKey",
    "KeySource",
    "KeyUnavailableError",
    "KeyringKey",
    "LogoutResult",
    "NotAuthenticatedError",
    "Outbox",
    "OutboxEntry",
    "OutboxReport",
    "PersistedStateWarning",
    "PersistenceError",
    "Scope",
    "ServerError",
    "ServerOutcome",
    "ServerUnreachableError",
    "SessionCompromisedError",
    "SessionEndedError",
    "StateFile",
    "StateLayout",
    "StaticKey",
    "Tokens",
    "Verdict",
    "choose_key_source",
    "default_state_dir",
    "open_state",
]
