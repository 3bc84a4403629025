"""The Flask conformance app: ``gunicorn tests.conformance.apps.flask_app:app``."""

from __future__ import annotations

from typing import Any

from flask import Flask

from cleanexit.integrations.flask import CleanExit, current_claims, require_auth, require_scope

from .common import Members, claims, me

cleanexit = CleanExit(authenticator=Members(), claims=claims)
app = Flask(__name__)
cleanexit.init_app(app)


@app.get("/me")
@require_auth
def me_view() -> dict[str, Any]:
    return me(current_claims)


@app.get("/me/async")
@require_auth
async def me_async() -> dict[str, Any]:
    return me(current_claims)


@app.get("/orders")
@require_scope("orders:read")
def orders() -> dict[str, Any]:
    return {"orders for": current_claims.sub}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
