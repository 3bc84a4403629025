"""FastAPI integration.

``install(app)`` wires cleanexit into an existing app (router, error handler, body cap,
lifespan) and returns a ``CleanExit``: ``auth.require``, ``auth.optional``,
``auth.require_scope(...)``, ``auth.start_session(...)``. ``create_app`` is the standalone
service ``cleanexit serve`` runs. See docs/embedding.md.
"""

from __future__ import annotations

from ...server.tokens import AccessClaims as Claims
from .app import app_from_env, create_app
from .auth import CleanExit
from .responses import error_response
from .wiring import auth_for, install

__all__ = [
    "Claims",
    "CleanExit",
    "app_from_env",
    "auth_for",
    "create_app",
    "error_response",
    "install",
]
