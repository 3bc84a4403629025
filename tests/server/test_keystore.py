"""Retired signing keys stop verifying once every token they signed has expired (issue 9,
finding 7), for key files (EdDSA / ES256) and for HS256 previous secrets. The clock is moved,
never slept on."""

from __future__ import annotations

import logging
from pathlib import Path

import jwt
import pytest

from cleanexit.clock import ManualClock
from cleanexit.errors import BadSignatureError, ConfigurationError
from cleanexit.runtime import Runtime, build_runtime
from cleanexit.server.fastpath import FastPath
from cleanexit.server.keys import SigningKey
from cleanexit.server.keystore import expired_key_files, load_key_ring, rotate_signing_key
from cleanexit.server.verifier import Verifier
from cleanexit.settings import Settings

T0 = 1_800_000_000.0
TTL, LEEWAY = 600, 30
OLD = "old-secret-0123456789abcdefghijklmnopqrstuvwxyz"
NEW = "new-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def runtime(tmp_path: Path, clock: ManualClock, **overrides: object) -> Runtime:
    settings = Settings(data_dir=tmp_path, access_ttl=TTL, leeway=LEEWAY, **overrides)  # type: ignore[arg-type]
    return build_runtime(settings, clock=clock)


def forge(key: SigningKey, clock: ManualClock, *, sid: str = "forged") -> str:
    """What a holder of a leaked retired key can mint: a fresh, well-formed token."""
    now = int(clock())
    payload = {
        "iss": "cleanexit", "aud": "cleanexit-api", "sub": "alice", "sid": sid, "jti": sid,
        "iat": now, "exp": now + TTL, "client_id": "cleanexit",
    }  # fmt: skip
    headers = {"typ": "at+jwt", "kid": key.kid}
    return jwt.encode(payload, key.signer, algorithm=key.algorithm, headers=headers)


def verifiers(rt: Runtime, clock: ManualClock) -> list[Verifier]:
    """The configured verifier (fast path) and the PyJWT-only one: both must agree."""
    slow = Verifier(
        keys=rt.keys, issuer="cleanexit", audience="cleanexit-api", leeway=LEEWAY,
        clock=clock, fast_path=False,
    )  # fmt: skip
    return [rt.guard.verifier, slow]


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_finding7_retired_key_file_stops_verifying_after_access_ttl(
    tmp_path: Path, algorithm: str
) -> None:
    clock = ManualClock(T0)
    before = runtime(tmp_path, clock, algorithm=algorithm)
    old_key = before.keys.active
    issued = before.service.issuer.issue(sub="alice", sid="s1").token

    clock.advance(100)
    rotate_signing_key(tmp_path, algorithm=algorithm, now=clock())  # retired at T0 + 100
    after = runtime(tmp_path, clock, algorithm=algorithm)
    deadline = T0 + 100 + TTL + LEEWAY
    assert after.keys.active.kid != old_key.kid
    assert [k.not_after for k in after.keys.retired] == [deadline]
    for verifier in verifiers(after, clock):
        assert verifier.verify(issued).sid == "s1"  # issued before the rotation: still good
    assert len(after.keys.jwks(now=clock())["keys"]) == 2

    clock.now = deadline - 1
    forged = forge(old_key, clock)
    for verifier in verifiers(after, clock):
        assert verifier.verify(forged).sid == "forged"  # indistinguishable from a real one
    clock.now = deadline  # every token the old key signed has expired by now
    for verifier in verifiers(after, clock):
        with pytest.raises(BadSignatureError, match="retired key"):
            verifier.verify(forge(old_key, clock))
    assert [k["kid"] for k in after.keys.jwks(now=clock())["keys"]] == [after.keys.active.kid]

    restarted = runtime(tmp_path, clock, algorithm=algorithm)
    assert [k.kid for k in restarted.keys.keys] == [after.keys.active.kid]
    for verifier in verifiers(restarted, clock):
        with pytest.raises(BadSignatureError):
            verifier.verify(forge(old_key, clock))
    (expired,) = expired_key_files(
        tmp_path, algorithm=algorithm, retire_after=TTL + LEEWAY, now=clock()
    )  # type: ignore[arg-type]
    assert expired.name == f"{algorithm.lower()}-{int(T0 * 1e9)}.pem"


