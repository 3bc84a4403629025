"""``@require_auth`` and ``@require_scope(...)`` for plain Django views, sync or async.

The claims land in ``request.claims``. A sync view is checked on its own thread, an async view
on its server's loop, both without I/O while the in-process view is fresh; a refusal is the
RFC 6750 answer (401, 403 ``insufficient_scope``, 503), rendered here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse

from ...errors import CleanexitError
from ...server.tokens import AccessClaims
from .._http import AuthEndpoints
from .host import get_host
from .messages import render_error

__all__ = ["require_auth", "require_scope"]

F = TypeVar("F", bound=Callable[..., Any])


def require_auth(view: F) -> F:
    """Verified, unrevoked claims in ``request.claims``, or an RFC 6750 401 / 503."""
    return _protect(view, ())


def require_scope(*scopes: str) -> Callable[[F], F]:
    """``require_auth`` plus every one of ``scopes`` in the token's ``scope`` claim."""
    needed = tuple(scopes)
    return lambda view: _protect(view, needed)


def _known(request: HttpRequest) -> AccessClaims | None:
    """Claims ``CleanexitMiddleware`` already checked for this request (its error, if any)."""
    error = getattr(request, "cleanexit_error", None)
    if error is not None:
        raise error
    return getattr(request, "claims", None)


def _protect(view: F, scopes: tuple[str, ...]) -> F:
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def checked_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                claims = _known(request) or await get_host().aauthenticate(
                    request.headers.get("Authorization")
                )
                request.claims = AuthEndpoints.check_scopes(claims, scopes)
            except CleanexitError as exc:
                return render_error(exc)
            return await view(request, *args, **kwargs)

        return cast(F, checked_async)

    @functools.wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            claims = _known(request) or get_host().authenticate(
                request.headers.get("Authorization")
            )
            request.claims = AuthEndpoints.check_scopes(claims, scopes)
        except CleanexitError as exc:
            return render_error(exc)
        return cast(HttpResponse, view(request, *args, **kwargs))

    return cast(F, checked)
