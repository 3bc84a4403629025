"""`cleanexit serve` names its store without credentials."""

from __future__ import annotations

import pytest

from cleanexit.cli.commands import _redact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///var/lib/cleanexit/c.db", "sqlite:///var/lib/cleanexit/c.db"),
        ("redis://:s3cret@redis.internal:6379/0", "redis://***@redis.internal:6379/0"),
        ("postgresql://app:p@ss@db:5432/app", "postgresql://***@db:5432/app"),
        (
            "postgres://db/app?sslmode=verify-full&password=s3cret&sslpassword=k3y",
            "postgres://db/app?sslmode=verify-full&password=***&sslpassword=***",
        ),
        ("postgresql:///app?host=/run/postgresql", "postgresql:///app?host=/run/postgresql"),
    ],
)
def test_store_urls_are_shown_without_credentials(url: str, shown: str) -> None:
    assert _redact(url) == shown
