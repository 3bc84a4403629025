"""Login attempt counting with exponential back-off: the rule every store applies atomically.

A record per key (a username's digest, a client address) counts the attempts that reached the
password check. Counting happens *before* the check (``HIT``), so a burst of parallel guesses
cannot all slip through while the first ones are still being verified: once ``free`` attempts
are counted, each further one is let through only after a back-off that doubles every time
(``base``, ``2 x base``, ... up to ``cap``). A successful login ``CLEAR``s the username's record
and ``FORGIVE``s its own count on the address (behind a NAT, other people's successes must
not wipe an attacker's failures, nor its own success count as a failure). A record is
forgotten ``forget_after`` seconds after its last attempt (or when its block ends, if later).

``decide_attempts`` is the one rule; each store runs it inside its own atomic step (a memory
dict, an SQLite ``BEGIN IMMEDIATE``, a Redis ``WATCH``/``MULTI``), as with ``decide_rotation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AttemptOp", "AttemptPolicy", "Attempts", "decide_attempts"]


class AttemptOp(StrEnum):
    HIT = "hit"  # an attempt reaches the check: count it unless blocked (then refuse it)
    FORGIVE = "forgive"  # that attempt succeeded: uncount it (client addresses)
    CLEAR = "clear"  # that attempt succeeded: forget the record (usernames)


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptPolicy:
    free: int = 5  # attempts counted before the back-off starts
    base: float = 1.0  # the first back-off, seconds; doubled at each further attempt
    cap: float = 900.0  # the longest back-off
    forget_after: float = 3600.0  # a record with no attempt for this long is forgotten

    def backoff(self, attempts: int) -> float:
        """How long to wait after the ``attempts``-th counted attempt (0: none)."""
        if attempts < self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(attempts - self.free, 64))


@dataclass(frozen=True, slots=True)
class Attempts:
    failures: int = 0  # attempts counted and not forgiven
    blocked_until: float = 0.0  # no attempt is let through before this moment
    last: float = 0.0  # the latest counted attempt

    def expires(self, policy: AttemptPolicy) -> float:
        """When the record can be forgotten."""
        return max(self.last + policy.forget_after, self.blocked_until)


def decide_attempts(
    current: Attempts | None, op: AttemptOp, *, now: float, policy: AttemptPolicy
) -> tuple[Attempts | None, bool]:
    """The record after ``op`` (``None``: delete it) and whether the attempt may go ahead."""
    record = current if current is not None and now < current.expires(policy) else None
    if op is AttemptOp.CLEAR:
        return None, True
    if op is AttemptOp.FORGIVE:
        if record is None or record.failures <= 1:
            return None, True
        failures = record.failures - 1
        blocked = record.blocked_until if failures >= policy.free else 0.0
        return Attempts(failures, blocked, record.last), True
    record = record or Attempts()
    if now < record.blocked_until:
        return record, False  # refused attempts are not counted: they guessed nothing
    failures = record.failures + 1
    wait = policy.backoff(failures)
    return Attempts(failures, now + wait if wait else 0.0, now), True
