"""Metrics (issue 15): the hot path counted in plain integers, exported by a collector; every
label from a fixed set; /metrics only with its token."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cleanexit.clock import ManualClock
from cleanexit.errors import RevokedTokenError, StoreUnavailableError
from cleanexit.integrations.fastapi import create_app
from cleanexit.server.counting import CountingGuard
from cleanexit.server.events import AuthEvent
from cleanexit.server.metrics import Metrics
from cleanexit.server.revocation import Revocation
from cleanexit.server.stores import MemoryStore
from cleanexit.server.tokens import TokenIssuer
from cleanexit.server.verifier import Verifier
from cleanexit.settings import Settings

from .test_sessions import KEYS

pytestmark = pytest.mark.anyio
TOKEN = "metrics-token-for-tests-0123456789-abcdefXYZ"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_counting_guard_counts_what_it_decides() -> None:
    clock = ManualClock(1_700_000_000.0)
    store = MemoryStore()
    replica = store.make_replica(clock=clock)
    await replica.start()
    verifier = Verifier(keys=KEYS, issuer="iss", audience="aud", clock=clock)
    guard = CountingGuard(verifier=verifier, replica=replica)
    issuer = TokenIssuer(keys=KEYS, issuer="iss", audience="aud", access_ttl=600, clock=clock)
    live, revoked = (issuer.issue(sub="alice", sid=f"s{i}").token for i in range(2))
    replica.view.apply([Revocation.session("s1", expires_at=clock() + 600)])
    await guard.authenticate(live)
    await guard.authenticate(live)
    with pytest.raises(RevokedTokenError) as caught:
        await guard.authenticate(revoked)
    assert (caught.value.sub, caught.value.sid) == ("alice", "s1")  # for the audit line
    with pytest.raises(Exception):  # noqa: B017 - malformed
        await guard.authenticate("not.a.token")
    assert guard.checks() == {
        "accepted": 2, "revoked_jti": 0, "revoked_sid": 1, "revoked_cutoff": 0, "unavailable": 0,
    }  # fmt: skip
    assert guard.rejected["malformed"] == 1

    guard._count(StoreUnavailableError())
    metrics = Metrics(guard=guard, replica=replica)
    metrics(AuthEvent(kind="logout", outcome="current", sessions=["s1"], reason="logout",
                      seconds=0.002))  # fmt: skip
    metrics(AuthEvent(kind="session_revoke", outcome="alice", sessions=["a", "b"], reason="x"))
    metrics(AuthEvent(kind="alice", outcome="bob"))  # not a kind: ignored
    got = samples((await metrics.render()).decode())
    assert got[("cleanexit_revocation_checks_total", (("result", "accepted"),))] == 2
    assert got[("cleanexit_revocation_checks_total", (("result", "unavailable"),))] == 1
    assert got[("cleanexit_token_rejections_total", (("reason", "malformed"),))] == 1
    assert got[("cleanexit_auth_events_total", (("kind", "logout"), ("outcome", "current")))] == 1
    other = (("kind", "session_revoke"), ("outcome", "other"))
    assert got[("cleanexit_auth_events_total", other)] == 1  # unknown values: "other"
    assert got[("cleanexit_sessions_ended_total", (("reason", "other"),))] == 2
    assert got[("cleanexit_logout_duration_seconds_count", ())] == 1
    assert got[("cleanexit_revocation_view_entries", ())] == 1
    assert got[("cleanexit_replica_stale", ())] == 0
    labels = {v for (_, pairs) in got for _, v in pairs}
    assert not labels & {"alice", "bob", "s1", "a", "b", "x"}  # bounded: never ids


def app(tmp_path: Path, **settings: object) -> TestClient:
    base: dict[str, object] = {"data_dir": tmp_path, "audit_log": "off", "demo": True}
    return TestClient(create_app(Settings(**{**base, **settings})))  # type: ignore[arg-type]


def test_metrics_route_needs_its_token(tmp_path: Path) -> None:
    with app(tmp_path, metrics=True, metrics_token=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1]})
        assert wrong.status_code == 401 and "cleanexit" not in wrong.text.split("error")[0]
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
        assert "cleanexit_revocation_checks_total" in ok.text


def test_metrics_off_by_default(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        assert (
            client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
        )
        assert type(client.app.state.runtime.guard).__name__ == "Guard"  # type: ignore[attr-defined]
