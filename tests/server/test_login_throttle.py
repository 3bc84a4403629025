"""Login throttling (issue 15): per username and per address, shared through the store,
exponential back-off, no user enumeration, trusted proxies not throttled as one client."""

from __future__ import annotations

import asyncio

import pytest

from cleanexit.clock import ManualClock
from cleanexit.errors import InvalidCredentialsError, RateLimitedError
from cleanexit.server.attempts import AttemptOp, AttemptPolicy, Attempts, decide_attempts
from cleanexit.server.login_throttle import LoginThrottle, username_key
from cleanexit.server.stores import MemoryStore

pytestmark = pytest.mark.anyio
USER = AttemptPolicy(free=3, base=2.0, cap=8.0, forget_after=60.0)
ADDRESS = AttemptPolicy(free=5, base=2.0, cap=8.0, forget_after=60.0)


def throttle(clock: ManualClock, **kw: object) -> LoginThrottle:
    return LoginThrottle(store=MemoryStore(), per_user=USER, per_address=ADDRESS, clock=clock, **kw)  # type: ignore[arg-type]


async def outcome(t: LoginThrottle, user: str, ip: str) -> str:
    try:
        await t.admit(user, ip)
    except RateLimitedError as exc:
        return f"429 {exc.retry_after}"
    return "go"


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [USER.backoff(n) for n in range(1, 8)] == [0, 0, 2, 4, 8, 8, 8]


def test_a_refused_attempt_is_not_counted_and_forget_restarts() -> None:
    record = Attempts(3, blocked_until=110.0, last=100.0)
    assert decide_attempts(record, AttemptOp.HIT, now=105.0, policy=USER) == (record, False)
    fresh, ok = decide_attempts(record, AttemptOp.HIT, now=170.0, policy=USER)
    assert ok and fresh == Attempts(1, 0.0, 170.0)


async def test_unknown_and_known_users_are_throttled_alike() -> None:
    clock = ManualClock(1000.0)
    t = throttle(clock)
    known = [await outcome(t, "alice", f"198.51.100.{i}") for i in range(5)]
    unknown = [await outcome(t, "no-such-user", f"198.51.100.{i}") for i in range(5)]
    assert known == unknown == ["go", "go", "go", "429 2", "429 2"]
    clock.advance(2)
    assert await outcome(t, "ALICE ", "198.51.100.9") == "go"  # case and spaces do not help
    assert await outcome(t, "alice", "198.51.100.9") == "429 4"


async def test_success_clears_the_user_and_forgives_the_address() -> None:
    clock = ManualClock(1000.0)
    t = throttle(clock)
    for _ in range(2):
        await t.admit("alice", "203.0.113.5")
    ticket = await t.admit("alice", "203.0.113.5")
    assert ticket.backs_off(clock())  # a third failure would start a back-off
    await t.succeeded(ticket)
    assert await outcome(t, "alice", "203.0.113.5") == "go"
    record, _ = await t.store.attempts(
        "login:ip:203.0.113.5", AttemptOp.HIT, now=clock(), policy=ADDRESS
    )
    assert record.failures == 4  # 3 counted, 1 forgiven, 1 just now + this probe


async def test_many_usernames_from_one_address_meet_the_address_limit() -> None:
    t = throttle(ManualClock(1000.0))
    seen = [await outcome(t, f"user{i}", "203.0.113.7") for i in range(7)]
    assert seen == ["go"] * 5 + ["429 2"] * 2
    assert await outcome(t, "user9", "203.0.113.8") == "go"  # another address is its own


async def test_a_trusted_proxy_address_is_not_one_client() -> None:
    t = throttle(ManualClock(1000.0), exempt=lambda ip: ip == "10.0.0.1")
    seen = [await outcome(t, f"user{i}", "10.0.0.1") for i in range(10)]
    assert seen == ["go"] * 10  # the per-username limits still hold for each


async def test_parallel_guesses_cannot_slip_past_the_count() -> None:
    t = throttle(ManualClock(1000.0))
    seen = await asyncio.gather(*(outcome(t, "alice", f"192.0.2.{i}") for i in range(20)))
    assert seen.count("go") == 3  # counted before the password check, not after


async def test_usernames_are_kept_as_digests() -> None:
    assert username_key("alice") == username_key(" Alice")
    assert "alice" not in username_key("alice")


async def test_service_login_reports_throttling(tmp_path: object) -> None:
    from tests.server.test_sessions import build

    clock = ManualClock(1000.0)
    store = MemoryStore()
    service = build(store, clock)
    service.throttle = LoginThrottle(store=store, per_user=USER, per_address=ADDRESS, clock=clock)
    events: list[tuple[str | None, str]] = []
    service.observer = lambda e: events.append((e.name, e.outcome))
    for _ in range(3):
        with pytest.raises(InvalidCredentialsError):
            await service.login("alice", "wrong", ip="192.0.2.1")
    with pytest.raises(RateLimitedError):
        await service.login("alice", "pw", ip="192.0.2.1")  # even the right password waits
    clock.advance(2)
    assert (await service.login("alice", "pw", ip="192.0.2.1")).sub == "alice"
    assert [name for name, _ in events] == [
        "authn_login_fail",
        "authn_login_fail",
        "authn_login_fail_max",
        "excess_rate_limit_exceeded",
        "authn_login_success",
        "session_created",
    ]
