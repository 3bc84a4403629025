"""The promise itself, as a stateful property (issue 9).

Two server instances (two ``SessionService``s, each with its own SQLite connection and replica,
one shared database file and clock) take random sequences of logins, refreshes (current and
already-rotated tokens, so races and theft), logouts in every scope with every combination of
credentials (live, expired, revoked, rotated, forged), RFC 7009 revocations and clock moves.
After every step:

- **nothing of an ended session is accepted anywhere**: once a logout returned success for a
  session (or reuse detection ended it), none of its access tokens passes either instance's
  guard and none of its refresh tokens refreshes;
- **a logout never claims what it did not do**: every session it reports ended is ended in the
  store, and a "session ended" refusal is only given for a session that really is over;
- **a logout with a credential that identifies a live session succeeds**, whatever else was
  sent beside it (finding 1: an expired or forged bearer never blocks a valid refresh token).
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cleanexit._secret import Secret
from cleanexit.clock import ManualClock
from cleanexit.errors import InvalidGrantError, InvalidTokenError, RevokedTokenError
from cleanexit.server.keys import KeyRing
from cleanexit.server.replica import Guard
from cleanexit.server.sessions import SessionPolicy, SessionService, TokenPair
from cleanexit.server.stores.sqlite import SqliteStore
from cleanexit.server.tokens import TokenIssuer
from cleanexit.server.verifier import Verifier

KEYS = KeyRing.from_secrets(Secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF"))
USERS = ("alice", "bob")
POLICY = SessionPolicy(
    access_ttl=600, refresh_idle_ttl=3600, refresh_absolute_ttl=7200, refresh_grace=5
)


class Users:
    async def authenticate(self, username: str, password: str) -> str | None:
        return username


@dataclass
class Session:
    sid: str
    sub: str
    access: list[str] = field(default_factory=list)  # every access token issued, oldest first
    refresh: list[str] = field(default_factory=list)  # every refresh token, current last
    ended: bool = False  # the model's knowledge: a logout said so, or theft was detected


def instance(path: Path, clock: ManualClock) -> tuple[SessionService, SqliteStore]:
    store = SqliteStore(path)
    verifier = Verifier(keys=KEYS, issuer="iss", audience="aud", clock=clock)
    guard = Guard(verifier=verifier, replica=store.make_replica(clock=clock))
    issuer = TokenIssuer(keys=KEYS, issuer="iss", audience="aud", access_ttl=600, clock=clock)
    service = SessionService(
        store=store,
        issuer=issuer,
        guard=guard,
        authenticator=Users(),
        policy=POLICY,
        clock=clock,
        sleep=clock.sleep,
    )
    return service, store


class Promise(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.Runner()
        self.tmp = tempfile.TemporaryDirectory()
        self.clock = ManualClock(1_800_000_000.25)
        path = Path(self.tmp.name) / "cleanexit.db"
        self.instances: list[tuple[SessionService, SqliteStore]] = []
        for _ in range(2):
            service, store = instance(path, self.clock)
            self.run(store.open())
            self.run(service.guard.replica.start())
            self.instances.append((service, store))
        self.sessions: list[Session] = []
        self.logouts = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run(coro)

    def teardown(self) -> None:
        for _, store in self.instances:
            self.run(store.close())
        self.loop.close()
        self.tmp.cleanup()

    def service(self, which: int) -> SessionService:
        return self.instances[which][0]

    def adopt(self, session: Session, pair: TokenPair) -> None:
        session.access.append(pair.access_token)
        session.refresh.append(pair.refresh_token)

    # -- rules ---------------------------------------------------------------------------------
    @initialize()
    def first_login(self) -> None:
        self.login(0, "alice")

    @rule(which=st.integers(0, 1), sub=st.sampled_from(USERS))
    def login(self, which: int, sub: str) -> None:
        pair = self.run(self.service(which).login(sub, "pw"))
        session = Session(pair.session_id, sub)
        self.adopt(session, pair)
        self.sessions.append(session)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), which=st.integers(0, 1), old=st.booleans())
    def refresh(self, data: st.DataObject, which: int, old: bool) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        tokens = session.refresh[:-1] if old and len(session.refresh) > 1 else session.refresh[-1:]
        token = data.draw(st.sampled_from(tokens))
        try:
            pair = self.run(self.service(which).refresh(token))
        except InvalidGrantError as exc:
            if exc.reason == "reused":
                session.ended = True  # theft detected: the whole session is over
            return
        assert not session.ended, "an ended session's refresh token was rotated"
        assert token == session.refresh[-1], "a rotated refresh token was rotated again"
        self.adopt(session, pair)

    @precondition(lambda self: self.sessions)
    @rule(
        data=st.data(),
        which=st.integers(0, 1),
        scope=st.sampled_from(["current", "current", "others", "all"]),
        bearer=st.sampled_from(["latest", "oldest", "forged", "none"]),
        refresh=st.sampled_from(["current", "rotated", "none"]),
    )
    def logout(
        self, data: st.DataObject, which: int, scope: str, bearer: str, refresh: str
    ) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        access = {
            "latest": session.access[-1],
            "oldest": session.access[0],
            "forged": session.access[-1][:-6] + "AAAAAA",
            "none": None,
        }[bearer]
        refresh_token = {
            "current": session.refresh[-1],
            "rotated": session.refresh[0] if len(session.refresh) > 1 else None,
            "none": None,
        }[refresh]
        if access is None and refresh_token is None:
            return
        service = self.service(which)
        was_live = self.live_in_store(session.sid)
        try:
            result = self.run(
                service.logout(bearer=access, refresh_token=refresh_token, scope=scope)  # type: ignore[arg-type]
            )
        except RevokedTokenError:
            # "session ended": only ever said of a session that really is over.
            assert not was_live, "a logout of a live session was refused as 'session ended'"
            session.ended = True
            return
        except InvalidTokenError:
            # Nothing recognised (or, for others/all, no live credential): never when an
            # authentic token or a known refresh token of a live session was sent (finding 1).
            if scope == "current" and was_live:
                assert bearer in ("forged", "none") and refresh_token is None, (
                    "a credential of a live session was refused"
                )
            return
        self.logouts += 1
        for sid in result.sessions:  # honest: what it reports ended is ended
            assert not self.live_in_store(sid), f"logout reported {sid} ended but it is not"
        ended = set(result.sessions)
        for other in self.sessions:
            if other.sid in ended:
                other.ended = True
            if result.user_cutoff is not None and other.sub == session.sub:
                other.ended = True
        if scope == "current":
            assert session.sid in ended or not was_live

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), which=st.integers(0, 1), kind=st.sampled_from(["access", "refresh"]))
    def revoke(self, data: st.DataObject, which: int, kind: str) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        token = session.access[-1] if kind == "access" else session.refresh[-1]
        self.run(self.service(which).revoke(token))
        if kind == "refresh" and not self.live_in_store(session.sid):
            session.ended = True

    @rule(seconds=st.sampled_from([0.5, 1, 4, 6, 30, 299, 601, 3601]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- the promise ---------------------------------------------------------------------------
    def live_in_store(self, sid: str) -> bool:
        """Not ended, and something of it could still be accepted."""
        record = self.run(self.instances[0][1].get_session(sid))
        return record is not None and record.endable(self.clock(), leeway=POLICY.leeway)

    @invariant()
    def nothing_of_an_ended_session_is_accepted_anywhere(self) -> None:
        for session in self.sessions:
            if not session.ended:
                continue
            assert not self.live_in_store(session.sid)
            for service, _ in self.instances:
                for token in session.access:
                    try:
                        self.run(service.guard.authenticate(token))
                    except InvalidTokenError:
                        continue
                    raise AssertionError(f"a token of ended session {session.sid} was accepted")
                store = service.store
                current = self.run(
                    store.session_for_refresh(_hash(session.refresh[-1]), now=self.clock())
                )
                assert current is None, "an ended session's refresh token is still current"


def _hash(token: str) -> bytes:
    from cleanexit.server.tokens import hash_refresh_token

    return hash_refresh_token(token)


Promise.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPromise = Promise.TestCase
