"""Credentialed CORS for the exact origins of ``CLEANEXIT_CORS_ORIGINS``, decided once for the
adapters whose framework has no CORS of its own (Flask, Django); FastAPI uses Starlette's
``CORSMiddleware`` with the same policy (``integrations.fastapi.web.add_cors``)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "EXPOSE_HEADERS", "cors_headers"]

ALLOW_METHODS = ("GET", "POST", "DELETE")
ALLOW_HEADERS = ("Authorization", "Content-Type", "X-CSRF-Token")
# The browser client tells "expired" (refresh) from "revoked" (log out) by the challenge.
EXPOSE_HEADERS = ("WWW-Authenticate", "Retry-After")


def cors_headers(
    origin: str | None, allowed: Sequence[str], *, preflight: bool
) -> list[tuple[str, str]]:
    """Headers to add for a request from ``origin``: none unless it is listed exactly."""
    if not origin or origin not in allowed:
        return [("Vary", "Origin")] if allowed else []
    headers = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]
    if preflight:
        headers += [
            ("Access-Control-Allow-Methods", ", ".join(ALLOW_METHODS)),
            ("Access-Control-Allow-Headers", ", ".join(ALLOW_HEADERS)),
            ("Access-Control-Max-Age", "600"),
        ]
    else:
        headers.append(("Access-Control-Expose-Headers", ", ".join(EXPOSE_HEADERS)))
    return headers
