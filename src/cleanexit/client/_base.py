"""What the sync and async clients share: construction, state access, callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from cleanexit.client._core import AfterLogout, ClientCore
from cleanexit.client.config import open_state
from cleanexit.client.outbox import Outbox
from cleanexit.client.persistence.binding import PersistedAuth
from cleanexit.client.persistence.keys import KeySource
from cleanexit.client.persistence.state_file import StateFile
from cleanexit.client.state import AuthState
from cleanexit.client.store import AuthStore
from cleanexit.clock import Clock, system_clock

__all__ = ["BaseClient"]


class BaseClient:
    """Construction shared by :class:`Client` and :class:`AsyncClient`.

    ``state_dir`` (or an explicit ``state_file``) turns on encrypted persistence; the state is
    rehydrated here, after finishing any interrupted logout. ``use_outbox=True`` keeps
    unconfirmed revocations for :meth:`flush_outbox` (see docs/client.md). ``transport``
    is handed to httpx (tests, proxies). ``timeout`` bounds ordinary calls,
    ``logout_timeout`` the best-effort server call of logout. ``refresh_race_wait``: how
    long a refresh that lost a race waits for another process's pair before treating the
    winner as an unknown party (the server's grace window, ``CLEANEXIT_REFRESH_GRACE``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        state_dir: Path | str | None = None,
        key: KeySource | None = None,
        state_file: StateFile | None = None,
        outbox: Outbox | None = None,
        use_outbox: bool = False,
        store: AuthStore | None = None,
        timeout: float = 10.0,
        logout_timeout: float = 3.0,
        refresh_race_wait: float = 5.0,
        clock: Clock = system_clock,
        on_logout: Iterable[AfterLogout] = (),
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if state_dir is not None and state_file is None:
            state_file, default_outbox = open_state(state_dir, key=key, clock=clock)
            outbox = outbox or (default_outbox if use_outbox else None)
        store = store or AuthStore()
        self._core = ClientCore(
            base_url=base_url,
            store=store,
            persisted=PersistedAuth(store, state_file) if state_file else None,
            outbox=outbox,
            clock=clock,
            timeout=timeout,
            logout_timeout=logout_timeout,
            refresh_race_wait=refresh_race_wait,
        )
        self._core.callbacks.extend(on_logout)
        self._core.rehydrate()  # first: it may warn, and no connection pool is open yet
        self._open_http(transport)

    def _open_http(self, transport: Any) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        s = self.state
        name = type(self).__name__
        return f"{name}(server={s.server_url!r}, status={s.status.value!r}, user={s.user!r})"

    @property
    def state(self) -> AuthState:
        return self._core.store.state

    @property
    def store(self) -> AuthStore:
        return self._core.store

    @property
    def state_file(self) -> StateFile | None:
        return self._core.persisted.file if self._core.persisted else None

    def on_logout(self, callback: AfterLogout) -> Callable[[], None]:
        """Run ``callback(result)`` after each logout (navigation, redirect home...)."""
        self._core.callbacks.append(callback)
        return lambda: self._drop_callback(callback)

    def _drop_callback(self, callback: AfterLogout) -> None:
        if callback in self._core.callbacks:
            self._core.callbacks.remove(callback)

    def _detach(self) -> None:
        if self._core.persisted:
            self._core.persisted.close()
