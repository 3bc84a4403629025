"""``@require_auth``, ``@require_scope(...)`` and ``current_claims``, for sync and async views.

A sync view is checked on its own thread (``RuntimeHost.authenticate``: no I/O, no thread hop
while the in-process view is fresh); an async view (Flask runs it on a loop of asgiref's) is
checked with ``aauthenticate``, which reaches cleanexit's loop only when the view is stale.
A refusal raises; the handler ``init_app`` registered renders it (RFC 6750 401, 403, 503).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request
from werkzeug.local import LocalProxy

from ...server.tokens import AccessClaims
from .._http import AuthEndpoints
from .extension import host_of

__all__ = ["current_claims", "require_auth", "require_scope"]

F = TypeVar("F", bound=Callable[..., Any])
_KEY = "cleanexit_claims"


def _current() -> AccessClaims:
    claims = g.get(_KEY)
    if claims is None:
        raise RuntimeError("current_claims is only set in views under @require_auth")
    return cast(AccessClaims, claims)


current_claims = cast(AccessClaims, LocalProxy(_current))
"""The verified, unrevoked claims of the request (inside ``@require_auth`` views)."""


def require_auth(view: F) -> F:
    """Verified, unrevoked claims in ``current_claims``, or an RFC 6750 401 (503 when the
    revocation state cannot be trusted)."""
    return _protect(view, ())


def require_scope(*scopes: str) -> Callable[[F], F]:
    """``require_auth`` plus every one of ``scopes`` in the token's ``scope`` claim, else
    403 ``insufficient_scope`` (RFC 6750 §3.1)."""
    needed = tuple(scopes)
    return lambda view: _protect(view, needed)


def _protect(view: F, scopes: tuple[str, ...]) -> F:
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def checked_async(*args: Any, **kwargs: Any) -> Any:
            claims = await host_of().aauthenticate(request.headers.get("Authorization"))
            setattr(g, _KEY, AuthEndpoints.check_scopes(claims, scopes))
            return await view(*args, **kwargs)

        return cast(F, checked_async)

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        claims = host_of().authenticate(request.headers.get("Authorization"))
        setattr(g, _KEY, AuthEndpoints.check_scopes(claims, scopes))
        return view(*args, **kwargs)

    return cast(F, checked)
