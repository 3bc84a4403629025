"""A wrapper that keeps secrets out of reprs, logs and error messages."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["Secret", "fingerprint"]


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
