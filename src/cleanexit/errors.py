"""The one exception tree of cleanexit.

Every error carries a stable machine code (``error_code``) and a human description that never
contains token text. The HTTP integration is the only place that turns these into responses.

    CleanexitError                      cleanexit_error
    ├── ConfigurationError              configuration_error
    ├── CredentialsMissingError         (no code: RFC 6750 §3.1 says none for a missing token)
    ├── InvalidTokenError               invalid_token            RFC 6750 §3.1
    │   ├── MalformedTokenError             "malformed"
    │   ├── BadSignatureError               "bad signature"
    │   ├── ExpiredTokenError               "expired"
    │   ├── ImmatureTokenError              "not yet valid"
    │   ├── ClaimError                      wrong type / issuer / audience, missing claim
    │   └── RevokedTokenError               revoked, session ended, logged out everywhere
    ├── InvalidCredentialsError         invalid_credentials      wrong username or password
    ├── InvalidGrantError               invalid_grant            RFC 6749 §5.2 (refresh)
    ├── InvalidRequestError             invalid_request
    │   └── InvalidLogoutTokenError         a back-channel logout token refused (400)
    ├── InvalidClientError              invalid_client           RFC 7662 client auth
    ├── InsufficientScopeError          insufficient_scope       RFC 6750 §3.1 (403)
    ├── CsrfError                       csrf_failed
    ├── NotFoundError                   not_found
    ├── RateLimitedError                too_many_requests        HTTP 429 + Retry-After
    ├── KeysUnavailableError            temporarily_unavailable  no keys of a provider: fail closed
    └── StoreError                      store_error
        └── StoreUnavailableError       temporarily_unavailable  fail closed
"""

from __future__ import annotations

__all__ = [
    "BadSignatureError",
    "ClaimError",
    "CleanexitError",
    "ConfigurationError",
    "CredentialsMissingError",
    "CsrfError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InsufficientScopeError",
    "InvalidClientError",
    "InvalidCredentialsError",
    "InvalidGrantError",
    "InvalidLogoutTokenError",
    "InvalidRequestError",
    "InvalidTokenError",
    "KeysUnavailableError",
    "MalformedTokenError",
    "NotFoundError",
    "RateLimitedError",
    "RevokedTokenError",
    "StoreError",
    "StoreUnavailableError",
]


class CleanexitError(Exception):
    """Root of every error cleanexit raises on purpose."""

    error_code: str = "cleanexit_error"
    default_description: str = "cleanexit error"

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class ConfigurationError(CleanexitError):
    error_code = "configuration_error"
    default_description = "invalid configuration"


class CredentialsMissingError(CleanexitError):
    error_code = ""
    default_description = "no credentials were sent"


class InvalidTokenError(CleanexitError):
    error_code = "invalid_token"
    default_description = "invalid token"


class MalformedTokenError(InvalidTokenError):
    default_description = "malformed"


class BadSignatureError(InvalidTokenError):
    default_description = "bad signature"


class ExpiredTokenError(InvalidTokenError):
    default_description = "expired"


class ImmatureTokenError(InvalidTokenError):
    default_description = "not yet valid"


class ClaimError(InvalidTokenError):
    default_description = "invalid claim"


class RevokedTokenError(InvalidTokenError):
    default_description = "revoked"
    # Whose token it was (verified claims, never token text): for the audit line (issue 15).
    sub: str = ""
    sid: str = ""


class InvalidCredentialsError(CleanexitError):
    error_code = "invalid_credentials"
    default_description = "wrong username or password"


class InvalidGrantError(CleanexitError):
    """``reason`` tells a client what to do next (sent as ``error_reason``): ``race`` (the token
    was rotated moments ago by a concurrent request: adopt that pair, never just drop this
    token), ``reused`` (theft detected: the session was ended) or ``invalid``."""

    error_code = "invalid_grant"
    default_description = "the refresh token is invalid, expired, revoked or was already used"

    def __init__(self, description: str | None = None, *, reason: str = "invalid") -> None:
        super().__init__(description)
        self.reason = reason


class InvalidRequestError(CleanexitError):
    error_code = "invalid_request"
    default_description = "the request is malformed"


class InvalidLogoutTokenError(InvalidRequestError):
    """An OpenID Connect back-channel logout token that is refused: 400 (Back-Channel Logout
    1.0 §2.8), never 401 (the caller is the provider, not a bearer) and never a 5xx."""

    default_description = "invalid logout token"


class InvalidClientError(CleanexitError):
    error_code = "invalid_client"
    default_description = "client authentication failed"


class InsufficientScopeError(CleanexitError):
    """A valid token without a scope the route needs (RFC 6750 §3.1: 403, and the challenge
    names the scopes that would do)."""

    error_code = "insufficient_scope"
    default_description = "the access token lacks a scope this request needs"

    def __init__(self, description: str | None = None, *, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.scopes = scopes


class CsrfError(CleanexitError):
    error_code = "csrf_failed"
    default_description = "missing or mismatched X-CSRF-Token header"


class NotFoundError(CleanexitError):
    error_code = "not_found"
    default_description = "not found"


class RateLimitedError(CleanexitError):
    """Too many failed attempts from one address; ``retry_after`` is in whole seconds."""

    error_code = "too_many_requests"
    default_description = "too many failed attempts; try again later"

    def __init__(self, description: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(description)
        self.retry_after = max(1, retry_after)


class KeysUnavailableError(CleanexitError):
    """No key of an external issuer could ever be fetched (its JWKS is unreachable and none
    was fetched before): its tokens cannot be checked, so they are refused with 503 (fail
    closed), never accepted unchecked. Keys fetched once are kept when a refresh fails."""

    error_code = "temporarily_unavailable"
    default_description = "the identity provider's keys cannot be fetched; try again shortly"


class StoreError(CleanexitError):
    error_code = "store_error"
    default_description = "revocation store error"


class StoreUnavailableError(StoreError):
    error_code = "temporarily_unavailable"
    default_description = "the revocation state cannot be trusted right now; try again shortly"
