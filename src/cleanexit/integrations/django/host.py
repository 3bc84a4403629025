"""The process's ``RuntimeHost``, built from ``settings.CLEANEXIT`` at first use.

One per process (Django has one settings module): WSGI workers and ASGI servers alike run
cleanexit's store on its own loop (``integrations._http.host``), so a sync view, a DRF view
and an async view all use one runtime, and the stores stay bound to one loop.
"""

from __future__ import annotations

import threading

from ...runtime import build_runtime
from .._http import RuntimeHost
from .conf import authenticator_from_django, claims_from_django, settings_from_django

__all__ = ["get_host", "reset_host"]

_host: RuntimeHost | None = None
_lock = threading.Lock()


def get_host() -> RuntimeHost:
    """This process's host (built, not started: it starts at its first use)."""
    host = _host
    return host if host is not None else _build()


def _build() -> RuntimeHost:
    global _host
    with _lock:
        if _host is None:
            settings = settings_from_django()
            authenticator, claims = authenticator_from_django(), claims_from_django()
            host = RuntimeHost(
                lambda: build_runtime(settings, authenticator=authenticator, claims=claims),
                settings=settings,
            )
            host.prepare()
            _host = host
        return _host


def reset_host() -> None:
    """Stop and forget the host (tests that change ``settings.CLEANEXIT``)."""
    global _host
    with _lock:
        host, _host = _host, None
    if host is not None:
        host.close()
