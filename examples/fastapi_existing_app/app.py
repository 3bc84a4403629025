"""An existing FastAPI app adopting cleanexit: its own member table, its own "magic link"
sign-in, a ``roles`` claim, scope-protected routes — and a logout that really ends the session.

Run: ``CLEANEXIT_DATA_DIR=/tmp/shop uvicorn app:app`` (from this folder).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from cleanexit.integrations.fastapi import Claims, install
from cleanexit.server.stores.base import SessionRecord
from cleanexit.settings import Settings

SETTINGS = Settings()  # CLEANEXIT_* as usual
DB = Path(SETTINGS.data_dir) / "shop.db"
LINK_TTL = 600.0
links: dict[str, tuple[str, float]] = {}  # one-time code -> (email, expiry); a real app emails it


def db() -> sqlite3.Connection:
    return sqlite3.connect(DB)


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:  # the app's own start-up, untouched
    DB.parent.mkdir(parents=True, exist_ok=True)
    with db() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS members (email TEXT PRIMARY KEY, role TEXT)")
        conn.executemany(
            "INSERT OR IGNORE INTO members VALUES (?, ?)",
            [("ada@example.com", "admin"), ("bob@example.com", "member")],
        )
    yield


def member_claims(session: SessionRecord) -> dict[str, Any]:
    """Run at sign-in and at every refresh: a role change reaches the next access token."""
    with db() as conn:
        row = conn.execute("SELECT role FROM members WHERE email=?", (session.sub,)).fetchone()
    role = row[0] if row else "none"
    scope = {"admin": "orders:read orders:write members:admin", "member": "orders:read"}
    return {"roles": [role], "scope": scope.get(role, "")}


app = FastAPI(lifespan=lifespan)
auth = install(app, SETTINGS, authenticator=None, claims=member_claims)  # no password login
can_read = auth.require_scope("orders:read")
can_order = auth.require_scope("orders:write")
can_manage = auth.require_scope("members:admin")


@app.post("/magic-link")
async def send_link(body: dict[str, str]) -> dict[str, str]:
    code = secrets.token_urlsafe(24)
    links[code] = (body.get("email", ""), time.time() + LINK_TTL)
    return {"link": f"/magic-link/{code}"}  # a real app emails this instead


@app.get("/magic-link/{code}")
async def open_link(code: str, request: Request) -> JSONResponse:
    email, expires = links.pop(code, ("", 0.0))  # one use only
    with db() as conn:
        known = conn.execute("SELECT 1 FROM members WHERE email=?", (email,)).fetchone()
    if time.time() > expires or not known:
        raise HTTPException(400, "invalid or expired link")
    return await auth.start_session(request, email, claims={"amr": ["email"]})


@app.get("/orders")
async def orders(claims: Claims = Depends(can_read)) -> dict[str, Any]:
    return {"orders of": claims.sub, "roles": claims.extra["roles"]}


@app.post("/orders")
async def order(claims: Claims = Depends(can_order)) -> dict[str, str]:
    return {"ordered by": claims.sub}


@app.post("/members/{email}/role")
async def set_role(
    email: str, body: dict[str, str], _: Claims = Depends(can_manage)
) -> dict[str, str]:
    with db() as conn:
        conn.execute("UPDATE members SET role=? WHERE email=?", (body["role"], email))
    return {"email": email, "role": body["role"]}
