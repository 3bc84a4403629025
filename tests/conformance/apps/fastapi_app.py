"""The FastAPI conformance app: ``uvicorn tests.conformance.apps.fastapi_app:app``."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from cleanexit.integrations.fastapi import Claims, install

from .common import Members, claims, me

app = FastAPI()
members = Members()
auth = install(app, authenticator=members, claims=claims)


@app.get("/me")
async def me_view(c: Claims = Depends(auth.require)) -> dict[str, Any]:
    return me(c)


@app.get("/orders")
async def orders(c: Claims = Depends(auth.require_scope("orders:read"))) -> dict[str, Any]:
    return {"orders for": c.sub}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
