"""What the hot path answers, asked of a replica directly; and polling helpers for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from cleanexit.errors import StoreUnavailableError
from cleanexit.server.replica import Guard, Replica
from cleanexit.server.tokens import AccessClaims

__all__ = ["answers", "eventually", "guard_check", "until"]


def _claims(jti: str, iat: int) -> AccessClaims:
    return AccessClaims("https://issuer", "api", "alice", "s1", jti, iat, iat + 600, "cleanexit")


async def guard_check(replica: Replica, jti: str) -> str | None:
    """What ``Guard.check`` says for an access token with this jti: None (accepted),
    ``"RevokedTokenError"`` or ``"503"``."""
    guard = Guard(verifier=None, replica=replica)  # type: ignore[arg-type]
    try:
        await guard.check(_claims(jti, int(time.time())))
    except StoreUnavailableError:
        return "503"
    except Exception as exc:  # RevokedTokenError
        return type(exc).__name__
    return None


async def answers(replica: Replica, jti: str, expected: str | None) -> bool:
    return await guard_check(replica, jti) == expected


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> float:
    """Poll a synchronous condition until true; how long it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.001)
    return time.monotonic() - start


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start
