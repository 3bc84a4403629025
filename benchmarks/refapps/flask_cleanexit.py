"""Flask + cleanexit (SQLite store, revocation checked on every request), as
examples/flask_app: ``gunicorn benchmarks.refapps.flask_cleanexit:app``."""

from __future__ import annotations

from flask import Flask

from cleanexit.integrations.flask import CleanExit, current_claims, require_auth

app = Flask(__name__)
CleanExit(app, authenticator=None)


@app.get("/me")
@require_auth
def me() -> dict[str, object]:
    c = current_claims
    return {"sub": c.sub, "session_id": c.sid, "iat": c.iat, "exp": c.exp}
