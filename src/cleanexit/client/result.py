"""What logout (and an outbox flush) report: honest about what the server confirmed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["NOT_ATTEMPTED", "SCOPES", "LogoutResult", "OutboxReport", "Scope", "ServerOutcome"]

Scope = Literal["current", "others", "all"]
SCOPES: tuple[Scope, ...] = ("current", "others", "all")


@dataclass(frozen=True, slots=True)
class ServerOutcome:
    """Step 1 of logout: did the server confirm the revocation?"""

    attempted: bool
    confirmed: bool = False
    status: int | None = None
    error: str | None = None
    revoked: Mapping[str, Any] | None = None
    retryable: bool = False


NOT_ATTEMPTED = ServerOutcome(attempted=False)


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

    @property
    def server_confirmed(self) -> bool:
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
            return f"server revoked session{'s' if len(sessions) > 1 else ''} {what}"
        if not s.attempted:
            return "server not contacted" if not self.noop else "already logged out"
        detail = f"HTTP {s.status}" if s.status is not None else (s.error or "unknown error")
        if s.status is not None and s.error:
            detail += f" {s.error}"
        return f"server did NOT confirm revocation ({detail})"

    def _local_part(self) -> str:
        if self.scope == "others":
            return "this session kept"
        if self.left_behind:
            return "local state NOT fully purged: " + ", ".join(self.left_behind)
        tail = "; refresh token queued (encrypted) for revocation retry"
        return "local state purged" + (tail if self.queued_for_retry else "")


@dataclass(frozen=True, slots=True)
class OutboxReport:
    confirmed: int = 0
    dropped: int = 0
    pending: int = 0
