"""FastAPI integration: ``CleanExit`` (router + bearer dependency) and the standalone app."""

from __future__ import annotations

from .app import app_from_env, create_app
from .auth import CleanExit
from .responses import error_response

__all__ = ["CleanExit", "app_from_env", "create_app", "error_response"]
