"""An explicit, observable auth state: named transitions and subscribers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cleanexit.client import state as _s
from cleanexit.client.state import INITIAL_STATE, AuthState, Tokens

__all__ = ["AuthStore", "Change", "Subscriber"]

logger = logging.getLogger("cleanexit.client")


@dataclass(frozen=True, slots=True)
class Change:
    """What a subscriber receives: the transition's name and the states around it."""

    action: str
    previous: AuthState
    state: AuthState


Subscriber = Callable[[Change], None]


class AuthStore:
    """Holds one :class:`AuthState`; every transition is named and announced.

    A subscriber that raises is logged and skipped: no observer can stop a transition, least
    of all the reset that logout depends on.
    """

    def __init__(self, initial: AuthState = INITIAL_STATE) -> None:
        self._state = initial
        self._lock = threading.RLock()
        self._subscribers: list[Subscriber] = []

    def __repr__(self) -> str:
        return f"AuthStore(status={self._state.status.value!r}, user={self._state.user!r})"

    @property
    def state(self) -> AuthState:
        return self._state

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` after every change; returns the function that unsubscribes."""
        self._subscribers.append(subscriber)
        return lambda: self._unsubscribe(subscriber)

    def login_succeeded(
        self, *, server_url: str, user: str, session_id: str, tokens: Tokens
    ) -> AuthState:
        return self._dispatch(
            "login_succeeded",
            lambda s: _s.login_succeeded(
                s, server_url=server_url, user=user, session_id=session_id, tokens=tokens
            ),
        )

    def token_refreshed(self, *, session_id: str, tokens: Tokens) -> AuthState:
        return self._dispatch(
            "token_refreshed",
            lambda s: _s.token_refreshed(s, session_id=session_id, tokens=tokens),
        )

    def rehydrated(self, loaded: AuthState) -> AuthState:
        return self._dispatch("rehydrated", lambda s: _s.rehydrated(s, loaded=loaded))

    def logged_out(self) -> AuthState:
        return self._dispatch("logged_out", _s.logged_out)

    def _dispatch(self, action: str, reducer: Callable[[AuthState], AuthState]) -> AuthState:
        with self._lock:
            previous = self._state
            self._state = reducer(previous)
            change = Change(action, previous, self._state)
            if change.state != previous:
                self._notify(change)
            return self._state

    def _notify(self, change: Change) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(change)
            except Exception:
                logger.exception("auth state subscriber failed on %s", change.action)

    def _unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
