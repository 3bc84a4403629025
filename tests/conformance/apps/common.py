"""What every conformance app shares: its users, their scopes, and the body of ``/me``.

Each app (FastAPI, Flask, Django) exposes the adapter's ``/auth/*``, a protected ``/me`` (every
idiom the framework offers: sync, async, DRF), ``/orders`` (scope ``orders:read``, which only
alice holds) and ``/healthz``. Settings come from ``CLEANEXIT_*`` variables."""

from __future__ import annotations

import hmac
from typing import Any

from cleanexit.server.stores.base import SessionRecord
from cleanexit.server.tokens import AccessClaims

PASSWORD = "correct horse battery staple"
SCOPES = {"alice": "orders:read", "bob": "profile"}


class Members:
    """An application's own users (a dict here), behind the Authenticator protocol."""

    async def authenticate(self, username: str, password: str) -> str | None:
        ok = hmac.compare_digest(password.encode(), PASSWORD.encode())
        return username if ok and username in SCOPES else None


async def claims(session: SessionRecord) -> dict[str, Any]:
    return {"scope": SCOPES.get(session.sub, "")}


def me(claims: AccessClaims) -> dict[str, Any]:
    return {"sub": claims.sub, "session_id": claims.sid, "iat": claims.iat, "exp": claims.exp}
