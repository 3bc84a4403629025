"""The ``/auth`` views: Django requests in, ``AuthEndpoints`` decide, Django responses out.

Sync views (a WSGI worker's thread blocks on the host's loop; under ASGI Django runs them in
a thread): nothing is decided here. They are exempt from Django's CSRF middleware on purpose:
a bearer token or a body refresh token is no ambient credential, and the refresh cookie is
guarded by cleanexit's own double-submit check (``X-CSRF-Token``), as in every adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ...errors import CleanexitError, InvalidRequestError, NotFoundError
from .._http import (
    Hosted,
    LoginBody,
    LogoutBody,
    RefreshBody,
    backchannel_logout,
    check_form_token,
    parse_body,
)
from .._http import Response as NeutralResponse
from .host import get_host
from .messages import neutral, render, render_error

__all__ = [
    "backchannel",
    "end_session",
    "introspect",
    "login",
    "logout",
    "refresh",
    "revoke",
    "sessions",
]

View = Callable[..., HttpResponse]


class _TooLarge(Exception):
    pass


def _endpoint(*methods: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except CleanexitError as exc:
                return render_error(exc)
            except (_TooLarge, RequestDataTooBig):
                body = {"error": "request_too_large", "error_description": "body is too large"}
                return render(NeutralResponse(413, body))

        checked: View = csrf_exempt(require_http_methods(list(methods))(answered))
        return checked

    return decorate


def _body(request: HttpRequest) -> bytes:
    settings = get_host().settings
    limit = settings.max_body_bytes if settings else 64 * 1024
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > limit:
        raise _TooLarge
    body: bytes = request.body
    return body


def _form_token(request: HttpRequest) -> str:
    return check_form_token(_form_field(request, "token"))


def _form_field(request: HttpRequest, name: str) -> str | None:
    _body(request)
    try:
        value: str | None = request.POST.get(name)
    except (MultiPartParserError, SuspiciousOperation, ValueError):
        raise InvalidRequestError("unreadable form body") from None
    return value


def _run(work: Callable[[Hosted], Awaitable[NeutralResponse]]) -> HttpResponse:
    return render(get_host().call(work))


@_endpoint("POST")
def login(request: HttpRequest) -> HttpResponse:
    body = parse_body(LoginBody, _body(request))
    req = neutral(request)

    def work(h: Hosted) -> Awaitable[NeutralResponse]:
        if not h.endpoints.password_login:  # the app signs users in itself
            raise NotFoundError("no password login here")
        return h.endpoints.login(body, req)

    return _run(work)


@_endpoint("POST")
def refresh(request: HttpRequest) -> HttpResponse:
    body = parse_body(RefreshBody, _body(request), optional=True)
    req = neutral(request)
    return _run(lambda h: h.endpoints.refresh(body, req))


@_endpoint("POST")
def logout(request: HttpRequest) -> HttpResponse:
    body = parse_body(LogoutBody, _body(request), optional=True)
    req = neutral(request)
    return _run(lambda h: h.endpoints.logout(body, req))


@_endpoint("GET")
def sessions(request: HttpRequest) -> HttpResponse:
    req = neutral(request)
    return _run(lambda h: h.endpoints.sessions(req))


@_endpoint("DELETE")
def end_session(request: HttpRequest, session_id: str) -> HttpResponse:
    req = neutral(request)
    return _run(lambda h: h.endpoints.end_session(session_id, req))


@_endpoint("POST")
def revoke(request: HttpRequest) -> HttpResponse:
    token = _form_token(request)
    return _run(lambda h: h.endpoints.revoke(token))


@_endpoint("POST")
def introspect(request: HttpRequest) -> HttpResponse:
    token = _form_token(request)
    req = neutral(request)
    return _run(lambda h: h.endpoints.introspect(token, req))


@_endpoint("POST")
def backchannel(request: HttpRequest) -> HttpResponse:
    """Issue 11: OpenID Connect Back-Channel Logout 1.0 (form field ``logout_token``)."""
    token = _form_field(request, "logout_token")
    return _run(lambda h: backchannel_logout(h.runtime.providers, token))
