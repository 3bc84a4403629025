"""``POST /auth/backchannel-logout``: the OpenID Connect Back-Channel Logout 1.0 receiver
(issue 11), written once for every framework.

The provider posts a form with ``logout_token`` (§2.5). Success is ``200`` with what was
recorded; a token refused for any reason is ``400`` with ``{"error": "invalid_request",
"error_description": "logout token refused: <which check>"}`` (§2.8); bad input never gets a
5xx — only a store or a JWKS that cannot be reached does (503, so the provider may retry).
Every answer carries ``Cache-Control: no-store`` (§2.8). An adapter mounts it with
``BACKCHANNEL_PATH`` under its ``/auth`` prefix and hands over the form field as it came.
"""

from __future__ import annotations

from ...errors import CleanexitError, InvalidLogoutTokenError, NotFoundError
from ...server.oidc import Providers
from .errors import error_response
from .messages import Response

__all__ = ["BACKCHANNEL_PATH", "MAX_LOGOUT_TOKEN", "BackchannelEndpoint", "backchannel_logout"]

BACKCHANNEL_PATH = "/backchannel-logout"
MAX_LOGOUT_TOKEN = 8192  # the external verifier's own limit on any provider token


class BackchannelEndpoint:
    """The logic of ``POST /auth/backchannel-logout``."""

    def __init__(self, providers: Providers) -> None:
        self.providers = providers

    async def logout(self, logout_token: object) -> Response:
        """``logout_token``: the form field, as received (``None`` when it is missing)."""
        try:
            if not isinstance(logout_token, str) or not 0 < len(logout_token) <= MAX_LOGOUT_TOKEN:
                raise InvalidLogoutTokenError(
                    f"logout_token: a form field of 1 to {MAX_LOGOUT_TOKEN} characters"
                )
            result = await self.providers.logout(logout_token)
        except CleanexitError as exc:
            return error_response(exc)
        return Response(200, result.to_dict())


async def backchannel_logout(providers: Providers | None, logout_token: object) -> Response:
    """For adapters that mount the route whatever the configuration (Flask, Django): 404
    where no trusted issuer has a ``client_id`` to send logout tokens to."""
    if providers is None or not providers.backchannel_logout:
        return error_response(NotFoundError("no back-channel logout is configured here"))
    return await BackchannelEndpoint(providers).logout(logout_token)
