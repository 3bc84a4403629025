"""An issuer's keys: fetched asynchronously, refreshed on their lifetime and on an unknown
``kid`` at most once per cooldown, kept when a refresh fails, 503 when there are none."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cleanexit.clock import ManualClock
from cleanexit.errors import BadSignatureError, KeysUnavailableError
from cleanexit.server.oidc import FetchError, HttpFetch, JwksCache

from .provider import JWKS_URI, OP, T0, FakeFetch, Provider, trusted

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def op() -> Provider:
    provider = Provider()
    provider.add("RS256", kid="k1")
    return provider


def cache_for(fetch: Any, clock: ManualClock, **options: Any) -> JwksCache:
    return JwksCache(trusted(**options), fetch=fetch, clock=clock)


async def test_first_use_fetches_then_memory_answers(op: Provider, clock: ManualClock) -> None:
    fetch = FakeFetch({JWKS_URI: op.jwks})
    cache = cache_for(fetch, clock)
    assert (await cache.key("k1", "RS256")).kid == "k1"
    for _ in range(100):
        await cache.key("k1", "RS256")
    assert fetch.calls == [JWKS_URI]


async def test_made_up_kids_cost_one_fetch_per_cooldown(op: Provider, clock: ManualClock) -> None:
    """A flood of unknown kids must not make us hammer the provider (PyJWKClient refetches
    on each one)."""
    fetch = FakeFetch({JWKS_URI: op.jwks})
    cache = cache_for(fetch, clock, jwks_refresh_cooldown=10.0)
    await cache.key("k1", "RS256")
    results = await asyncio.gather(
        *(cache.key(f"made-up-{i}", "RS256") for i in range(200)), return_exceptions=True
    )
    assert all(isinstance(r, BadSignatureError) for r in results)
    assert len(fetch.calls) == 1  # the first fetch; the flood came within its cooldown
    clock.advance(10)
    with pytest.raises(BadSignatureError, match="unknown key"):
        await cache.key("made-up-again", "RS256")
    assert len(fetch.calls) == 2


async def test_a_rotation_is_picked_up_on_the_new_kid(op: Provider, clock: ManualClock) -> None:
    fetch = FakeFetch({JWKS_URI: op.jwks})
    cache = cache_for(fetch, clock)
    await cache.key("k1", "RS256")
    clock.advance(11)  # past the cooldown since the last fetch
    op.add("RS256", kid="k2")
    assert (await cache.key("k2", "RS256")).kid == "k2"
    assert (await cache.key("k1", "RS256")).kid == "k1"  # the old key is still published


async def test_concurrent_first_uses_share_one_fetch(op: Provider, clock: ManualClock) -> None:
    fetch = FakeFetch({JWKS_URI: op.jwks})
    fetch.gate = asyncio.Event()
    cache = cache_for(fetch, clock)
    waiting = [asyncio.ensure_future(cache.key("k1", "RS256")) for _ in range(20)]
    await asyncio.sleep(0.01)
    fetch.gate.set()
    assert {k.kid for k in await asyncio.gather(*waiting)} == {"k1"}
    assert fetch.calls == [JWKS_URI]


async def test_past_its_lifetime_a_refresh_runs_in_the_background(
    op: Provider, clock: ManualClock
) -> None:
    fetch = FakeFetch({JWKS_URI: op.jwks})
    cache = cache_for(fetch, clock, jwks_cache_ttl=60.0)
    await cache.key("k1", "RS256")
    fetch.gate = asyncio.Event()  # the provider is slow now
    clock.advance(61)
    started = time.monotonic()
    assert (await cache.key("k1", "RS256")).kid == "k1"  # answered at once, from memory
    assert time.monotonic() - started < 0.05
    await asyncio.sleep(0)  # the refresh task starts, and waits for the provider
    assert fetch.calls == [JWKS_URI, JWKS_URI]  # ... while the refresh waits
    del op.keys["k1"]
    op.add("RS256", kid="k3")
    fetch.gate.set()
    await asyncio.sleep(0.01)
    assert cache.lookup("k1", "RS256") is None and cache.lookup("k3", "RS256") is not None


async def test_a_failed_refresh_keeps_the_last_good_keys(op: Provider, clock: ManualClock) -> None:
    documents: dict[str, Any] = {JWKS_URI: op.jwks}
    fetch = FakeFetch(documents)
    cache = cache_for(fetch, clock, jwks_cache_ttl=60.0)
    await cache.key("k1", "RS256")
    for broken in (FetchError("HTTP 503"), {"keys": []}, {"no": "keys"}, ["not", "a", "set"]):
        documents[JWKS_URI] = broken
        clock.advance(61)
        assert await cache.refresh() is False
        assert (await cache.key("k1", "RS256")).kid == "k1"
        assert cache.last_error
    assert cache.status()["keys"] == ["k1"]


async def test_no_keys_ever_is_503_and_retried_once_per_cooldown(
    op: Provider, clock: ManualClock
) -> None:
    documents: dict[str, Any] = {}
    fetch = FakeFetch(documents)
    cache = cache_for(fetch, clock, jwks_refresh_cooldown=5.0)
    for _ in range(3):
        with pytest.raises(KeysUnavailableError):
            await cache.key("k1", "RS256")
    assert len(fetch.calls) == 1
    documents[JWKS_URI] = op.jwks
    clock.advance(5)
    assert (await cache.key("k1", "RS256")).kid == "k1"


async def test_discovery(op: Provider, clock: ManualClock) -> None:
    discovery = OP + "/.well-known/openid-configuration"
    documents: dict[str, Any] = {
        discovery: {"issuer": OP, "jwks_uri": OP + "/keys"},
        OP + "/keys": op.jwks,
    }
    cache = cache_for(FakeFetch(documents), clock, jwks_uri=None)
    assert (await cache.key("k1", "RS256")).kid == "k1"
    # Discovery 1.0 §4.3: a document that names another issuer is not this issuer's.
    documents[discovery] = {"issuer": "https://evil.example", "jwks_uri": OP + "/keys"}
    other = cache_for(FakeFetch(documents), clock, jwks_uri=None)
    with pytest.raises(KeysUnavailableError):
        await other.key("k1", "RS256")
    assert "names another issuer" in (other.last_error or "")


async def test_a_key_without_kid_only_when_it_is_the_only_one(clock: ManualClock) -> None:
    op = Provider()
    op.add("RS256", kid="")
    cache = cache_for(FakeFetch({JWKS_URI: op.jwks}), clock)
    assert (await cache.key(None, "RS256")).kid == ""
    op.add("RS256", kid="second")
    clock.advance(11)
    await cache.refresh()
    assert cache.lookup(None, "RS256") is None  # two candidates: nothing is guessed


# -- the real HTTP client ------------------------------------------------------------------------
class Handler(http.server.BaseHTTPRequestHandler):
    responses: dict[str, tuple[int, bytes, float]] = {}

    def do_GET(self) -> None:
        status, body, delay = self.responses.get(self.path, (404, b"{}", 0.0))
        time.sleep(delay)
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/jwks")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_fetching_never_blocks_the_event_loop(http_server: str) -> None:
    """A provider that takes 0.5 s: other requests keep being served meanwhile."""
    Handler.responses["/slow"] = (200, b'{"keys": []}', 0.5)
    fetch = HttpFetch()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    try:
        assert await fetch(http_server + "/slow") == {"keys": []}
    finally:
        task.cancel()
        await fetch.aclose()
    assert ticks >= 20


async def test_http_fetch_refuses_errors_redirects_and_huge_documents(http_server: str) -> None:
    Handler.responses.update(
        {"/jwks": (200, b'{"keys": []}', 0.0), "/moved": (302, b"", 0.0),
         "/down": (503, b"", 0.0), "/huge": (200, b" " * 2000, 0.0), "/html": (200, b"<p>", 0.0)}
    )  # fmt: skip
    fetch = HttpFetch(max_bytes=1000)
    try:
        assert await fetch(http_server + "/jwks") == {"keys": []}
        for path, why in (("/moved", "HTTP 302"), ("/down", "HTTP 503"),
                          ("/huge", "larger than"), ("/html", "not JSON")):  # fmt: skip
            with pytest.raises(FetchError, match=why):
                await fetch(http_server + path)
        with pytest.raises(FetchError, match="ConnectError"):
            await fetch("http://127.0.0.1:9/jwks")
    finally:
        await fetch.aclose()
