"""The auth state and its named transitions, as pure functions (a Redux slice, in Python).

The initial value is the unauthenticated state; ``logged_out`` always returns exactly it.
Tokens are held in :class:`~cleanexit._secret.Secret`, so no ``repr`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from cleanexit._secret import Secret

__all__ = [
    "INITIAL_STATE",
    "AuthState",
    "AuthStatus",
    "Tokens",
    "logged_out",
    "login_succeeded",
    "rehydrated",
    "token_refreshed",
]


class AuthStatus(StrEnum):
    UNAUTHENTICATED = "unauthenticated"
    AUTHENTICATED = "authenticated"


@dataclass(frozen=True, slots=True)
class Tokens:
    """One access/refresh pair; expiry times are Unix seconds from the injectable clock."""

    access_token: Secret
    refresh_token: Secret | None = None
    access_expires_at: float | None = None
    refresh_expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class AuthState:
    status: AuthStatus = AuthStatus.UNAUTHENTICATED
    server_url: str | None = None
    user: str | None = None
    session_id: str | None = None
    tokens: Tokens | None = None

    @property
    def authenticated(self) -> bool:
        return self.status is AuthStatus.AUTHENTICATED and self.tokens is not None


INITIAL_STATE = AuthState()


def login_succeeded(
    state: AuthState, *, server_url: str, user: str, session_id: str, tokens: Tokens
) -> AuthState:
    """A new session replaces whatever was there."""
    return AuthState(AuthStatus.AUTHENTICATED, server_url, user, session_id, tokens)


def token_refreshed(state: AuthState, *, session_id: str, tokens: Tokens) -> AuthState:
    """New tokens for the *same* session; ignored if that session is no longer current.

    A refresh that completes after a logout (or after another login) must not bring the old
    session back.
    """
    if not state.authenticated or state.session_id != session_id:
        return state
    return replace(state, tokens=tokens)


def rehydrated(state: AuthState, *, loaded: AuthState) -> AuthState:
    return loaded


def logged_out(state: AuthState) -> AuthState:
    return INITIAL_STATE
