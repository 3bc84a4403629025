"""An issuer's keys, fetched from its JWKS without ever blocking the event loop (issue 11).

``JwksCache`` keeps the keys in memory. A token whose key is known costs a dictionary lookup;
past the cache lifetime a refresh starts in the background and requests keep the keys they
have. An unknown ``kid`` (a rotation at the provider) fetches at once — at most once per
cooldown, so a flood of made-up ``kid``\\s costs the provider one request per cooldown, not
one per token (PyJWT's ``PyJWKClient`` blocks on ``urllib`` and refetches on every one). A
failed refresh keeps the last good keys; with no keys ever fetched, the issuer's tokens are
refused with ``KeysUnavailableError`` (503, fail closed), never accepted unchecked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ...clock import Clock, system_clock
from ...errors import BadSignatureError, KeysUnavailableError
from .issuer import TrustedIssuer
from .jws import PublicKey, public_keys

__all__ = ["MAX_DOCUMENT_BYTES", "Fetch", "FetchError", "HttpFetch", "JwksCache"]

log = logging.getLogger("cleanexit.oidc")
Fetch = Callable[[str], Awaitable[object]]  # GET a JSON document, or raise FetchError
MAX_DOCUMENT_BYTES = 512 * 1024  # a JWKS or discovery document; real ones are a few KiB


class FetchError(Exception):
    """A JWKS or discovery document could not be fetched or read (logged, never served)."""


class HttpFetch:
    """``await fetch(url)``: one GET with httpx's async client, no redirects, bounded time and
    size. The client is made on first use (inside the running event loop)."""

    def __init__(self, *, timeout: float = 5.0, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client: Any = None

    async def __call__(self, url: str) -> object:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,  # the configured URL, not wherever it points
                headers={"accept": "application/json"},
            )
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code} from {url}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise FetchError(f"{url}: document larger than {self.max_bytes} bytes")
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}"[:300]) from exc
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise FetchError(f"{url}: not JSON") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class JwksCache:
    """The keys of one issuer; see the module docstring. ``version`` moves whenever the set
    of keys changes, so a verifier's per-header cache knows to forget what it derived."""

    def __init__(self, issuer: TrustedIssuer, *, fetch: Fetch, clock: Clock = system_clock) -> None:
        self.issuer = issuer
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[tuple[str, str], PublicKey] = {}  # (kid, alg) -> key
        self.version = 0
        self.fetched_at = -math.inf  # last successful fetch
        self._attempted_at = -math.inf  # last fetch started, successful or not
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[bool] | None = None

    def __repr__(self) -> str:
        return f"JwksCache(issuer={self.issuer.issuer!r}, keys={len(self._keys)})"

    @property
    def has_keys(self) -> bool:
        return bool(self._keys)

    def lookup(self, kid: str | None, alg: str) -> PublicKey | None:
        """The key a token header names, from memory. Without a ``kid``, only when exactly one
        key of that algorithm exists (nothing is guessed among several)."""
        if kid is not None:
            return self._keys.get((kid, alg))
        found = [key for (_, a), key in self._keys.items() if a == alg]
        return found[0] if len(found) == 1 else None

    async def key(self, kid: str | None, alg: str) -> PublicKey:
        """The key, refreshing when the lifetime is over (in the background) or the ``kid`` is
        unknown (now, once per cooldown); ``BadSignatureError`` for a key that does not exist,
        ``KeysUnavailableError`` when no key could ever be fetched."""
        key = self.lookup(kid, alg)
        if key is not None:
            if self._clock() >= self.fetched_at + self.issuer.jwks_cache_ttl:
                self.refresh_soon()
            return key
        await self.refresh()
        key = self.lookup(kid, alg)
        if key is not None:
            return key
        if not self._keys:
            raise KeysUnavailableError()
        raise BadSignatureError("bad signature: unknown key")

    def refresh_soon(self) -> None:
        """Start a refresh in the background unless one is running or the cooldown says no."""
        if (self._background is None or self._background.done()) and self._may_fetch():
            self._background = asyncio.get_running_loop().create_task(
                self.refresh(), name=f"cleanexit-jwks-{self.issuer.issuer}"
            )

    def _may_fetch(self) -> bool:
        return self._clock() - self._attempted_at >= self.issuer.jwks_refresh_cooldown

    async def refresh(self) -> bool:
        """Fetch the keys unless the cooldown forbids it (single flight: callers waiting on a
        fetch in progress share its result). True when keys were fetched."""
        async with self._lock:
            if not self._may_fetch():
                return False
            self._attempted_at = self._clock()
            try:
                keys = public_keys(await self._document(), self.issuer.algorithms)
                if not keys:  # a glitch at the provider must not cost us the keys we have
                    algorithms = ", ".join(self.issuer.algorithms)
                    raise ValueError(f"no key usable with {algorithms}")
            except (FetchError, ValueError) as exc:
                self.last_error = str(exc)
                kept = f"keeping {len(self._keys)} key(s)" if self._keys else "no keys yet"
                log.warning("JWKS of %s not refreshed (%s): %s", self.issuer.issuer, kept, exc)
                return False
            self._install(keys)
            return True

    async def _document(self) -> object:
        uri = self.issuer.jwks_uri or await self._discover()
        return await self._fetch(uri)

    async def _discover(self) -> str:
        document = await self._fetch(self.issuer.discovery_url)
        if not isinstance(document, dict):
            raise FetchError(f"{self.issuer.discovery_url}: not a JSON object")
        # Discovery 1.0 §4.3: the document must name exactly the issuer it was fetched for.
        if document.get("issuer") != self.issuer.issuer:
            raise FetchError(f"{self.issuer.discovery_url}: names another issuer")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise FetchError(f"{self.issuer.discovery_url}: no jwks_uri")
        return uri

    def _install(self, keys: list[PublicKey]) -> None:
        self._keys = {(k.kid, k.algorithm): k for k in keys}
        self.fetched_at, self.last_error = self._clock(), None
        self.version += 1  # the same kids may carry new material: derived caches forget

    async def close(self) -> None:
        task, self._background = self._background, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def status(self) -> dict[str, Any]:
        return {
            "keys": sorted(kid for kid, _ in self._keys),
            "fetched_at": self.fetched_at if self._keys else None,
            "error": self.last_error,
        }
