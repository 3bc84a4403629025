"""``GET /metrics`` on the API's own port, behind a Bearer token (issue 15), for every adapter.

Metrics say how many people sign in, fail, get throttled or have sessions ended: not for the
public. Either they get their own listener (``CLEANEXIT_METRICS_ADDRESS``, bound where only
the monitoring network reaches), or this route, which answers only a scrape that presents
``CLEANEXIT_METRICS_TOKEN`` (Prometheus ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import hashlib
import hmac

from ...server.metrics import CONTENT_TYPE, Metrics

__all__ = ["MetricsEndpoint"]


class MetricsEndpoint:
    """``await endpoint(authorization_header)`` -> ``(status, headers, body)``."""

    def __init__(self, metrics: Metrics, *, token: str) -> None:
        self.metrics = metrics
        self._digest = _digest(token)

    async def __call__(self, authorization: str) -> tuple[int, list[tuple[str, str]], bytes]:
        scheme, _, sent = authorization.partition(" ")
        # Digests of equal length: neither the token's length nor the guess's shows in time.
        ok = scheme.lower() == "bearer" and hmac.compare_digest(_digest(sent.strip()), self._digest)
        if not ok:
            challenge = 'Bearer realm="cleanexit-metrics"'
            body = b'{"error":"unauthorized","error_description":"metrics need their token"}'
            headers = [("WWW-Authenticate", challenge), ("Content-Type", "application/json")]
            return 401, [*headers, ("Cache-Control", "no-store")], body
        text = await self.metrics.render()
        return 200, [("Content-Type", CONTENT_TYPE), ("Cache-Control", "no-store")], text


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
