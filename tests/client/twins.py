"""Run the same behaviour tests against :class:`Client` and :class:`AsyncClient`.

The async client runs on an event loop in a helper thread (an anyio blocking portal); the
test calls it as if it were synchronous.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from anyio.from_thread import BlockingPortal

from cleanexit.client import AsyncClient


class AsyncTwin:
    """Calls an :class:`AsyncClient`'s coroutine methods through a blocking portal."""

    kind = "async"

    def __init__(self, client: AsyncClient, portal: BlockingPortal) -> None:
        self.client = client
        self.portal = portal

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **k: self.portal.call(functools.partial(attr, *a, **k))
        return attr

    def close(self) -> None:
        self.portal.call(self.client.aclose)
