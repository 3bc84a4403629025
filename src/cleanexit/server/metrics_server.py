"""Serving metrics on their own address, and the multiprocess flush (issue 15).

``CLEANEXIT_METRICS_ADDRESS`` gets a small HTTP listener of prometheus-client's own (a daemon
thread; any path answers the exposition text), so metrics never share the API's port or its
public exposure. With several worker processes every worker tries to bind it and one wins:
in multiprocess mode any of them answers for all (the others log it and go on).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from prometheus_client.exposition import start_http_server

from .metrics import Metrics

__all__ = ["Listener", "flush_forever", "serve_metrics"]

log = logging.getLogger("cleanexit.metrics")


class Listener(Protocol):
    def close(self) -> None: ...


class _Started:
    def __init__(self, server: Any) -> None:
        self.server = server

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(metrics: Metrics, where: tuple[str, int] | None) -> Listener | None:
    if where is None:
        return None
    host, port = where
    try:
        server, _ = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        if metrics.multiprocess:  # a sibling worker has it, and answers for every worker
            log.info("metrics listener %s:%d served by another worker (%s)", host, port, exc)
            return None
        raise
    log.info("metrics on http://%s:%d/metrics", host, port)
    return _Started(server)


async def flush_forever(metrics: Metrics) -> None:
    """Multiprocess mode: this worker's counts and gauges reach the shared files every
    ``FLUSH_EVERY`` seconds, so a scrape answered by any worker is at most that far behind."""
    if not metrics.multiprocess:
        return
    while True:
        await metrics.refresh_view()
        metrics.flush()
        await asyncio.sleep(metrics.FLUSH_EVERY)
