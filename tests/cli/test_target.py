"""Pure pieces of the admin commands: credentials left out of store URLs, and what ``revoke``
reports and when it fails (issue 10)."""

from __future__ import annotations

import pytest

from cleanexit.cli.admin import revoke_report
from cleanexit.cli.target import redact
from cleanexit.server.sessions import LogoutResult


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///var/lib/cleanexit/cleanexit.db", "sqlite:///var/lib/cleanexit/cleanexit.db"),
        ("sqlite://./x.db", "sqlite://./x.db"),
        ("memory://", "memory://"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://user:hunter2@h:6379/0", "redis://***@h:6379/0"),
        ("redis://:hun@ter2@h/0", "redis://***@h/0"),  # an unencoded "@" in the password
        ("rediss://h/0?password=hunter2&db=1", "rediss://h/0?password=***&db=1"),
        (
            "postgresql://app:hun@ter2@db:5432/app?sslmode=require&sslpassword=k3y",
            "postgresql://***@db:5432/app?sslmode=require&sslpassword=***",
        ),
        (
            "unix:///run/redis.sock?db=2&auth_token=hunter2",
            "unix:///run/redis.sock?db=2&auth_token=***",
        ),
        ("redis://h/0#hunter2", "redis://h/0"),
        ("redis://:hunter2@[::1", "redis://***@[::1"),  # malformed: still shown, still redacted
    ],
)
def test_redact_leaves_credentials_out(url: str, shown: str) -> None:
    assert redact(url) == shown


WHERE = "sqlite:///d/cleanexit.db (data dir /d)"


def test_revoke_session_report() -> None:
    done = LogoutResult("current", "s1", sessions=("s1",))
    assert revoke_report(done, user=None, session="s1", where=WHERE) == (
        [f"revoked session s1 in {WHERE}"],
        None,
    )
    nothing = LogoutResult("current", "s1")
    assert revoke_report(nothing, user=None, session="s1", where=WHERE) == (
        [],
        f"nothing revoked in {WHERE}: no active session 's1'",
    )


def test_revoke_user_report_says_sessions_and_cutoff() -> None:
    done = LogoutResult("all", None, sessions=("s1", "s2"), user_cutoff=1_700_000_000.0)
    lines, problem = revoke_report(done, user="alice", session=None, where=WHERE)
    assert problem is None
    assert lines == [
        f"logged 'alice' out everywhere in {WHERE}",
        "  sessions ended: 2 (s1, s2)",
        "  cutoff set: tokens issued to 'alice' before 2023-11-14T22:13:20+00:00 are refused",
    ]
    cutoff_only = LogoutResult("all", None, user_cutoff=1_700_000_000.0)
    lines, problem = revoke_report(cutoff_only, user="alice", session=None, where=WHERE)
    assert problem is None and "  sessions ended: 0 (none was active)" in lines


def test_revoke_user_that_recorded_nothing_fails() -> None:
    lines, problem = revoke_report(LogoutResult("all", None), user="bob", session=None, where=WHERE)
    assert lines == [] and problem == (
        f"nothing revoked in {WHERE}: no session of 'bob' ended and no cutoff was recorded"
    )
