"""Admin commands that cannot silently miss (issue 10): a data directory or store that is not
there, a malformed or unreachable store, each as one clear line and exit code 2; nothing is
created on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.run import cleanexit, no_traceback, one_line_error
from tests.support.server import free_port

STORE_COMMANDS = [
    ("revoke", "--user", "bob"),
    ("revoke", "--session", "sid"),
    ("sessions", "list", "--user", "bob"),
    ("prune",),
]
DATA_DIR_COMMANDS = [*STORE_COMMANDS, ("users", "list"), ("keys", "rotate"), ("keys", "prune")]


@pytest.mark.parametrize("command", DATA_DIR_COMMANDS, ids=" ".join)
def test_a_missing_data_dir_is_refused_not_created(tmp_path: Path, command: tuple[str]) -> None:
    missing = tmp_path / "typo"
    done = cleanexit(*command, "--data-dir", missing, env={"CLEANEXIT_ALGORITHM": "EdDSA"})
    line = one_line_error(done)
    assert f"data directory {missing} does not exist" in line
    assert not missing.exists()


def test_the_data_dir_from_the_environment_is_checked_too(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    done = cleanexit("revoke", "--user", "bob", env={"CLEANEXIT_DATA_DIR": str(missing)})
    assert f"data directory {missing} does not exist" in one_line_error(done)
    assert not missing.exists()


@pytest.mark.parametrize(
    "command", [("prune",), ("users", "add", "carol"), ("serve", "--port", "1")], ids=" ".join
)
def test_a_data_dir_that_is_a_file(tmp_path: Path, command: tuple[str]) -> None:
    (tmp_path / "file").write_text("not a directory")
    done = cleanexit(*command, "--data-dir", tmp_path / "file", stdin="a long password\n")
    assert "is not a directory" in one_line_error(done)


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_a_data_dir_without_a_database_is_refused_and_left_alone(
    tmp_path: Path, command: tuple[str]
) -> None:
    """An existing directory that is not the server's (``--data-dir .``): no secret, no
    database are created there, and nothing is "revoked" in a store no server reads."""
    done = cleanexit(*command, "--data-dir", tmp_path)
    assert f"no cleanexit database at {tmp_path / 'cleanexit.db'}" in one_line_error(done)
    assert list(tmp_path.iterdir()) == []


def test_an_sqlite_store_url_to_a_missing_file(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "x.db"
    done = cleanexit("prune", "--data-dir", tmp_path, "--store-url", f"sqlite://{db}")
    assert f"no cleanexit database at {db}" in one_line_error(done)
    assert not db.parent.exists()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("foo://x", "unknown store URL scheme 'foo'"),
        ("redis://127.0.0.1:notaport/0", "malformed Redis URL"),
        ("redis://:hunter2@127.0.0.1:99999/0", "malformed Redis URL"),
        ("redis://[::1/0", "malformed Redis URL"),
        ("redis://127.0.0.1:6379/1x", "the database is a number"),  # redis-py: quietly db 0
        ("redis:///0", "no host"),
        ("sqlite://", "sqlite:// needs a file"),
        ("memory://", "memory:// lives inside one server process"),
    ],
)
def test_a_malformed_store_url(tmp_path: Path, url: str, said: str) -> None:
    done = cleanexit("revoke", "--user", "bob", "--data-dir", tmp_path, "--store-url", url)
    line = one_line_error(done)
    assert said in line and "hunter2" not in line


def test_a_malformed_store_url_stops_serve_too(tmp_path: Path) -> None:
    done = cleanexit(
        "serve", "--data-dir", tmp_path, "--port", "1", env={"CLEANEXIT_STORE_URL": "redis://h:x/0"}
    )
    assert "malformed Redis URL" in one_line_error(done)


@pytest.mark.parametrize(
    "command", [("revoke", "--user", "bob"), ("sessions", "list", "--user", "bob"), ("prune",)]
)
def test_an_unreachable_redis_is_one_line_naming_the_store(
    tmp_path: Path, command: tuple[str]
) -> None:
    port = free_port()  # nothing listens there: connection refused
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    done = cleanexit(*command, "--data-dir", tmp_path, env={"CLEANEXIT_STORE_URL": url})
    line = one_line_error(done)
    assert f"store redis://***@127.0.0.1:{port}/0 (data dir {tmp_path}) unavailable" in line
    assert "hunter2" not in done.stdout + done.stderr


def test_keys_commands_say_hs256_has_no_key_files(tmp_path: Path) -> None:
    done = cleanexit("keys", "rotate", "--data-dir", tmp_path)
    assert "CLEANEXIT_ALGORITHM=EdDSA or ES256" in one_line_error(done)
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_stay_usage_errors(tmp_path: Path) -> None:
    done = cleanexit("revoke", "--data-dir", tmp_path)
    assert done.returncode == 2 and "exactly one of --user or --session" in done.stderr
    assert "Traceback" not in done.stderr


def test_users_list_without_a_user_table_creates_none(tmp_path: Path) -> None:
    done = cleanexit("users", "list", "--data-dir", tmp_path)
    no_traceback(done)
    assert done.returncode == 0 and done.stdout == ""
    assert f"no user table in {tmp_path} yet" in done.stderr
    assert not (tmp_path / "users.db").exists()
