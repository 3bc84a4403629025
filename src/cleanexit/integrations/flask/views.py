"""The ``/auth`` blueprint: Flask requests in, ``AuthEndpoints`` decide, Flask responses out.

Nothing is decided here: bodies are validated by ``_http.parse_body`` (the pydantic models
every adapter shares), the endpoints run on the host's loop, errors are rendered by
``_http.error_response``. Flask's own errors under ``/auth`` (413 past the body cap, a body
that cannot be read) become the same JSON, never an HTML page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import orjson
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ...errors import CleanexitError
from .._http import (
    Hosted,
    LoginBody,
    LogoutBody,
    RefreshBody,
    backchannel_logout,
    check_form_token,
    error_response,
    parse_body,
)
from .._http import Request as HttpRequest
from .._http import Response as HttpResponse
from .._http.cors import cors_headers

__all__ = ["add_cors", "auth_blueprint", "neutral", "on_cleanexit_error", "render"]

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def neutral() -> HttpRequest:
    """The current Flask request as the endpoints see it."""
    return HttpRequest(
        headers={name.lower(): value for name, value in request.headers.items()},
        cookies=request.cookies,
        client=request.remote_addr or "",
    )


def render(response: HttpResponse) -> Response:
    """A neutral response as Flask's (repeated headers such as ``Set-Cookie`` kept)."""
    return current_app.response_class(
        orjson.dumps(response.body),
        status=response.status,
        headers=response.headers,
        mimetype="application/json",
    )


def on_cleanexit_error(exc: CleanexitError) -> Response:
    return render(error_response(exc))


def _on_http_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    body = {"error": _HTTP_CODES.get(status, "invalid_request"), "error_description": exc.name}
    return render(HttpResponse(status, body))


def _run(work: Callable[[Hosted], Awaitable[HttpResponse]]) -> Response:
    from .extension import host_of

    return render(host_of().call(work))


def auth_blueprint(limit: int, *, password_login: bool = True) -> Blueprint:
    """The ``/auth`` routes; ``limit``: the largest body read (``CLEANEXIT_MAX_BODY_BYTES``)."""
    bp = Blueprint("cleanexit", __name__)

    @bp.before_request
    def cap_body() -> None:
        request.max_content_length = limit  # werkzeug answers 413 past it, chunked or not

    if password_login:  # an app that signs users in itself has no /login

        @bp.post("/login")
        def login() -> Response:
            body = parse_body(LoginBody, request.get_data())
            req = neutral()
            return _run(lambda h: h.endpoints.login(body, req))

    @bp.post("/refresh")
    def refresh() -> Response:
        body = parse_body(RefreshBody, request.get_data(), optional=True)
        req = neutral()
        return _run(lambda h: h.endpoints.refresh(body, req))

    @bp.post("/logout")
    def logout() -> Response:
        body = parse_body(LogoutBody, request.get_data(), optional=True)
        req = neutral()
        return _run(lambda h: h.endpoints.logout(body, req))

    @bp.get("/sessions")
    def sessions() -> Response:
        req = neutral()
        return _run(lambda h: h.endpoints.sessions(req))

    @bp.delete("/sessions/<session_id>")
    def end_session(session_id: str) -> Response:
        req = neutral()
        return _run(lambda h: h.endpoints.end_session(session_id, req))

    @bp.post("/revoke")
    def revoke() -> Response:
        token = check_form_token(request.form.get("token"))
        return _run(lambda h: h.endpoints.revoke(token))

    @bp.post("/introspect")
    def introspect() -> Response:
        token = check_form_token(request.form.get("token"))
        req = neutral()
        return _run(lambda h: h.endpoints.introspect(token, req))

    @bp.post("/backchannel-logout")  # issue 11: OpenID Connect Back-Channel Logout 1.0
    def backchannel() -> Response:
        token = request.form.get("logout_token")
        return _run(lambda h: backchannel_logout(h.runtime.providers, token))

    bp.register_error_handler(CleanexitError, on_cleanexit_error)
    bp.register_error_handler(HTTPException, _on_http_error)
    return bp


def add_cors(app: Flask, origins: Sequence[str]) -> None:
    """``CLEANEXIT_CORS_ORIGINS``: exact origins, with credentials (none by default)."""
    if not origins:
        return

    @app.before_request
    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        headers = cors_headers(request.headers.get("Origin"), origins, preflight=True)
        return Response(status=200 if len(headers) > 1 else 400, headers=headers)

    @app.after_request
    def simple(response: Response) -> Response:
        if request.method != "OPTIONS":
            for name, value in cors_headers(
                request.headers.get("Origin"), origins, preflight=False
            ):
                response.headers.add(name, value)
        return response
