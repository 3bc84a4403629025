"""The sans-I/O client: every decision of login, refresh and logout, written once.

Flows are generators (like httpx ``Auth.auth_flow``): they yield effects (:class:`Send` a
request, :class:`Refresh` the session) and receive the results; the sync and async drivers
only perform them. File work (the persisted state) is local and synchronous in both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from cleanexit._secret import Secret
from cleanexit.client import _protocol as proto
from cleanexit.client.errors import ClientError, NotAuthenticatedError, SessionEndedError
from cleanexit.client.outbox import DEFAULT_MAX_AGE, Outbox, OutboxEntry
from cleanexit.client.persistence.binding import PersistedAuth, SharedState
from cleanexit.client.result import (
    NOT_ATTEMPTED,
    SCOPES,
    LogoutResult,
    OutboxReport,
    Scope,
    ServerOutcome,
)
from cleanexit.client.state import AuthState, Tokens
from cleanexit.client.store import AuthStore
from cleanexit.clock import Clock

__all__ = ["AfterLogout", "ClientCore", "Flow", "LogoutPlan", "Refresh", "Send"]

logger = logging.getLogger("cleanexit.client")
T = TypeVar("T")
AfterLogout = Callable[[LogoutResult], None]


@dataclass(frozen=True, slots=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True, slots=True)
class Refresh:
    """Refresh unless someone already replaced ``stale`` (one refresh in flight at a time)."""

    stale: Secret


Effect = Send | Refresh
Flow = Generator[Effect, object, T]


def send(request: httpx.Request) -> Flow[httpx.Response]:
    response = yield Send(request)
    assert isinstance(response, httpx.Response)
    return response


@dataclass(frozen=True, slots=True)
class LogoutPlan:
    scope: Scope
    snapshot: AuthState
    call_server: bool
    local: bool
    purge: bool = True
    noop: bool = False
    reason: str = "requested"
    queue: bool = False


class ClientCore:
    def __init__(
        self,
        *,
        base_url: str | None,
        store: AuthStore,
        persisted: PersistedAuth | None,
        outbox: Outbox | None,
        clock: Clock,
        timeout: float,
        logout_timeout: float,
    ) -> None:
        self.base_url = base_url
        self.store = store
        self.persisted = persisted
        self.outbox = outbox
        self.clock = clock
        self.timeout = timeout
        self.logout_timeout = logout_timeout
        self.callbacks: list[AfterLogout] = []

    # -- state and URLs -------------------------------------------------------------------

    def rehydrate(self) -> AuthState:
        return self.persisted.rehydrate() if self.persisted else self.store.state

    def resolve(self, target: str | httpx.URL) -> httpx.URL:
        base = self.store.state.server_url or self.base_url
        if base is None:
            raise NotAuthenticatedError("not logged in (no server URL known)")
        return proto.resolve(base, target)

    def sync_shared(self) -> None:
        """Notice another process's logout before using our tokens (issue 3)."""
        if self.persisted and self.persisted.check() is SharedState.ENDED:
            self.local_logout("ended by another process", purge=False)
            raise SessionEndedError("the session was ended by another process")

    def current_tokens(self) -> Tokens:
        self.sync_shared()
        tokens = self.store.state.tokens
        if not self.store.state.authenticated or tokens is None:
            raise NotAuthenticatedError()
        return tokens

    # -- login, requests, refresh ---------------------------------------------------------

    def login_flow(
        self, username: str, password: Secret, server_url: str | None
    ) -> Flow[AuthState]:
        base = server_url or self.base_url
        if not base:
            raise ClientError("no server URL given")
        self.sync_shared()
        if self.store.state.authenticated:
            raise ClientError("already logged in; log out first")
        response = yield from send(proto.login_request(base, username, password, self.timeout))
        grant = proto.parse_grant(response, now=self.clock())
        return self.store.login_succeeded(
            server_url=base, user=username, session_id=grant.session_id, tokens=grant.tokens
        )

    def request_flow(self, request: httpx.Request) -> Flow[httpx.Response]:
        stale = self.current_tokens().access_token
        response = yield from send(proto.authorize(request, stale))
        verdict = proto.classify_unauthorized(response)
        if verdict == "refresh":  # once: a second 401 goes back to the caller
            yield Refresh(stale)
            fresh = self.current_tokens().access_token
            response = yield from send(proto.authorize(request, fresh))
            verdict = proto.classify_unauthorized(response)
        if verdict == "ended":
            self.local_logout("ended by the server")
            raise SessionEndedError("the server ended the session; local state was reset")
        return response

    def refresh_flow(self, stale: Secret) -> Flow[None]:
        tokens = self.current_tokens()
        if tokens.access_token != stale:
            return  # refreshed meanwhile, by another call or another process
        state = self.store.state
        if tokens.refresh_token is None or state.server_url is None or state.session_id is None:
            self.local_logout("no refresh token")
            raise SessionEndedError("the access token expired and cannot be refreshed")
        request = proto.refresh_request(state.server_url, tokens.refresh_token, self.timeout)
        response = yield from send(request)
        if response.status_code == 200:
            grant = proto.parse_grant(response, now=self.clock())
            self.store.token_refreshed(session_id=state.session_id, tokens=grant.tokens)
        elif response.status_code in (400, 401):
            self._refresh_refused(stale)
        else:
            raise proto.error_for(response)

    def _refresh_refused(self, stale: Secret) -> None:
        # Another process may have won the rotation (docs/api.md grace window): adopt its pair.
        if self.current_tokens().access_token != stale:
            return
        self.local_logout("refresh refused")
        raise SessionEndedError("the refresh token was refused; logged out")

    # -- logout ---------------------------------------------------------------------------

    def begin_logout(self, scope: Scope, *, queue: bool | None = None) -> LogoutPlan:
        """Decide what logout will do, and write the intent marker before anything else.

        ``queue``: keep an unconfirmed revocation in the outbox (default: when one is set).
        """
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        shared = self.persisted.check() if self.persisted else SharedState.UNCHANGED
        snapshot = self.store.state
        if scope == "others":
            if not snapshot.authenticated:
                raise NotAuthenticatedError()
            return LogoutPlan(scope, snapshot, call_server=True, local=False)
        on_disk = self.persisted is not None and self.persisted.file.exists()
        plan = LogoutPlan(
            scope,
            snapshot,
            call_server=snapshot.authenticated,
            local=True,
            purge=shared is not SharedState.ENDED,
            noop=not snapshot.authenticated and not on_disk,
            queue=self.outbox is not None if queue is None else queue,
        )
        if plan.purge and not plan.noop:
            self._mark_pending()
        return plan

    def logout_flow(self, plan: LogoutPlan) -> Flow[ServerOutcome]:
        state = plan.snapshot
        if state.tokens is None or state.server_url is None:
            return NOT_ATTEMPTED
        request = proto.logout_request(
            state.server_url, state.tokens, plan.scope, self.logout_timeout
        )
        response = yield from send(request)
        return proto.logout_outcome(response)

    def finish_logout(self, plan: LogoutPlan, outcome: ServerOutcome | None) -> LogoutResult:
        """Steps 2-4, whatever step 1 did (``outcome=None``: it was interrupted)."""
        outcome = outcome if outcome is not None else proto.failure_outcome(None)
        sid = plan.snapshot.session_id
        if not plan.local or plan.noop:
            return LogoutResult(
                plan.scope, sid, outcome, local_state_reset=plan.noop, noop=plan.noop
            )
        queued = self._queue_retry(plan, outcome)
        self.store.logged_out()
        left = self._purge() if plan.purge else ()
        result = LogoutResult(plan.scope, sid, outcome, True, left, queued, reason=plan.reason)
        if plan.snapshot.authenticated:
            self._after_logout(result)
        return result

    def local_logout(self, reason: str, *, purge: bool = True) -> LogoutResult:
        """Logout without a server call (the server already refused or ended the session)."""
        plan = LogoutPlan("current", self.store.state, False, True, purge=purge, reason=reason)
        if purge:
            self._mark_pending()
        return self.finish_logout(plan, NOT_ATTEMPTED)

    def _mark_pending(self) -> None:
        if self.persisted is None:
            return
        try:
            self.persisted.mark_logout_pending()
        except OSError:
            logger.exception("could not write the logout-pending marker")

    def _purge(self) -> tuple[str, ...]:
        if self.persisted is None:
            return ()
        try:
            return self.persisted.purge()
        except Exception:
            logger.exception("purging the persisted state failed")
            return (str(self.persisted.file.path),)

    def _after_logout(self, result: LogoutResult) -> None:
        for callback in list(self.callbacks):
            try:
                callback(result)
            except Exception:
                logger.exception("after-logout callback failed")

    def _queue_retry(self, plan: LogoutPlan, outcome: ServerOutcome) -> bool:
        tokens, url = plan.snapshot.tokens, plan.snapshot.server_url
        if self.outbox is None or not plan.queue or not plan.call_server or outcome.confirmed:
            return False
        if not outcome.retryable or tokens is None or tokens.refresh_token is None or url is None:
            return False
        now = self.clock()
        expires = tokens.refresh_expires_at or now + DEFAULT_MAX_AGE
        entry = OutboxEntry(url, tokens.refresh_token, plan.scope, now, expires)
        try:
            self.outbox.add(entry)
        except Exception:
            logger.exception("could not queue the revocation for retry")
            return False
        return True

    # -- outbox ---------------------------------------------------------------------------

    def outbox_flow(self) -> Flow[OutboxReport]:
        if self.outbox is None:
            return OutboxReport()
        confirmed: set[str] = set()
        dropped: set[str] = set()
        failed: set[str] = set()
        for entry in self.outbox.entries():
            outcome = yield from self._retry_one(entry)
            bucket = confirmed if outcome.confirmed else failed if outcome.retryable else dropped
            bucket.add(entry.ident)
        self.outbox.settle(confirmed | dropped, failed)
        return OutboxReport(len(confirmed), len(dropped), len(failed))

    def _retry_one(self, entry: OutboxEntry) -> Flow[ServerOutcome]:
        try:
            response = yield from send(proto.outbox_request(entry, self.logout_timeout))
        except Exception as exc:
            return proto.failure_outcome(exc)
        return proto.logout_outcome(response)

    # -- small helpers the drivers share --------------------------------------------------

    @staticmethod
    def json_or_raise(response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise proto.error_for(response)
        return response.json()
