"""Framework-free HTTP: the ``/auth`` endpoint logic, error rendering and neutral messages.

Every framework adapter (``integrations.fastapi``, ``.flask``, ``.django``) is thin glue over
this package, so a behaviour is decided once and pinned by one conformance suite.
"""

from __future__ import annotations

from .backchannel import BACKCHANNEL_PATH, BackchannelEndpoint, backchannel_logout
from .endpoints import (
    CSRF_COOKIE,
    CSRF_HEADER,
    REFRESH_COOKIE,
    AuthEndpoints,
    LoginBody,
    LogoutBody,
    RefreshBody,
    bearer,
    check_form_token,
    describe_validation,
    endpoints_for,
    parse_body,
)
from .errors import REALM, error_response, status_of
from .host import Hosted, RuntimeHost
from .messages import NO_STORE, Request, Response

__all__ = [
    "BACKCHANNEL_PATH",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "NO_STORE",
    "REALM",
    "REFRESH_COOKIE",
    "AuthEndpoints",
    "BackchannelEndpoint",
    "Hosted",
    "LoginBody",
    "LogoutBody",
    "RefreshBody",
    "Request",
    "Response",
    "RuntimeHost",
    "backchannel_logout",
    "bearer",
    "check_form_token",
    "describe_validation",
    "endpoints_for",
    "error_response",
    "parse_body",
    "status_of",
]
