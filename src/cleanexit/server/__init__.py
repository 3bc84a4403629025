"""The framework-free core: keys, tokens, verification, sessions and revocation."""

from __future__ import annotations

__all__: list[str] = []
