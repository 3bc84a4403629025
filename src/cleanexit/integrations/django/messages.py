"""Django requests as the endpoints see them, and their responses as Django's."""

from __future__ import annotations

import http.cookies

import orjson
from django.http import HttpRequest, HttpResponse

from ...errors import CleanexitError
from .._http import Request as NeutralRequest
from .._http import Response as NeutralResponse
from .._http import error_response

__all__ = ["neutral", "render", "render_error"]


def neutral(request: HttpRequest) -> NeutralRequest:
    return NeutralRequest(
        headers={name.lower(): value for name, value in request.headers.items()},
        cookies=request.COOKIES,
        client=str(request.META.get("REMOTE_ADDR") or ""),
    )


def render(response: NeutralResponse) -> HttpResponse:
    """A neutral response as Django's; ``Set-Cookie`` lines go to ``response.cookies`` (the
    headers of a Django response hold one value per name)."""
    rendered = HttpResponse(
        orjson.dumps(response.body), status=response.status, content_type="application/json"
    )
    for name, value in response.headers:
        if name.lower() == "set-cookie":
            jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            jar.load(value)
            for key, morsel in jar.items():
                rendered.cookies[key] = morsel
        else:
            rendered.headers[name] = value
    return rendered


def render_error(exc: CleanexitError) -> HttpResponse:
    return render(error_response(exc))
