"""SessionService with a moved clock: lifetimes, grace, scopes, cutoff, fail closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanexit._secret import Secret
from cleanexit.clock import ManualClock
from cleanexit.errors import (
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidTokenError,
    NotFoundError,
    RevokedTokenError,
    StoreUnavailableError,
)
from cleanexit.server.keys import KeyRing
from cleanexit.server.replica import Guard
from cleanexit.server.sessions import SessionPolicy, SessionService
from cleanexit.server.stores import MemoryStore, Store
from cleanexit.server.stores.sqlite import SqliteStore
from cleanexit.server.tokens import TokenIssuer
from cleanexit.server.verifier import Verifier

pytestmark = pytest.mark.anyio
KEYS = KeyRing.from_secrets(Secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF"))


class Users:
    async def authenticate(self, username: str, password: str) -> str | None:
        return username if password == "pw" else None


def build(store: Store, clock: ManualClock, **policy: float) -> SessionService:
    p = SessionPolicy(
        access_ttl=600, refresh_idle_ttl=3600, refresh_absolute_ttl=7200, refresh_grace=5, **policy
    )  # type: ignore[arg-type]
    verifier = Verifier(keys=KEYS, issuer="iss", audience="aud", clock=clock)
    guard = Guard(verifier=verifier, replica=store.make_replica(clock=clock))
    issuer = TokenIssuer(keys=KEYS, issuer="iss", audience="aud", access_ttl=600, clock=clock)
    return SessionService(
        store=store, issuer=issuer, guard=guard, authenticator=Users(), policy=p, clock=clock
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.5)


@pytest.fixture
async def service(clock: ManualClock) -> SessionService:
    svc = build(MemoryStore(), clock)
    await svc.guard.replica.start()
    return svc


async def test_wrong_password(service: SessionService) -> None:
    with pytest.raises(InvalidCredentialsError):
        await service.login("alice", "nope")


async def test_idle_expiry(service: SessionService, clock: ManualClock) -> None:
    pair = await service.login("alice", "pw")
    clock.advance(3599)
    pair = await service.refresh(pair.refresh_token)
    clock.advance(3600)
    with pytest.raises(InvalidGrantError):
        await service.refresh(pair.refresh_token)


async def test_absolute_expiry_caps_refresh(service: SessionService, clock: ManualClock) -> None:
    pair = await service.login("alice", "pw")
    for _ in range(3):
        clock.advance(3000)
        if clock() - 1_800_000_000.5 >= 7200:
            break
        pair = await service.refresh(pair.refresh_token)
    assert pair.refresh_expires_in <= 7200 - 6000
    clock.advance(1300)
    with pytest.raises(InvalidGrantError):
        await service.refresh(pair.refresh_token)


async def test_race_inside_grace_keeps_the_session(
    service: SessionService, clock: ManualClock
) -> None:
    pair = await service.login("alice", "pw")
    winner = await service.refresh(pair.refresh_token)
    clock.advance(4)
    with pytest.raises(InvalidGrantError, match="concurrent"):
        await service.refresh(pair.refresh_token)
    await service.guard.authenticate(winner.access_token)
    await service.refresh(winner.refresh_token)


async def test_reuse_after_grace_is_theft(service: SessionService, clock: ManualClock) -> None:
    pair = await service.login("alice", "pw")
    winner = await service.refresh(pair.refresh_token)
    clock.advance(6)
    with pytest.raises(InvalidGrantError, match="reuse"):
        await service.refresh(pair.refresh_token)
    with pytest.raises(RevokedTokenError, match="session ended"):
        await service.guard.authenticate(winner.access_token)
    events = await service.store.events(sub="alice")
    assert events[0].kind == "refresh_token_reuse"


async def test_logout_all_then_login_in_the_same_second(service: SessionService) -> None:
    old = await service.login("alice", "pw")
    claims = await service.guard.authenticate(old.access_token)
    result = await service.logout(claims=claims, scope="all")
    assert result.user_cutoff is not None
    fresh = await service.login("alice", "pw")  # same clock second as the cutoff
    await service.guard.authenticate(fresh.access_token)
    with pytest.raises(RevokedTokenError):
        await service.guard.authenticate(old.access_token)


async def test_cutoff_refuses_tokens_of_unknown_sessions(
    service: SessionService, clock: ManualClock
) -> None:
    """A token whose session the store never saw (e.g. issued elsewhere with the same key)
    is still caught by the per-user cutoff."""
    stray = service.issuer.issue(sub="alice", sid="never-stored")
    clock.advance(1)
    await service.revoke_user("alice")
    with pytest.raises(RevokedTokenError, match="everywhere"):
        await service.guard.authenticate(stray.token)


async def test_deny_entries_outlive_every_token_they_cover(
    service: SessionService, clock: ManualClock
) -> None:
    pair = await service.login("alice", "pw")
    claims = await service.guard.authenticate(pair.access_token)
    await service.logout(claims=claims)
    clock.advance(599)
    await service.guard.replica.catch_up()
    with pytest.raises(RevokedTokenError):
        await service.guard.authenticate(pair.access_token)
    clock.advance(1)
    with pytest.raises(ExpiredTokenError):
        await service.guard.authenticate(pair.access_token)
    assert await service.store.prune(now=clock() + 2) >= 2


async def test_end_someone_elses_session_is_not_found(service: SessionService) -> None:
    alice = await service.login("alice", "pw")
    bob = await service.guard.authenticate((await service.login("bob", "pw")).access_token)
    with pytest.raises(NotFoundError):
        await service.end_session(bob, alice.session_id)


async def test_logout_with_nothing_valid(service: SessionService) -> None:
    with pytest.raises(InvalidTokenError):
        await service.logout(claims=None, refresh_token="cxr_unknown")


async def test_fail_closed_when_the_store_breaks(tmp_path: Path, clock: ManualClock) -> None:
    """Invariant 3: when the replica cannot catch up, the answer is 'unavailable', not 'valid'."""
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    service = build(store, clock)
    await service.guard.replica.start()
    pair = await service.login("alice", "pw")
    await service.guard.authenticate(pair.access_token)
    other = SqliteStore(tmp_path / "c.db")
    await other.open()
    await other.revoke_token("x", "y", expires_at=clock() + 60)  # moves the marker
    await store.close()  # our connection is gone: catching up must fail
    with pytest.raises(StoreUnavailableError):
        await service.guard.authenticate(pair.access_token)
    await other.close()


async def test_concurrent_requests_share_one_pull(tmp_path: Path, clock: ManualClock) -> None:
    import asyncio

    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    service = build(store, clock)
    await service.guard.replica.start()
    pair = await service.login("alice", "pw")
    pulls = 0
    original = store.revocations

    async def counting(**kw: object):  # type: ignore[no-untyped-def]
        nonlocal pulls
        pulls += 1
        return await original(**kw)  # type: ignore[arg-type]

    store.revocations = counting  # type: ignore[method-assign]
    other = SqliteStore(tmp_path / "c.db")
    await other.open()
    await other.revoke_token("x", "y", expires_at=clock() + 60)
    await asyncio.gather(*(service.guard.authenticate(pair.access_token) for _ in range(20)))
    assert pulls == 1
    await other.close()
    await store.close()
