"""Login throttling per username and per client address, shared through the store (issue 15).

Every instance sharing a store shares the counts (``Store.attempts``), so guessing from many
instances, or from many workers of one, meets one back-off (ASVS 5 V6.3, OWASP "Blocking
Brute Force Attacks"). No user enumeration: the username is counted whether or not it exists,
so an unknown name is refused exactly like a known one, and a refused attempt (``429``) answers
before any password check, for both alike.

Usernames are kept only as a keyed digest (people type passwords into the username field).
Addresses are counted as ``throttle.address_key`` does (IPv6 per /64). The address of a
trusted proxy is never throttled as a client: every client behind it would share its count.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Clock, system_clock
from ..errors import RateLimitedError
from .attempts import AttemptOp, AttemptPolicy, Attempts
from .stores.base import Store
from .throttle import address_key

__all__ = ["LoginThrottle", "Ticket", "username_key"]


@dataclass(frozen=True, slots=True)
class Ticket:
    """An attempt let through: what to clear or forgive when it succeeds."""

    user_key: str
    ip_key: str | None
    user: Attempts  # the username's record with this attempt counted

    def backs_off(self, now: float) -> bool:
        """Whether this attempt, if it fails, makes the next one wait."""
        return self.user.blocked_until > now


class LoginThrottle:
    def __init__(
        self,
        *,
        store: Store,
        per_user: AttemptPolicy,
        per_address: AttemptPolicy,
        exempt: Callable[[str], bool] = lambda address: False,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.per_user = per_user
        self.per_address = per_address
        self.exempt = exempt  # trusted proxies: their own address is not one client
        self._clock = clock

    async def admit(self, username: str, ip: str) -> Ticket:
        """Count this attempt, or raise ``RateLimitedError`` (429 + ``Retry-After``)."""
        now = self._clock()
        ip_key = f"login:ip:{address_key(ip)}" if ip and not self.exempt(ip) else None
        if ip_key is not None:
            address, ok = await self._apply(ip_key, AttemptOp.HIT, now, self.per_address)
            if not ok:
                raise _limited(address, now)
        user_key = username_key(username)
        user, ok = await self._apply(user_key, AttemptOp.HIT, now, self.per_user)
        if not ok:
            if ip_key is not None:  # only attempts that reach the password check count
                await self._apply(ip_key, AttemptOp.FORGIVE, now, self.per_address)
            raise _limited(user, now)
        return Ticket(user_key, ip_key, user)

    async def succeeded(self, ticket: Ticket) -> None:
        now = self._clock()
        await self._apply(ticket.user_key, AttemptOp.CLEAR, now, self.per_user)
        if ticket.ip_key is not None:
            await self._apply(ticket.ip_key, AttemptOp.FORGIVE, now, self.per_address)

    async def _apply(
        self, key: str, op: AttemptOp, now: float, policy: AttemptPolicy
    ) -> tuple[Attempts, bool]:
        return await self.store.attempts(key, op, now=now, policy=policy)


def username_key(username: str) -> str:
    """The store key of a username: a digest of its case-folded form (``Alice`` and
    ``alice`` share one count, so case changes do not buy more guesses)."""
    folded = username.strip().casefold().encode("utf-8", "surrogatepass")
    return "login:u:" + hashlib.sha256(b"cleanexit-login\0" + folded).hexdigest()[:32]


def _limited(record: Attempts, now: float) -> RateLimitedError:
    wait = max(1, math.ceil(record.blocked_until - now))
    # The same words for a username and an address, known user or not (no enumeration).
    return RateLimitedError("too many failed sign-in attempts; try again later", retry_after=wait)