def test_finding7_active_key_stays_on_the_fast_path(tmp_path: Path) -> None:
    """Only retired keys pay for the deadline: the active key's tokens take the fast path."""
    clock = ManualClock(T0)
    old = runtime(tmp_path, clock, algorithm="EdDSA")
    old_token = old.service.issuer.issue(sub="a", sid="s-old").token
    clock.advance(1)
    rotate_signing_key(tmp_path, algorithm="EdDSA", now=clock())
    rt = runtime(tmp_path, clock, algorithm="EdDSA")
    fast = FastPath(rt.keys)
    assert fast.payload(rt.service.issuer.issue(sub="a", sid="s").token) is not None
    assert fast.payload(old_token) is None  # left to the verifier, which checks the deadline
    assert rt.guard.verifier.verify(old_token).sid == "s-old"


def test_finding7_previous_secret_verifies_for_access_ttl_after_first_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0)
    before = runtime(tmp_path, clock, secret=OLD)
    old_key = before.keys.active
    issued = before.service.issuer.issue(sub="alice", sid="s1").token

    clock.advance(50)  # first start with the old secret listed as previous: retired now
    with caplog.at_level(logging.WARNING, logger="cleanexit"):
        after = runtime(tmp_path, clock, secret=NEW, previous_secrets=OLD)
    deadline = T0 + 50 + TTL + LEEWAY
    assert [k.not_after for k in after.keys.retired] == [deadline]
    assert "verifies until" in caplog.text and OLD not in caplog.text
    for verifier in verifiers(after, clock):
        assert verifier.verify(issued).sid == "s1"

    clock.now = deadline - 1
    restarted = runtime(tmp_path, clock, secret=NEW, previous_secrets=OLD)
    assert [k.not_after for k in restarted.keys.retired] == [deadline]  # no new window
    assert restarted.guard.verifier.verify(forge(old_key, clock)).sub == "alice"
    clock.now = deadline
    for verifier in verifiers(restarted, clock):
        with pytest.raises(BadSignatureError, match="retired key"):
            verifier.verify(forge(old_key, clock))

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cleanexit"):
        late = runtime(tmp_path, clock, secret=NEW, previous_secrets=OLD)
    assert late.keys.retired == () and "stopped verifying" in caplog.text
    with pytest.raises(BadSignatureError, match="unknown key"):
        late.guard.verifier.verify(forge(old_key, clock))


def test_previous_secret_made_active_again_starts_a_new_window(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    runtime(tmp_path, clock, secret=NEW, previous_secrets=OLD)  # OLD retired at T0
    clock.advance(10_000)
    runtime(tmp_path, clock, secret=OLD)  # rolled back: OLD signs again
    clock.advance(10)
    again = runtime(tmp_path, clock, secret=NEW, previous_secrets=OLD)
    assert [k.not_after for k in again.keys.retired] == [clock() + TTL + LEEWAY]


def test_a_secret_listed_as_active_and_previous_is_active(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    rt = runtime(tmp_path, clock, secret=NEW, previous_secrets=NEW)
    clock.advance(10 * TTL)
    assert rt.keys.retired == () and rt.keys.active.not_after is None
    token = rt.service.issuer.issue(sub="a", sid="s").token
    assert rt.guard.verifier.verify(token).sid == "s"


# -- issue 15: production never generates key material ------------------------------------
@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA"])
def test_production_does_not_generate_keys(tmp_path: Path, algorithm: str) -> None:
    with pytest.raises(ConfigurationError, match="production mode") as caught:
        load_key_ring(
            tmp_path,
            algorithm=algorithm,
            retire_after=600,
            now=1e9,
            generate=False,  # type: ignore[arg-type]
        )
    assert "every instance" in caught.value.description
    assert not (tmp_path / "secret").exists() and not (tmp_path / "keys").exists()


def test_production_refuses_a_secret_file_it_may_have_made_itself(tmp_path: Path) -> None:
    load_key_ring(tmp_path, algorithm="HS256", retire_after=600, now=1e9)  # made one
    with pytest.raises(ConfigurationError, match="CLEANEXIT_SECRET"):
        load_key_ring(tmp_path, algorithm="HS256", retire_after=600, now=1e9, generate=False)
