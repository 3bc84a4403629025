"""Errors the client SDK raises, a small branch of :mod:`cleanexit.errors`.

    CleanexitError                       (cleanexit.errors)
    └── ClientError                      client_error
        ├── NotAuthenticatedError        not_authenticated   this client holds no session
        ├── SessionEndedError            session_ended       the server or another process
        │   │                                                ended the session; local state
        │   │                                                was reset
        │   └── SessionCompromisedError  session_compromised someone else used the session's
        │                                                    refresh token (possible theft):
        │                                                    the session was ended on the
        │                                                    server, local state was reset
        ├── ServerError                  server_error        an unexpected HTTP answer
        │   └── ServerUnreachableError   server_unreachable  connect/DNS failure, timeout,
        │                                                    connection reset
        ├── ForeignOriginError           foreign_origin      refused to send the token to
        │                                                    another origin
        └── PersistenceError             persistence_error   persisted state cannot be used
            └── KeyUnavailableError      key_unavailable     no usable encryption key

A wrong username or password raises :class:`cleanexit.errors.InvalidCredentialsError`, the
same class the server uses. Messages never contain token text.

``PersistedStateWarning`` is a warning, not an error: an unreadable persisted state
(corrupt, truncated, tampered with, wrong key) is reported and discarded, and the client
starts logged out.
"""

from __future__ import annotations

from cleanexit.errors import CleanexitError

__all__ = [
    "ClientError",
    "ForeignOriginError",
    "KeyUnavailableError",
    "NotAuthenticatedError",
    "PersistedStateWarning",
    "PersistenceError",
    "ServerError",
    "ServerUnreachableError",
    "SessionCompromisedError",
    "SessionEndedError",
]


class ClientError(CleanexitError):
    error_code = "client_error"
    default_description = "client error"


class NotAuthenticatedError(ClientError):
    error_code = "not_authenticated"
    default_description = "not logged in"


class SessionEndedError(ClientError):
    error_code = "session_ended"
    default_description = "the session has ended; local state was reset"


class SessionCompromisedError(SessionEndedError):
    """Another party rotated this session's refresh token (issue 9, finding 4).

    Either the server detected reuse and ended the session, or the refresh lost a race to a
    party that is not one of this client's processes and the client ended the session on the
    server with its old refresh token (the other party's tokens die with it). ``reason`` says
    which; local state was reset either way.
    """

    error_code = "session_compromised"
    default_description = "the session's refresh token was used by someone else (possible theft)"


class ServerError(ClientError):
    """The server answered something the client cannot use."""

    error_code = "server_error"
    default_description = "unexpected answer from the server"

    def __init__(self, description: str | None = None, *, status: int | None = None) -> None:
        super().__init__(description)
        self.status = status


class ServerUnreachableError(ServerError):
    error_code = "server_unreachable"
    default_description = "the server could not be reached"


class ForeignOriginError(ClientError):
    error_code = "foreign_origin"
    default_description = "refusing to send the session's token to another origin"


class PersistenceError(ClientError):
    error_code = "persistence_error"
    default_description = "the persisted client state cannot be used"


class KeyUnavailableError(PersistenceError):
    error_code = "key_unavailable"
    default_description = "no usable key to encrypt the client state"


class PersistedStateWarning(UserWarning):
    """The persisted state was unreadable and discarded; the client starts logged out."""
