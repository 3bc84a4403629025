"""``CleanExit``: the Flask extension (``init_app`` pattern; no app is stored on it).

Everything an app gets comes from one ``Settings`` (issue 10): the ``/auth`` blueprint, the
handler that renders cleanexit's errors raised by ``@require_auth`` in the app's own views,
the body cap on ``/auth``, CORS for ``CLEANEXIT_CORS_ORIGINS``, and a ``RuntimeHost`` that
runs the store, the replica and the pruning on a loop of its own in each worker process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app

from ...errors import CleanexitError, ConfigurationError
from ...runtime import BUNDLED_USERS, Bundled, build_runtime
from ...server.claims import ClaimsHook
from ...server.sessions import Authenticator
from ...settings import Settings
from .._http import RuntimeHost
from .views import add_cors, auth_blueprint, neutral, on_cleanexit_error, render

__all__ = ["EXTENSION", "CleanExit", "host_of"]

EXTENSION = "cleanexit"


class CleanExit:
    """``CleanExit(app, settings, authenticator=..., claims=...)`` or ``init_app(app)``.

    ``settings``: default ``Settings()`` (``CLEANEXIT_*``). ``authenticator``: who checks
    passwords at ``/auth/login`` — the bundled user table (``cleanexit users add``), your
    object (``async def authenticate(username, password) -> sub | None``), or ``None`` for no
    password login (your views call ``start_session``). ``claims``: a hook adding application
    claims to every access token."""

    def __init__(
        self,
        app: Flask | None = None,
        settings: Settings | None = None,
        *,
        authenticator: Authenticator | Bundled | None = BUNDLED_USERS,
        claims: ClaimsHook | None = None,
        url_prefix: str = "/auth",
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.claims = claims
        self.url_prefix = url_prefix
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, settings: Settings | None = None) -> RuntimeHost:
        settings = settings or self.settings or Settings()
        authenticator, claims = self.authenticator, self.claims

        def build() -> Any:
            return build_runtime(settings, authenticator=authenticator, claims=claims)

        host = RuntimeHost(build, settings=settings)
        host.prepare()  # configuration errors stop the app here, not at its first request
        app.extensions[EXTENSION] = host
        blueprint = auth_blueprint(
            settings.max_body_bytes, password_login=authenticator is not None
        )
        app.register_blueprint(blueprint, url_prefix=self.url_prefix)
        app.register_error_handler(CleanexitError, on_cleanexit_error)
        add_cors(app, settings.cors_origin_list())
        return host

    @staticmethod
    def start_session(
        sub: str, *, claims: Mapping[str, Any] | None = None, cookie: bool = False
    ) -> Response:
        """The same answer as ``/auth/login`` (cookie mode included), for a user the app
        signed in its own way (OAuth callback, magic link, passkey)."""
        req = neutral()
        return render(
            host_of().call(
                lambda h: h.endpoints.start_session(req, sub, claims=claims, cookie=cookie)
            )
        )


def host_of(app: Flask | None = None) -> RuntimeHost:
    """The ``RuntimeHost`` of ``app`` (default: the current app)."""
    app = app or current_app
    host = app.extensions.get(EXTENSION)
    if not isinstance(host, RuntimeHost):
        raise ConfigurationError("cleanexit is not set up on this app: CleanExit().init_app(app)")
    return host
