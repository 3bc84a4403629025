"""The sans-I/O flow through both drivers, on httpx.MockTransport (pure logic only)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanexit.client import (
    INITIAL_STATE,
    AsyncClient,
    Client,
    ClientError,
    ForeignOriginError,
    ServerError,
    ServerUnreachableError,
    SessionEndedError,
    StaticKey,
)
from cleanexit.errors import InvalidCredentialsError
from tests.client.conftest import Callbacks, MakeClient

URL = "http://api.test"
EXPIRED = {"www-authenticate": 'Bearer error="invalid_token", error_description="expired"'}
ENDED = {"www-authenticate": 'Bearer error="invalid_token", error_description="session ended"'}


def grant(n: int) -> httpx.Response:
    body = {"access_token": f"at{n}", "refresh_token": f"cxr_{n}", "token_type": "Bearer",
            "expires_in": 600, "refresh_expires_in": 3600, "session_id": "s1"}  # fmt: skip
    return httpx.Response(200, json=body)


class FakeApi:
    """``/me`` accepts only the newest access token; counts calls per path."""

    def __init__(self, refresh: int = 200, delay: float = 0.0) -> None:
        self.calls: Counter[str] = Counter()
        self.seen: list[httpx.Request] = []
        self.generation = 1
        self.refresh_status = refresh
        self.delay = delay

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls[request.url.path] += 1
        self.seen.append(request)
        return getattr(self, request.url.path.strip("/").replace("/", "_"))(request)

    def auth_login(self, request: httpx.Request) -> httpx.Response:
        if b"wrong" in request.content:
            return httpx.Response(401, json={"error": "invalid_credentials"})
        return grant(self.generation)

    def auth_refresh(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay)
        if self.refresh_status != 200:
            return httpx.Response(self.refresh_status, json={"error": "invalid_grant"})
        self.generation += 1
        return grant(self.generation)

    def me(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer at{self.generation}":
            return httpx.Response(401, headers=EXPIRED, json={"error": "invalid_token"})
        return httpx.Response(200, json={"sub": "alice"})

    def ended(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers=ENDED, json={"error": "invalid_token"})

    def auth_logout(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"revoked": {"sessions": ["s1"]}})


def logged_in(make_client: MakeClient, api: FakeApi, **kw: Any) -> Any:
    client = make_client(URL, transport=httpx.MockTransport(api), **kw)
    client.login("alice", "pw")
    return client


def test_bearer_token_is_added(make_client: MakeClient) -> None:
    api = FakeApi()
    client = logged_in(make_client, api)
    assert client.get("/me").json() == {"sub": "alice"}
    assert api.seen[-1].headers["authorization"] == "Bearer at1"
    assert api.seen[-1].headers["user-agent"].startswith("cleanexit-client")


def test_expired_token_is_refreshed_and_retried(make_client: MakeClient, state_file: Any) -> None:
    api = FakeApi()
    client = logged_in(make_client, api)
    expire(api)
    assert client.me() == {"sub": "alice"}
    assert api.calls["/auth/refresh"] == 1
    assert api.seen[-1].headers["authorization"] == "Bearer at2"
    assert client.state.tokens.access_token.reveal() == "at2"
    assert state_file.load().state.tokens.access_token.reveal() == "at2"  # saved on change


def test_refresh_happens_once_per_call(make_client: MakeClient) -> None:
    api = FakeApi()
    client = logged_in(make_client, api)
    api.me = lambda request: httpx.Response(401, headers=EXPIRED)  # type: ignore[method-assign]
    assert client.get("/me").status_code == 401  # still refused after one refresh: handed back
    assert api.calls["/auth/refresh"] == 1


def test_concurrent_calls_share_one_refresh_sync(state_dir: Path, key: StaticKey) -> None:
    api = FakeApi(delay=0.2)
    client = Client(URL, transport=httpx.MockTransport(api), state_dir=state_dir, key=key)
    client.login("alice", "pw")
    expire(api)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(client.get("/me").status_code))
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8
    assert api.calls["/auth/refresh"] == 1
    client.close()


def expire(api: FakeApi) -> None:
    """From now on at1 is refused; the refresh issues at2."""
    original = api.me

    def me(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") == "Bearer at1":
            return httpx.Response(401, headers=EXPIRED, json={"error": "invalid_token"})
        return original(request)

    api.me = me  # type: ignore[method-assign]


def test_concurrent_calls_share_one_refresh_async(state_dir: Path, key: StaticKey) -> None:
    api = FakeApi()

    async def slow_refresh(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        return api(request)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/refresh":
            return await slow_refresh(request)
        return api(request)

    async def scenario() -> list[int]:
        client = AsyncClient(
            URL, transport=httpx.MockTransport(handler), state_dir=state_dir, key=key
        )
        await client.login("alice", "pw")
        expire(api)
        responses = await asyncio.gather(*(client.get("/me") for _ in range(8)))
        await client.aclose()
        return [r.status_code for r in responses]

    assert asyncio.run(scenario()) == [200] * 8
    assert api.calls["/auth/refresh"] == 1


@pytest.mark.parametrize("status", [400, 401])
def test_failed_refresh_is_a_logout(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks, status: int
) -> None:
    api = FakeApi(refresh=status)
    client = logged_in(make_client, api, on_logout=[callbacks])
    expire(api)
    with pytest.raises(SessionEndedError):
        client.get("/me")
    assert client.state == INITIAL_STATE
    assert not state_path.exists()
    assert [r.reason for r in callbacks.results] == ["refresh refused"]
    assert api.calls["/auth/logout"] == 0


def test_refresh_server_error_keeps_the_session(make_client: MakeClient, state_path: Path) -> None:
    api = FakeApi(refresh=503)
    client = logged_in(make_client, api)
    expire(api)
    with pytest.raises(ServerError) as info:
        client.get("/me")
    assert info.value.status == 503
    assert client.state.authenticated and state_path.exists()


def test_refresh_network_error_keeps_the_session(make_client: MakeClient, state_path: Path) -> None:
    api = FakeApi()
    client = logged_in(make_client, api)
    expire(api)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api.auth_refresh = down  # type: ignore[method-assign]
    with pytest.raises(ServerUnreachableError):
        client.get("/me")
    assert client.state.authenticated and state_path.exists()


def test_session_ended_by_server_resets_locally(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    client = logged_in(make_client, FakeApi(), on_logout=[callbacks])
    with pytest.raises(SessionEndedError):
        client.get("/ended")
    assert client.state == INITIAL_STATE and not state_path.exists()
    assert len(callbacks.results) == 1


def test_token_never_sent_to_another_origin(make_client: MakeClient) -> None:
    api = FakeApi()
    client = logged_in(make_client, api)
    for target in ("http://evil.test/me", "https://api.test/me", "http://api.test:81/me"):
        with pytest.raises(ForeignOriginError):
            client.get(target)
    assert api.calls["/me"] == 0


def test_wrong_password(make_client: MakeClient, state_path: Path) -> None:
    client = make_client(URL, transport=httpx.MockTransport(FakeApi()))
    with pytest.raises(InvalidCredentialsError):
        client.login("alice", "wrong")
    assert client.state == INITIAL_STATE and not state_path.exists()


def test_login_twice_is_refused(make_client: MakeClient) -> None:
    client = logged_in(make_client, FakeApi())
    with pytest.raises(ClientError, match="already logged in"):
        client.login("alice", "pw")


def test_no_token_in_reprs_errors_or_logs(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeApi(refresh=400)
    client = logged_in(make_client, api, on_logout=[lambda r: (_ for _ in ()).throw(ValueError)])
    texts = [repr(client), repr(client.state), repr(client.store), str(client.state)]
    expire(api)
    with pytest.raises(SessionEndedError) as info:
        client.get("/me")
    texts += [repr(info.value), str(info.value), caplog.text, repr(client.logout())]
    for text in texts:
        for secret in ("at1", "cxr_1", "pw"):
            assert secret not in text.replace("sha256:", "")
