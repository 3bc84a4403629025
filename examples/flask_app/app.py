"""A Flask app with cleanexit: ``gunicorn -w 2 app:app`` (users: ``cleanexit users add alice``).

Settings come from ``CLEANEXIT_*`` variables (data directory, store, token lifetimes)."""

from __future__ import annotations

from flask import Flask

from cleanexit.integrations.flask import CleanExit, current_claims, require_auth

app = Flask(__name__)
CleanExit(app)  # /auth/login, /auth/refresh, /auth/logout, /auth/sessions, RFC 7009 / 7662


@app.get("/orders")
@require_auth  # a revoked, expired or forged token never gets here (async views too)
def orders() -> dict[str, str]:
    return {"orders for": current_claims.sub}
