"""The sans-I/O client: every decision of login, refresh and logout, written once.

Flows are generators (like httpx ``Auth.auth_flow``): they yield effects (:class:`Send` a
request, :class:`Refresh` the session, :class:`Sleep` a moment) and receive the results; the
sync and async drivers only perform them. File work (the persisted state) is local and
synchronous in both.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from cleanexit._secret import Secret
from cleanexit.client import _protocol as proto
from cleanexit.client.errors import (
    ClientError,
    NotAuthenticatedError,
    ServerError,
    ServerUnreachableError,
    SessionCompromisedError,
    SessionEndedError,
)
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

__all__ = [
    "RACED",
    "RACE_UNCONFIRMED",
    "REUSED",
    "AfterLogout",
    "ClientCore",
    "Flow",
    "LogoutPlan",
    "Refresh",
    "Send",
    "Sleep",
]

logger = logging.getLogger("cleanexit.client")
T = TypeVar("T")
AfterLogout = Callable[[LogoutResult], None]

# Why a session ended when its refresh token turned out to be in someone else's hands.
RACED = "refresh raced by an unknown party: session ended on the server (possible theft)"
RACE_UNCONFIRMED = (
    "refresh raced by an unknown party; the server did not recognise the old credentials, "
    "so the session could not be ended (possible theft)"
)
REUSED = "refresh token reuse detected: session ended on the server (possible theft)"


@dataclass(frozen=True, slots=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True, slots=True)
class Refresh:
    """Refresh unless someone already replaced ``stale`` (one refresh in flight at a time)."""

    stale: Secret


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Effect = Send | Refresh | Sleep
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
        refresh_race_wait: float = 5.0,
        race_poll: float = 0.1,
    ) -> None:
        self.base_url = base_url
        self.store = store
        self.persisted = persisted
        self.outbox = outbox
        self.clock = clock
        self.timeout = timeout
        self.logout_timeout = logout_timeout
        self.refresh_race_wait = refresh_race_wait
        self.race_poll = race_poll
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
            yield from self._refresh_refused(stale, state, proto.refresh_refusal(response))
        else:
            raise proto.error_for(response)

    def _refresh_refused(
        self, stale: Secret, state: AuthState, reason: proto.RefusalReason
    ) -> Flow[None]:
        """Never silently drop a refresh token that could prove theft (issue 9, finding 4)."""
        if reason == "reused":  # presented after the grace window: the server ended it all
            self.local_logout(REUSED)
            raise SessionCompromisedError(REUSED)
        if self._replaced(stale):  # another process won the rotation and saved its pair
            return
        if reason == "race":
            yield from self._resolve_race(stale, state)
        else:
            self.local_logout("refresh refused")
            raise SessionEndedError("the refresh token was refused; logged out")

    def _resolve_race(self, stale: Secret, state: AuthState) -> Flow[None]:
        """Our refresh token was rotated moments ago by someone else.

        1. One of our processes, sharing the persisted state? Its pair lands in the file
           within the server's grace window: adopt it.
        2. Otherwise an unknown party holds the token. End the session on the server with our
           old credentials (it accepts a rotated token of the family), so the other party's
           pair dies with ours; then log out locally. If the server cannot be reached, keep
           the old token: presented again after the window, it trips reuse detection.
        """
        if self.persisted is not None:
            for _ in range(math.ceil(self.refresh_race_wait / self.race_poll)):
                yield Sleep(self.race_poll)
                if self._replaced(stale):
                    return
        outcome = yield from self._server_logout_with(state)
        if not outcome.answered or outcome.verdict == "error":
            error = ServerUnreachableError if not outcome.answered else ServerError
            raise error(
                "refresh raced by an unknown party and the server could not end the session "
                f"({outcome.error}); the session is kept so its refresh token can be "
                "presented again",
                status=outcome.status,
            )
        reason = RACED if outcome.session_over else RACE_UNCONFIRMED
        self.local_logout(reason, outcome=outcome)
        raise SessionCompromisedError(reason)

    def _replaced(self, stale: Secret) -> bool:
        return self.current_tokens().access_token != stale

    def _server_logout_with(self, state: AuthState) -> Flow[ServerOutcome]:
        if state.tokens is None or state.server_url is None:
            return NOT_ATTEMPTED
        request = proto.logout_request(
            state.server_url, state.tokens, "current", self.logout_timeout
        )
        try:
            response = yield from send(request)
        except Exception as exc:
            return proto.failure_outcome(exc)
        return proto.logout_outcome(response)

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
        # Both credentials in one request: an expired access token is no reason to skip the
        # call, and the refresh token still names the session (issue 9, finding 1).
        request = proto.logout_request(
            state.server_url, state.tokens, plan.scope, self.logout_timeout
        )
        response = yield from send(request)
        return proto.logout_outcome(response)

    def finish_logout(self, plan: LogoutPlan, outcome: ServerOutcome | None) -> LogoutResult:
        """Steps 2-4, whatever step 1 did (``outcome=None``: it was interrupted)."""
        outcome = outcome if outcome is not None else proto.failure_outcome(None)
        if not plan.local or plan.noop:  # a repeated logout still shreds a leftover key
            return self._result(plan, outcome, self._shred_key() if plan.noop else None)
        queued = self._queue_retry(plan, outcome)  # before the purge: the outbox keeps the key
        self.store.logged_out()
        result = self._result(plan, outcome, self._purge() if plan.purge else (), queued)
        if plan.snapshot.authenticated:
            self._after_logout(result)
        return result

    def _result(
        self,
        plan: LogoutPlan,
        outcome: ServerOutcome,
        left: tuple[str, ...] | None,
        queued: bool = False,
    ) -> LogoutResult:
        """``left``: what the purge left behind; ``None`` when nothing local was done."""
        return LogoutResult(
            plan.scope,
            plan.snapshot.session_id,
            outcome,
            local_state_reset=plan.local or plan.noop,
            left_behind=left or (),
            queued_for_retry=queued,
            noop=plan.noop,
            reason=plan.reason,
            server_url=plan.snapshot.server_url,
            key_shredded=left == () and self._key_gone(),
        )

    def local_logout(
        self, reason: str, *, purge: bool = True, outcome: ServerOutcome = NOT_ATTEMPTED
    ) -> LogoutResult:
        """Logout without a server call of its own (the server refused or ended the session;
        ``outcome`` says what it answered, if it was asked)."""
        plan = LogoutPlan("current", self.store.state, False, True, purge=purge, reason=reason)
        if purge:
            self._mark_pending()
        return self.finish_logout(plan, outcome)

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

    def _shred_key(self) -> tuple[str, ...]:
        if self.persisted is None:
            return ()
        try:
            return self.persisted.file.shred_key()
        except Exception:
            logger.exception("shredding the state key failed")
            return (self.persisted.file.key.description,)

    def _key_gone(self) -> bool:
        if self.persisted is None:
            return False
        try:
            return self.persisted.key_shredded()
        except Exception:  # reporting must never break the logout
            logger.exception("could not tell whether the state key is gone")
            return False

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
