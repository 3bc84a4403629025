"""What logout (and an outbox flush) report: honest about what the server confirmed.

The server's answer to ``POST /auth/logout`` is read into one :data:`Verdict` (issue 9):

* ``ended``: ``200`` with a ``revoked`` report. The only case in which a client may say "the
  server ended the session".
* ``already_ended``: ``401 invalid_token`` "revoked: session ended" (or "logged out
  everywhere"): the credentials were authentic, the session was already over.
* ``not_recognised``: any other ``400``/``401``/``403``: the server recognised nothing, so
  nothing was confirmed revoked.
* ``error`` (``5xx``, anything unexpected), ``timeout``, ``unreachable`` (refused, DNS),
  ``network_error`` (reset, truncated), ``interrupted`` (``KeyboardInterrupt``,
  cancellation): not confirmed.
* ``not_attempted``: no call was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "NOT_ATTEMPTED",
    "SCOPES",
    "LogoutResult",
    "OutboxReport",
    "Scope",
    "ServerOutcome",
    "Verdict",
]

Scope = Literal["current", "others", "all"]
SCOPES: tuple[Scope, ...] = ("current", "others", "all")
Verdict = Literal[
    "ended",
    "already_ended",
    "not_recognised",
    "error",
    "timeout",
    "unreachable",
    "network_error",
    "interrupted",
    "not_attempted",
]
_NO_ANSWER = frozenset({"timeout", "unreachable", "network_error", "interrupted"})


@dataclass(frozen=True, slots=True)
class ServerOutcome:
    """Step 1 of logout: what the server said, as a :data:`Verdict`."""

    verdict: Verdict
    status: int | None = None
    error: str | None = None
    revoked: Mapping[str, Any] | None = None
    retryable: bool = False

    @property
    def attempted(self) -> bool:
        return self.verdict != "not_attempted"

    @property
    def confirmed(self) -> bool:
        """The server ended the session in answer to this very call."""
        return self.verdict == "ended"

    @property
    def already_ended(self) -> bool:
        return self.verdict == "already_ended"

    @property
    def session_over(self) -> bool:
        """The server says the session is over: ended now, or ended earlier."""
        return self.verdict in ("ended", "already_ended")

    @property
    def answered(self) -> bool:
        """The server gave an answer (whatever it was)."""
        return self.attempted and self.verdict not in _NO_ANSWER


NOT_ATTEMPTED = ServerOutcome("not_attempted")


@dataclass(frozen=True, slots=True)
class LogoutResult:
    scope: Scope
    session_id: str | None
    server: ServerOutcome
    local_state_reset: bool
    left_behind: tuple[str, ...] = ()
    queued_for_retry: bool = False
    noop: bool = False
    reason: str = "requested"
    server_url: str | None = None
    key_shredded: bool = False

    @property
    def server_confirmed(self) -> bool:
        """The server ended the session now (the only case to call it revoked by this call)."""
        return self.server.confirmed

    @property
    def clean(self) -> bool:
        """Nothing of the session was left behind locally."""
        return not self.left_behind

    def describe(self) -> str:
        """One line for people: what the server did, what happened locally."""
        return f"{self._server_part()}; {self._local_part()}"

    def _server_part(self) -> str:
        s = self.server
        if s.confirmed:
            sessions = list((s.revoked or {}).get("sessions") or [])
            what = ", ".join(sessions) if sessions else "no other session"
            return f"server ended session{'s' if len(sessions) > 1 else ''} {what}"
        if s.already_ended:
            return "server had already ended the session (nothing left to revoke)"
        if not s.attempted:
            return "server not contacted" if not self.noop else "already logged out"
        detail = _detail(s)
        if s.verdict == "not_recognised":
            return (
                f"server did not recognise the credentials ({detail}); "
                "nothing was confirmed revoked"
            )
        return f"server did NOT confirm revocation ({detail})"

    def _local_part(self) -> str:
        if self.scope == "others":
            return "this session kept"
        if self.left_behind:
            return "local state NOT fully purged: " + ", ".join(self.left_behind)
        tail = "; refresh token queued (encrypted) for revocation retry"
        return "local state purged" + (tail if self.queued_for_retry else "")


def _detail(s: ServerOutcome) -> str:
    detail = f"HTTP {s.status}" if s.status is not None else (s.error or "unknown error")
    if s.status is not None and s.error:
        detail += f" {s.error}"
    return detail


@dataclass(frozen=True, slots=True)
class OutboxReport:
    confirmed: int = 0
    dropped: int = 0
    pending: int = 0
