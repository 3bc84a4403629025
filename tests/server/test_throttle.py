"""The in-process throttle of failed client authentications (issue 9, finding 7)."""

from __future__ import annotations

import pytest

from cleanexit.clock import ManualClock
from cleanexit.server.throttle import FailureThrottle, address_key


def test_finding7_throttle_blocks_after_limit_until_window_ends() -> None:
    clock = ManualClock(0.0)
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("203.0.113.9") == 0
        throttle.failed("203.0.113.9")
        clock.advance(1)
    assert throttle.retry_after("203.0.113.9") == 57  # window started at 0
    assert throttle.retry_after("203.0.113.10") == 0  # another address is not affected
    clock.advance(56.5)
    assert throttle.retry_after("203.0.113.9") == 1  # rounded up: never "0 seconds"
    clock.advance(0.5)
    assert throttle.retry_after("203.0.113.9") == 0
    throttle.failed("203.0.113.9")  # a new window
    assert throttle.retry_after("203.0.113.9") == 0


def test_throttle_memory_is_bounded() -> None:
    throttle = FailureThrottle(limit=1, window=60, max_addresses=100, clock=ManualClock())
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert throttle.tracked == 100
    assert throttle.retry_after("10.0.39.15") > 0  # the most recent ones are kept


def test_ipv6_addresses_count_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("testclient") == "testclient"


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"window": 0}, {"max_addresses": 0}])
def test_throttle_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FailureThrottle(**kwargs)  # type: ignore[arg-type]
