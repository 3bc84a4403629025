"""Resource-server mode (issue 11): tokens cleanexit did not issue.

Trusted external issuers (``TrustedIssuer``), their keys (``JwksCache``), the verifier of their
access tokens (``ExternalVerifier``), the OpenID Connect Back-Channel Logout 1.0 receiver and
revocation from outside (``Providers``). Their tokens go through the same revocation view as
our own, keyed by issuer.
"""

from __future__ import annotations

from .issuer import ALGORITHMS, LOGOUT_TOKEN_TYPE, TrustedIssuer
from .jwks import FetchError, HttpFetch, JwksCache
from .logout import BACKCHANNEL_LOGOUT_EVENT, LogoutToken, read_logout_token
from .service import ProviderRevocation, Providers
from .verifier import ExternalVerifier, IssuerVerifier

__all__ = [
    "ALGORITHMS",
    "BACKCHANNEL_LOGOUT_EVENT",
    "LOGOUT_TOKEN_TYPE",
    "ExternalVerifier",
    "FetchError",
    "HttpFetch",
    "IssuerVerifier",
    "JwksCache",
    "LogoutToken",
    "ProviderRevocation",
    "Providers",
    "TrustedIssuer",
    "read_logout_token",
]
