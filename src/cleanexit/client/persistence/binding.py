"""Keeps an :class:`AuthStore` and a :class:`StateFile` in step, across processes.

* Every login is saved; every refresh is saved only if the file is still the version this
  process last saw, so a process never resurrects a session another one purged.
* :meth:`PersistedAuth.check` (run before each request) notices another process's change:
  newer tokens of the same session are adopted; a purge, or another session, ends ours.
"""

from __future__ import annotations

import logging
import threading
from enum import Enum

from cleanexit.client.persistence.files import Signature
from cleanexit.client.persistence.state_file import ANY_VERSION, StateFile
from cleanexit.client.state import AuthState
from cleanexit.client.store import AuthStore, Change

__all__ = ["PersistedAuth", "SharedState"]

logger = logging.getLogger("cleanexit.client")


class SharedState(Enum):
    UNCHANGED = "unchanged"
    ADOPTED = "adopted"
    ENDED = "ended"


class PersistedAuth:
    def __init__(self, store: AuthStore, file: StateFile) -> None:
        self.store = store
        self.file = file
        self._known: Signature | None = None
        self._lock = threading.Lock()
        self._unsubscribe = store.subscribe(self._on_change)

    def __repr__(self) -> str:
        return f"PersistedAuth({self.file!r})"

    def rehydrate(self) -> AuthState:
        """Load at start-up (finishing any interrupted logout first)."""
        with self._lock:
            loaded = self.file.load()
            self._known = loaded.signature
        if loaded.state is not None:
            self.store.rehydrated(loaded.state)
        return self.store.state

    def check(self) -> SharedState:
        """Re-read the file if another process changed it since we last saw it."""
        with self._lock:
            current = self.file.signature()
            if current == self._known:
                return SharedState.UNCHANGED
            loaded = self.file.load()
            mine = self.store.state
            if mine.authenticated and (
                loaded.state is None or loaded.state.session_id != mine.session_id
            ):
                self._known = None if loaded.state is not None else loaded.signature
                return SharedState.ENDED
            self._known = loaded.signature
        if loaded.state is not None:
            self.store.rehydrated(loaded.state)
        return SharedState.ADOPTED

    def mark_logout_pending(self) -> None:
        self.file.mark_logout_pending()

    def purge(self) -> tuple[str, ...]:
        """Logout's purge: the state, then its key (crypto-shredding, issue 9)."""
        with self._lock:
            left = self.file.purge(shred_key=True)
            self._known = None
        return tuple(str(path) for path in left)

    def key_shredded(self) -> bool:
        return not self.file.key_exists()

    def close(self) -> None:
        self._unsubscribe()

    def _on_change(self, change: Change) -> None:
        if change.action == "login_succeeded":
            self._save(change.state, ANY_VERSION)
        elif change.action == "token_refreshed":
            self._save(change.state, self._known)

    def _save(self, state: AuthState, expected: Signature | str | None) -> None:
        with self._lock:
            saved = self.file.save(state, expected=expected)
            if saved is None:
                logger.info("not saving: the persisted state changed or a logout is pending")
            else:
                self._known = saved
