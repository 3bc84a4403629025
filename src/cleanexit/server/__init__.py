"""The framework-free core: keys, tokens, verification, sessions and revocation."""

from __future__ import annotations

from importlib.util import find_spec

__all__: list[str] = []

# A client-only install (`cleanexit[client]`) has none of these: say which extra to add
# instead of failing later on some inner import.
_missing = [name for name in ("jwt", "orjson") if find_spec(name) is None]
if _missing:
    raise ModuleNotFoundError(
        "cleanexit.server needs the server extra: pip install 'cleanexit[server]' "
        f"(missing {', '.join(_missing)})",
        name=_missing[0],
    )
