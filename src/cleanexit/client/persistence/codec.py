"""The persisted form of an :class:`AuthState`: versioned JSON, checked field by field.

Decoding is all or nothing: any missing or ill-typed field rejects the whole payload, so a
damaged file can never yield a partial state.
"""

from __future__ import annotations

import json
from typing import Any

from cleanexit._secret import Secret
from cleanexit.client.state import AuthState, AuthStatus, Tokens

__all__ = ["FORMAT_VERSION", "decode_state", "encode_state"]

FORMAT_VERSION = 1


def encode_state(state: AuthState) -> bytes:
    if not state.authenticated or state.tokens is None:
        raise ValueError("only an authenticated state is persisted")
    tokens = state.tokens
    payload = {
        "format": FORMAT_VERSION,
        "server_url": state.server_url,
        "user": state.user,
        "session_id": state.session_id,
        "access_token": tokens.access_token.reveal(),
        "refresh_token": tokens.refresh_token.reveal() if tokens.refresh_token else None,
        "access_expires_at": tokens.access_expires_at,
        "refresh_expires_at": tokens.refresh_expires_at,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def decode_state(data: bytes) -> AuthState:
    """Raises ``ValueError`` on anything but a complete, well-typed payload."""
    raw: Any = json.loads(data)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION:
        raise ValueError("unknown state format")
    refresh = _opt(raw, "refresh_token", str)
    tokens = Tokens(
        access_token=Secret(_req(raw, "access_token", str)),
        refresh_token=Secret(refresh) if refresh else None,
        access_expires_at=_opt(raw, "access_expires_at", float),
        refresh_expires_at=_opt(raw, "refresh_expires_at", float),
    )
    return AuthState(
        status=AuthStatus.AUTHENTICATED,
        server_url=_req(raw, "server_url", str),
        user=_req(raw, "user", str),
        session_id=_req(raw, "session_id", str),
        tokens=tokens,
    )


def _req(raw: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = _opt(raw, name, kind)
    if value is None or value == "":
        raise ValueError(f"missing {name}")
    return value


def _opt(raw: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = raw.get(name)
    if value is None:
        return None
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind):
        raise ValueError(f"bad {name}")
    return value
