"""Flask integration (``pip install 'cleanexit[flask]'``, issue 12).

    from cleanexit.integrations.flask import CleanExit, current_claims, require_auth

    cleanexit = CleanExit()
    cleanexit.init_app(app)            # or CleanExit(app); state in app.extensions["cleanexit"]

    @app.get("/orders")
    @require_auth                       # sync or async views; require_scope("orders:read")
    def orders():
        return {"orders for": current_claims.sub}

The blueprint answers ``/auth/*`` with the framework-free endpoints (``integrations._http``):
the same JSON, RFC 6750 challenges, ``Clear-Site-Data`` and cookie mode as every adapter.
See docs/frameworks.md.
"""

from __future__ import annotations

from ...server.tokens import AccessClaims as Claims
from .decorators import current_claims, require_auth, require_scope
from .extension import CleanExit, host_of
from .views import auth_blueprint, render

__all__ = [
    "Claims",
    "CleanExit",
    "auth_blueprint",
    "current_claims",
    "host_of",
    "render",
    "require_auth",
    "require_scope",
]
