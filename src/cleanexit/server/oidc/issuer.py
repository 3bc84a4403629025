"""A trusted external issuer (issue 11): whose tokens a resource server accepts, and how.

Everything that decides whether a provider's token is accepted is configuration, never the
token: the exact ``iss``, the audience, where the keys come from, the algorithms (RFC 8725
§3.1: public-key algorithms only — no ``none``, and no HMAC, whose "key" would be the public
one), an optional required ``typ``, and the longest lifetime accepted (RFC 8725 §3.10 asks
for short-lived tokens; the same bound sizes every revocation entry of this issuer).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ...errors import ConfigurationError

__all__ = ["ALGORITHMS", "LOGOUT_TOKEN_TYPE", "TrustedIssuer"]

ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 - Back-Channel Logout 1.0 §2.4
MAX_LIFETIME = 86400  # the longest access-token lifetime any setting accepts (verifier.py)
_MAX_STRING = 256


@dataclass(frozen=True, kw_only=True)
class TrustedIssuer:
    """One OpenID Provider (or any JWT issuer with a JWKS) whose access tokens are accepted.

    ``issuer``: the exact ``iss``. ``audience``: the ``aud`` this API requires (the provider's
    name for this API, e.g. Auth0's API identifier). ``jwks_uri``: where its keys are; unset,
    they are found through ``<issuer>/.well-known/openid-configuration``. ``algorithms``: any
    of RS256, PS256, ES256, EdDSA. ``typ``: a required access-token header type (``at+jwt``
    for RFC 9068 providers); unset, any but ``logout+jwt``. ``max_token_lifetime``: the longest
    ``exp - iat`` accepted, in seconds; a provider-wide revocation (a user cutoff, an ended
    session) is kept that long. ``client_id``: this application's client id at the provider,
    the ``aud`` of its back-channel logout tokens; unset, none are accepted from it.
    ``require_logout_typ``: refuse logout tokens without ``typ: logout+jwt`` (turn it off only
    for a provider that predates the final spec). ``access_tokens_have_sid``: whether its
    access tokens name their session; if not, ending a ``sid`` would stop none of them, so a
    logout token that also carries ``sub`` sets the user cutoff instead. ``logout_max_age``:
    how old a logout token's ``iat`` may be. ``jwks_cache_ttl`` / ``jwks_refresh_cooldown``:
    how long fetched keys are used before a refresh, and the least time between two fetches
    (an unknown ``kid`` asks for one, so made-up ``kid``\\s cannot make us hammer the
    provider).
    """

    issuer: str
    audience: str
    jwks_uri: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)
    typ: str | None = None
    max_token_lifetime: int = 3600
    client_id: str | None = None
    require_logout_typ: bool = True
    access_tokens_have_sid: bool = True
    logout_max_age: int = 300
    jwks_cache_ttl: float = 300.0
    jwks_refresh_cooldown: float = 10.0

    def __post_init__(self) -> None:
        # ConfigurationError, not ValueError: pydantic passes it through without quoting input.
        name = f"trusted issuer {self.issuer!r}" if _printable(self.issuer) else "trusted issuer"
        if not _printable(self.issuer) or not 0 < len(self.issuer) <= _MAX_STRING:
            raise ConfigurationError(
                f"{name}: issuer must be 1 to {_MAX_STRING} printable characters"
            )
        if self.jwks_uri is None:  # discovery needs an issuer URL (Discovery 1.0 §4)
            _url(self.issuer, f"{name}: issuer (without jwks_uri, keys are discovered from it)")
        if not _printable(self.audience) or not 0 < len(self.audience) <= _MAX_STRING:
            raise ConfigurationError(f"{name}: audience must be 1 to {_MAX_STRING} characters")
        if self.jwks_uri is not None:
            _url(self.jwks_uri, f"{name}: jwks_uri")
        self._check_algorithms(name)
        if self.typ is not None and (not self.typ or self.typ.lower() == LOGOUT_TOKEN_TYPE):
            raise ConfigurationError(f"{name}: typ must be an access-token type such as at+jwt")
        if not 0 < self.max_token_lifetime <= MAX_LIFETIME:
            raise ConfigurationError(
                f"{name}: max_token_lifetime must be 1 to {MAX_LIFETIME} seconds"
            )
        if self.client_id is not None and not (
            _printable(self.client_id) and 0 < len(self.client_id) <= _MAX_STRING
        ):
            raise ConfigurationError(f"{name}: client_id must be 1 to {_MAX_STRING} characters")
        if not 0 < self.logout_max_age <= 3600:
            raise ConfigurationError(f"{name}: logout_max_age must be 1 to 3600 seconds")
        if not (self.jwks_cache_ttl > 0 and self.jwks_refresh_cooldown >= 0):
            raise ConfigurationError(f"{name}: JWKS cache times must be positive")

    def _check_algorithms(self, name: str) -> None:
        algorithms = tuple(self.algorithms)
        object.__setattr__(self, "algorithms", algorithms)  # a JSON list arrives as a list
        wrong = [alg for alg in algorithms if alg not in ALGORITHMS]
        if not algorithms or wrong:
            hint = (
                " (HMAC would verify with a public value: RFC 8725 §2.1)"
                if any(str(a).upper().startswith("HS") for a in wrong)
                else ""
            )
            raise ConfigurationError(
                f"{name}: algorithms must be among {', '.join(sorted(ALGORITHMS))}, "
                f"not {', '.join(map(str, wrong)) or 'none'}{hint}"
            )

    @property
    def discovery_url(self) -> str:
        """OpenID Connect Discovery 1.0 §4: the configuration document of this issuer."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def insecure_urls(self) -> list[str]:
        """The configured URLs that are not https (refused in production)."""
        urls = [self.issuer, *([self.jwks_uri] if self.jwks_uri else [])]
        return [url for url in urls if urlsplit(url).scheme != "https"]


def _printable(value: object) -> bool:
    return isinstance(value, str) and value.isprintable()


def _url(value: str, what: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ConfigurationError(f"{what} must be an http(s) URL without a fragment")
