"""Django REST framework: ``CleanexitAuthentication`` and the ``HasScope`` permission.

``authenticate`` returns ``(user, claims)``: ``request.user`` is a ``TokenUser`` built from
the verified claims (no database query on the hot path; ``pk`` is the ``sub``), and
``request.auth`` the ``AccessClaims``. ``CleanexitModelAuthentication`` loads the user model
instance instead (one query per request, inactive users refused). A request without a bearer
token is left to the next authentication class; a refused token is our RFC 6750 answer with
its description (``expired``, ``revoked: session ended``) and our JSON body; an unsure
revocation state is 503 with ``Retry-After``. ``authenticate_header`` makes DRF answer 401
with the challenge, not 403, when credentials are missing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ...errors import CleanexitError, InvalidTokenError
from ...server.tokens import AccessClaims
from .._http import REALM, AuthEndpoints, error_response
from .host import get_host

__all__ = [
    "CleanexitAPIError",
    "CleanexitAuthentication",
    "CleanexitModelAuthentication",
    "HasScope",
    "TokenUser",
    "api_error",
]


class CleanexitAPIError(exceptions.APIException):
    """A cleanexit error as DRF renders it: our status, JSON body and headers."""

    def __init__(self, exc: CleanexitError) -> None:
        neutral = error_response(exc)
        self.status_code = neutral.status
        super().__init__(detail=neutral.body)
        headers = dict(neutral.headers)
        # DRF's exception handler sends these two (and keeps a non-Auth exception's own).
        self.auth_header = headers.get("WWW-Authenticate")
        self.wait = int(headers["Retry-After"]) if "Retry-After" in headers else None


def api_error(exc: CleanexitError) -> CleanexitAPIError:
    return CleanexitAPIError(exc)


class TokenUser:
    """``request.user`` from the verified claims alone (as simplejwt's ``TokenUser``)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims
        self.pk = self.id = claims.sub

    def get_username(self) -> str:
        return self.claims.sub

    def __str__(self) -> str:
        return f"TokenUser {self.claims.sub}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.pk == self.pk

    def __hash__(self) -> int:
        return hash(self.pk)


class CleanexitAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, AccessClaims] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header or header.partition(" ")[0].lower() != "bearer":
            return None  # not ours: the next authentication class may know it
        try:
            claims = get_host().authenticate(header)
            return self.get_user(claims), claims
        except CleanexitError as exc:
            raise api_error(exc) from None

    def get_user(self, claims: AccessClaims) -> Any:
        return TokenUser(claims)

    def authenticate_header(self, request: Request) -> str:
        return REALM


class CleanexitModelAuthentication(CleanexitAuthentication):
    """``request.user`` is the user model instance (``pk == sub``): one query per request."""

    def get_user(self, claims: AccessClaims) -> Any:
        model = get_user_model()
        user = model._default_manager.filter(pk=claims.sub).first()
        if user is None or not getattr(user, "is_active", True):
            raise InvalidTokenError("user inactive or deleted")
        return user


def HasScope(*scopes: str) -> type[BasePermission]:
    """``permission_classes = [HasScope("orders:read")]``: 403 ``insufficient_scope``."""
    needed = tuple(scopes)

    class HasScopes(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            claims = request.auth
            if not isinstance(claims, AccessClaims):
                return False  # DRF answers 401 with our challenge: not authenticated
            try:
                AuthEndpoints.check_scopes(claims, needed)
            except CleanexitError as exc:
                raise api_error(exc) from None
            return True

    HasScopes.__name__ = f"HasScope_{'_'.join(needed)}"
    return HasScopes
