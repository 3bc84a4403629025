"""Throttling failed client authentications, in process, in bounded memory.

RFC 7662 §4 asks introspection endpoints to resist guessing of client credentials. Each
address (IPv6: its /64, the unit one subscriber gets) may fail ``limit`` times per ``window``
seconds; after that it is refused (429 + ``Retry-After``) until the window ends, whether or
not its next guess is right, so a blocked guesser learns nothing. A success does not reset
the count: behind a proxy, a legitimate client's successes would otherwise clear the way
for an attacker's guesses from the same address.

Memory is bounded by ``max_addresses``: the least recently failing address is forgotten
first. Behind a reverse proxy every request comes from the proxy's address, so the limit is
shared by every client; put a per-client limit in the proxy if that matters (issue 9).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict

from ..clock import Clock

__all__ = ["FailureThrottle", "address_key"]


class FailureThrottle:
    """``retry_after(address)`` → seconds to wait (0: go ahead); ``failed(address)`` counts."""

    def __init__(
        self,
        *,
        limit: int = 10,
        window: float = 60.0,
        max_addresses: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_addresses < 1:
            raise ValueError("limit and max_addresses must be >= 1, window > 0")
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # start, count

    def __repr__(self) -> str:
        return f"FailureThrottle(limit={self.limit}, window={self.window}, tracked={self.tracked})"

    @property
    def tracked(self) -> int:
        """How many addresses are remembered (at most ``max_addresses``)."""
        return len(self._failures)

    def retry_after(self, address: str) -> int:
        """Whole seconds until ``address`` may try again; 0 when it may now."""
        entry = self._failures.get(address_key(address))
        if entry is None:
            return 0
        start, count = entry
        left = start + self.window - self._clock()
        return math.ceil(left) if count >= self.limit and left > 0 else 0

    def failed(self, address: str) -> None:
        key, now = address_key(address), self._clock()
        start, count = self._failures.pop(key, (now, 0))
        if now >= start + self.window:
            start, count = now, 0
        self._failures[key] = (start, count + 1)  # re-inserted: the most recent is last
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)


def address_key(address: str) -> str:
    """The unit an address is counted by: itself, or for IPv6 its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
