"""A wrapper that keeps secrets out of reprs, logs and error messages."""

from __future__ import annotations

import hashlib
import hmac
import math

__all__ = ["Secret", "fingerprint", "weakness"]


def fingerprint(value: str | bytes) -> str:
    """A short, non-reversible label for a secret (for logs and reprs)."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:12]


class Secret:
    """Holds a secret string; ``repr``/``str`` show only a fingerprint."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(sha256:{fingerprint(self._value)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(fingerprint(self._value))

    def __len__(self) -> int:
        return len(self._value)


# Character classes for a rough entropy bound: a secret drawn from these pools at random
# has at most len * log2(pool) bits. Real secrets (token_urlsafe, token_hex) clear 128 easily.
_POOLS = (
    (frozenset("abcdefghijklmnopqrstuvwxyz"), 26),
    (frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 26),
    (frozenset("0123456789"), 10),
)
_OTHER_POOL = 33  # printable ASCII punctuation and space


def weakness(value: str, *, min_chars: int = 32, min_bits: int = 128) -> str | None:
    """Why ``value`` is an obviously weak secret, or ``None``. The reason never quotes it.

    An upper bound, not an estimate: it catches short, repetitive and small-alphabet secrets
    (issue 9, finding 7), not a long passphrase of dictionary words.
    """
    if len(value) < min_chars:
        return f"shorter than {min_chars} characters"
    if len(set(value)) < 10:
        return "too few distinct characters"
    if _period(value) < len(value):
        return "a short pattern repeated"
    chars = set(value)
    pool = sum(size for members, size in _POOLS if chars & members)
    pool += _OTHER_POOL if any(not c.isascii() or not c.isalnum() for c in chars) else 0
    if len(value) * math.log2(pool) < min_bits:
        return f"less than {min_bits} bits of entropy (use a larger alphabet or more characters)"
    return None


def _period(value: str) -> int:
    """The length of the shortest string that ``value`` repeats (``len(value)`` if none)."""
    n = len(value)
    periods = (p for p in range(1, n // 2 + 1) if n % p == 0 and value[:p] * (n // p) == value)
    return next(periods, n)
