"""``cleanexit revoke --issuer ISS --sub SUB | --sid SID | --jti JTI`` (issue 11): it says
what it recorded, and refuses a typo'd issuer (a useless entry would be a silent miss).
That a running server then refuses the tokens: tests/e2e/test_oidc_provider.py."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cleanexit.server.revocation import RevocationKind, scoped_key
from cleanexit.server.stores.sqlite import SqliteStore

OP = "https://id.example.com/"
ISSUERS = json.dumps([{"issuer": OP, "audience": "orders-api", "max_token_lifetime": 900}])


def cli(data: Path, *args: str, issuers: str | None = ISSUERS) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    if issuers is not None:
        env["CLEANEXIT_ISSUERS"] = issuers
    return subprocess.run(
        [sys.executable, "-m", "cleanexit", "revoke", *args, "--data-dir", str(data)],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip


@pytest.fixture
def data(tmp_path: Path) -> Path:
    store = SqliteStore(tmp_path / "cleanexit.db")  # what `cleanexit serve` leaves behind
    store.open_sync()
    store.close_sync()
    return tmp_path


def rows(data: Path) -> list[tuple[RevocationKind, str, float]]:
    async def read() -> list[tuple[RevocationKind, str, float]]:
        store = SqliteStore(data / "cleanexit.db")
        await store.open()
        try:
            revs, _ = await store.revocations(since=None, now=0)
        finally:
            await store.close()
        return [(r.kind, r.key, r.cutoff) for r in revs]

    return asyncio.run(read())


def test_each_kind_is_recorded_and_said(data: Path) -> None:
    where = f"sqlite://{data / 'cleanexit.db'} (data dir {data})"
    sub = cli(data, "--issuer", OP, "--sub", "alice")
    assert sub.returncode == 0, sub.stderr
    lines = sub.stdout.splitlines()
    assert lines[0].startswith("revoked every token issued to 'alice' before ")
    assert lines[0].endswith(f" of {OP!r} in {where}")
    assert "(its longest token lifetime)" in lines[1]
    sid = cli(data, "--issuer", OP, "--sid", "op-session-1")
    assert sid.stdout.startswith(f"revoked every token of session 'op-session-1' of {OP!r}")
    jti = cli(data, "--issuer", OP, "--jti", "op-token-1")
    assert jti.stdout.startswith(f"revoked the token with jti 'op-token-1' of {OP!r}")
    recorded = {(kind, key) for kind, key, _ in rows(data)}
    assert recorded == {
        (RevocationKind.USER, scoped_key(OP, "alice")),
        (RevocationKind.SESSION, scoped_key(OP, "op-session-1")),
        (RevocationKind.TOKEN, scoped_key(OP, "op-token-1")),
    }
    # Again later: the entry reaches further (tokens of that session issued since are
    # refused as long as the newest could live), so it is recorded again.
    again = cli(data, "--issuer", OP, "--sid", "op-session-1")
    assert again.returncode == 0 and again.stdout.startswith("revoked every token of session")


@pytest.mark.parametrize(
    ("args", "issuers", "message"),
    [
        (["--issuer", "https://id.example.com", "--sub", "a"], ISSUERS,
         "'https://id.example.com' is not a trusted issuer (configured: 'https://id.example.com/')"),
        (["--issuer", OP, "--sub", "a"], None, "no trusted external issuer is configured"),
        (["--issuer", "cleanexit", "--sub", "a"], ISSUERS, "cleanexit's own issuer"),
        (["--sub", "a"], ISSUERS, "--issuer goes with exactly one of"),
        (["--issuer", OP, "--sub", "a", "--sid", "b"], ISSUERS, "exactly one of"),
        (["--issuer", OP], ISSUERS, "exactly one of"),
        (["--issuer", OP, "--sub", "a", "--user", "a"], ISSUERS, "cleanexit's own tokens"),
        (["--issuer", OP, "--sub", "a"], "not json", "CLEANEXIT_ISSUERS is not valid JSON"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_with_one_line(
    data: Path, args: list[str], issuers: str | None, message: str
) -> None:
    done = cli(data, *args, issuers=issuers)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert rows(data) == []
