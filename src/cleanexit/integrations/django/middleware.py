"""``CleanexitMiddleware``: ``request.claims`` on every request, for plain Django views.

A request with ``Authorization: Bearer`` gets its verified, unrevoked claims in
``request.claims``; one without gets ``None``. A refused token does not stop the request here
(``/auth/logout`` must still see an expired bearer): it is kept in ``request.cleanexit_error``
and ``@require_auth`` answers with it. A ``CleanexitError`` a view raises is rendered as the
RFC 6750 answer. Sync and async (Django 5 runs it natively in either stack).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from ...errors import CleanexitError
from .host import get_host
from .messages import render_error

__all__ = ["CleanexitMiddleware"]


class CleanexitMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        header = _bearer_header(request)
        request.claims = None
        if header is not None:
            try:
                request.claims = get_host().authenticate(header)
            except CleanexitError as exc:
                request.cleanexit_error = exc
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        header = _bearer_header(request)
        request.claims = None
        if header is not None:
            try:
                request.claims = await get_host().aauthenticate(header)
            except CleanexitError as exc:
                request.cleanexit_error = exc
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return render_error(exc) if isinstance(exc, CleanexitError) else None


def _bearer_header(request: HttpRequest) -> str | None:
    header: str | None = request.headers.get("Authorization")
    if header is None or header.partition(" ")[0].lower() != "bearer":
        return None
    return header
