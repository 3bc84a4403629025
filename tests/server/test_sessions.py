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


def build(
    store: Store, clock: ManualClock, access_ttl: int = 600, **policy: float
) -> SessionService:
    p = SessionPolicy(
        access_ttl=access_ttl,
        refresh_idle_ttl=3600,
        refresh_absolute_ttl=7200,
        refresh_grace=5,
        **policy,  # type: ignore[arg-type]
    )
    verifier = Verifier(keys=KEYS, issuer="iss", audience="aud", clock=clock)
    guard = Guard(verifier=verifier, replica=store.make_replica(clock=clock))
    issuer = TokenIssuer(
        keys=KEYS, issuer="iss", audience="aud", access_ttl=access_ttl, clock=clock
    )
    return SessionService(
        store=store,
        issuer=issuer,
        guard=guard,
        authenticator=Users(),
        policy=p,
        clock=clock,
        sleep=clock.sleep,
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


async def test_logout_all_then_login_in_the_same_second(
    service: SessionService, clock: ManualClock
) -> None:
    old = await service.login("alice", "pw")
    result = await service.logout(bearer=old.access_token, scope="all")
    assert result.user_cutoff == int(clock()) + 1  # covers the whole current second
    fresh = await service.login("alice", "pw")  # waits for the next second, never born revoked
    assert clock() >= result.user_cutoff
    await service.guard.authenticate(fresh.access_token)
    with pytest.raises(RevokedTokenError):
        await service.guard.authenticate(old.access_token)


async def test_finding5_cutoff_covers_tokens_issued_in_its_own_second(
    service: SessionService, clock: ManualClock
) -> None:
    """A token issued earlier in the same second as "log out everywhere" is refused too."""
    stray = service.issuer.issue(sub="alice", sid="never-stored")
    assert stray.claims.iat == int(clock())
    await service.revoke_user("alice")
    with pytest.raises(RevokedTokenError, match="everywhere"):
        await service.guard.authenticate(stray.token)


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
    await service.logout(bearer=pair.access_token)
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
        await service.logout(refresh_token="cxr_unknown")
    with pytest.raises(InvalidTokenError, match="malformed"):
        await service.logout(bearer="not-a-token", refresh_token="cxr_unknown")


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


# -- issue 9: the promise on the paths real users take ----------------------------------------
async def test_finding1_logout_after_the_access_token_expired_ends_the_session(
    service: SessionService, clock: ManualClock
) -> None:
    """The most common real logout: back from a break, the access token long expired."""
    pair = await service.login("alice", "pw")
    clock.advance(601)
    with pytest.raises(ExpiredTokenError):
        await service.guard.authenticate(pair.access_token)
    result = await service.logout(bearer=pair.access_token, refresh_token=pair.refresh_token)
    assert result.sessions == (pair.session_id,)
    with pytest.raises(InvalidGrantError):
        await service.refresh(pair.refresh_token)


async def test_finding1_an_expired_access_token_alone_ends_its_session(
    service: SessionService, clock: ManualClock
) -> None:
    pair = await service.login("alice", "pw")
    clock.advance(3000)
    assert (await service.logout(bearer=pair.access_token)).sessions == (pair.session_id,)
    with pytest.raises(InvalidGrantError):
        await service.refresh(pair.refresh_token)


async def test_finding1_a_forged_bearer_does_not_block_a_valid_refresh_token(
    service: SessionService,
) -> None:
    pair = await service.login("alice", "pw")
    forged = pair.access_token[:-4] + ("AAAA" if not pair.access_token.endswith("AAAA") else "BBBB")
    result = await service.logout(bearer=forged, refresh_token=pair.refresh_token)
    assert result.sessions == (pair.session_id,)
    with pytest.raises(RevokedTokenError):
        await service.guard.authenticate(pair.access_token)


async def test_finding3_a_revoked_bearer_still_names_its_session(service: SessionService) -> None:
    """RFC 7009 revoked the access token first; logout with it must still end the session."""
    pair = await service.login("alice", "pw")
    await service.revoke(pair.access_token)
    result = await service.logout(bearer=pair.access_token, refresh_token=pair.refresh_token)
    assert result.sessions == (pair.session_id,)
    with pytest.raises(InvalidGrantError):
        await service.refresh(pair.refresh_token)


async def test_finding3_a_failed_logout_changes_nothing_and_its_retry_finishes(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A fault between the steps (here: the deny-list write fails) leaves no half logout:
    nothing is committed, the retry ends the session with the same credentials."""
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    service = build(store, clock)
    await service.guard.replica.start()
    pair = await service.login("alice", "pw")
    store.db.execute(
        "CREATE TRIGGER fault BEFORE INSERT ON revocations WHEN NEW.kind = 'jti' "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(StoreUnavailableError):
        await service.logout(bearer=pair.access_token, refresh_token=pair.refresh_token)
    session = await store.get_session(pair.session_id)
    assert session is not None and session.ended_at is None  # rolled back as a whole
    await service.guard.authenticate(pair.access_token)  # nothing half-revoked either
    store.db.execute("DROP TRIGGER fault")
    result = await service.logout(bearer=pair.access_token, refresh_token=pair.refresh_token)
    assert result.sessions == (pair.session_id,) and result.access_token
    with pytest.raises(RevokedTokenError):
        await service.guard.authenticate(pair.access_token)
    await store.close()


async def test_logging_out_twice_is_refused_not_a_silent_success(service: SessionService) -> None:
    pair = await service.login("alice", "pw")
    await service.logout(bearer=pair.access_token, refresh_token=pair.refresh_token)
    with pytest.raises(RevokedTokenError, match="session ended"):
        await service.logout(bearer=pair.access_token)
    with pytest.raises(InvalidTokenError):
        await service.logout(refresh_token=pair.refresh_token)


async def test_logout_with_an_already_rotated_refresh_token_ends_the_session(
    service: SessionService, clock: ManualClock
) -> None:
    """Finding 4: the loser of a race (maybe the victim of a thief who refreshed first) can
    end the session with the token it still holds."""
    pair = await service.login("alice", "pw")
    thief = await service.refresh(pair.refresh_token)
    clock.advance(1)
    result = await service.logout(refresh_token=pair.refresh_token)
    assert result.sessions == (pair.session_id,)
    with pytest.raises(RevokedTokenError):
        await service.guard.authenticate(thief.access_token)
    with pytest.raises(InvalidGrantError):
        await service.refresh(thief.refresh_token)


async def test_finding4_a_race_from_another_client_is_recorded(
    service: SessionService, clock: ManualClock
) -> None:
    pair = await service.login("alice", "pw")
    await service.refresh(pair.refresh_token, user_agent="thief", ip="203.0.113.9")
    clock.advance(1)
    with pytest.raises(InvalidGrantError) as info:
        await service.refresh(pair.refresh_token, user_agent="browser", ip="198.51.100.7")
    assert info.value.reason == "race"
    events = await service.store.events(sub="alice")
    assert (events[0].kind, events[0].detail) == ("refresh_token_race", "different client")


async def test_scopes_others_and_all_need_a_live_credential(
    service: SessionService, clock: ManualClock
) -> None:
    pair = await service.login("alice", "pw")
    other = await service.login("alice", "pw")
    clock.advance(601)
    with pytest.raises(ExpiredTokenError):
        await service.logout(bearer=pair.access_token, scope="all")
    assert (await service.store.get_session(other.session_id)).ended_at is None  # type: ignore[union-attr]
    # A current refresh token is a live credential.
    result = await service.logout(refresh_token=pair.refresh_token, scope="others")
    assert result.sessions == (other.session_id,)


async def test_finding5_tokens_never_outlive_their_session(
    service: SessionService, clock: ManualClock
) -> None:
    """The absolute lifetime (7200 s here) caps the last access token too, so nothing of a
    session is accepted after it ends by itself."""
    pair = await service.login("alice", "pw")
    for _ in range(12):
        clock.advance(590)
        pair = await service.refresh(pair.refresh_token)
    claims = await service.guard.authenticate(pair.access_token)
    assert claims.exp <= 1_800_000_000.5 + 7200


async def test_finding5_lowering_the_lifetime_does_not_bring_revoked_tokens_back(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    first = build(store, clock, access_ttl=3600)
    await first.guard.replica.start()
    pair = await first.login("alice", "pw")
    await first.logout(bearer=pair.access_token, refresh_token=pair.refresh_token)
    await store.close()
    # Restart with a ten-minute lifetime; an hour-long token issued before is still out there.
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    await store.prune(now=clock() + 1000)
    second = build(store, clock, access_ttl=600)
    await second.guard.replica.start()
    clock.advance(1000)
    with pytest.raises(RevokedTokenError):
        await second.guard.authenticate(pair.access_token)
    await store.close()


async def test_login_does_not_fail_when_the_cutoff_cannot_be_refreshed(
    service: SessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cutoff a login waits on is best effort (a stale one can only refuse the new token
    later): a replica that cannot catch up right now must not turn a login into a 503."""
    replica = service.guard.replica

    async def unreachable() -> None:
        raise StoreUnavailableError("feed stale")

    monkeypatch.setattr(replica, "is_fresh", lambda: False)
    monkeypatch.setattr(replica, "catch_up", unreachable)
    pair = await service.login("alice", "pw")
    assert pair.access_token
