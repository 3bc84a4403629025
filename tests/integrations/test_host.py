"""``RuntimeHost``: the core's loop in a thread of its own, per process (issue 12)."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path

import pytest

from cleanexit.errors import CredentialsMissingError, RevokedTokenError
from cleanexit.integrations._http import RuntimeHost
from cleanexit.runtime import build_runtime
from cleanexit.settings import Settings


@pytest.fixture
def host(tmp_path: Path) -> RuntimeHost:
    settings = Settings(data_dir=tmp_path, secret="0123456789abcdefghijklmnopqrstuvwxyz-host")
    host = RuntimeHost(lambda: build_runtime(settings, authenticator=None))
    yield host
    host.close()


def test_sync_and_async_callers_share_one_loop(host: RuntimeHost) -> None:
    pair = host.call(lambda h: h.runtime.service.start_session("alice"))
    claims = host.authenticate(f"Bearer {pair.access_token}")
    assert claims.sub == "alice"

    async def elsewhere() -> str:  # another event loop, as in an ASGI server or asgiref
        again = await host.aauthenticate(f"Bearer {pair.access_token}")
        await host.acall(lambda h: h.runtime.service.logout(bearer=pair.access_token))
        return again.sid

    assert asyncio.run(elsewhere()) == pair.session_id
    with pytest.raises(RevokedTokenError):
        host.authenticate(f"Bearer {pair.access_token}")
    with pytest.raises(CredentialsMissingError):
        host.authenticate(None)
    assert host.hosted().thread.name == "cleanexit-loop"


def test_a_fresh_view_answers_on_the_callers_thread(host: RuntimeHost) -> None:
    pair = host.call(lambda h: h.runtime.service.start_session("alice"))
    guard = host.hosted().guard
    host.authenticate(f"Bearer {pair.access_token}")  # the first pull happened at start
    hops: list[str] = []
    real = guard.check

    async def check(claims):  # type: ignore[no-untyped-def]
        hops.append(threading.current_thread().name)
        await real(claims)

    guard.check = check  # type: ignore[method-assign]
    for _ in range(50):
        host.authenticate(f"Bearer {pair.access_token}")
    assert hops == []


def _child(host: RuntimeHost, token: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        claims = host.authenticate(f"Bearer {token}")
        out.put(("ok", claims.sub, host.hosted().thread.is_alive()))
    except Exception as exc:
        out.put(("error", type(exc).__name__, False))
    finally:
        host.close()


def test_a_forked_worker_runs_its_own_loop(host: RuntimeHost) -> None:
    """gunicorn --preload: the master started it, a forked worker must not use its loop."""
    pair = host.call(lambda h: h.runtime.service.start_session("alice"))
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child, args=(host, pair.access_token, out))
    child.start()
    child.join(30)
    assert out.get(timeout=5) == ("ok", "alice", True)
    assert host.authenticate(f"Bearer {pair.access_token}").sub == "alice"  # parent unharmed


def test_the_loop_does_not_inherit_the_callers_context(host: RuntimeHost) -> None:
    """asgiref routes sync_to_async by context variables: a leaked request context made
    Django's ASGI login wait forever for the request thread that was waiting for it."""
    import contextvars

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="clean")
    marker.set("request context")

    async def seen(_: object) -> str:
        return marker.get()

    assert host.call(seen) == "clean"
    assert asyncio.run(host.acall(seen)) == "clean"
