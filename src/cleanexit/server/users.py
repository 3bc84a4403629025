"""The standalone service's user table: SQLite + argon2id (RFC 9106 parameters).

Host applications bring their own ``Authenticator``; this one serves ``cleanexit serve``.
The subject (``sub``) is the username. Unknown users cost one argon2 verification too, so the
answer and its timing do not tell whether a user exists.

Demo users (``cleanexit serve --demo``) have a published password. They are marked as such
(``demo = 1``) and exist only while the service runs with ``--demo``: ``Runtime.start`` removes
them otherwise (issue 9, finding 7). Tables from before the mark get it on first open for the
demo names whose password is still the published one.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import sqlite3
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InvalidRequestError, StoreUnavailableError

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "SqliteUsers"]

MAX_USERNAME = 128
MAX_PASSWORD = 1024  # argon2 hashes any length, but unbounded input is a CPU lever
DEMO_PASSWORD = "correct horse battery staple"  # noqa: S105 - published in the README: demo only
DEMO_USERS = ("alice", "bob")


class SqliteUsers:
    def __init__(self, path: str | os.PathLike[str], *, hasher: PasswordHasher | None = None):
        self.path = Path(path)
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("cleanexit-timing-equaliser")
        self._ready = False

    def __repr__(self) -> str:
        return f"SqliteUsers(path={str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, timeout=5.0)
        if not self._ready:
            self._migrate(db)
            self._ready = True
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.isolation_level = None  # explicit transactions: workers may open it together
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, "
                "password_hash TEXT NOT NULL, created_at REAL NOT NULL, "
                "disabled INTEGER NOT NULL DEFAULT 0, demo INTEGER NOT NULL DEFAULT 0)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
            if "demo" not in columns:
                db.execute("ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0")
                self._mark_legacy_demo(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.isolation_level = "DEFERRED"  # back to implicit transactions

    def _mark_legacy_demo(self, db: sqlite3.Connection) -> None:
        """Demo users seeded before the mark existed: the demo names, if their password is
        still the published one."""
        for name in DEMO_USERS:
            row = db.execute("SELECT password_hash FROM users WHERE username=?", (name,)).fetchone()
            if row is not None and self._verifies(row[0], DEMO_PASSWORD):
                db.execute("UPDATE users SET demo=1 WHERE username=?", (name,))

    def add(self, username: str, password: str, *, replace: bool = False) -> None:
        _check(username, password)
        if hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
            raise InvalidRequestError("that password is published (the demo password)")
        self._insert(username, password, replace=replace, demo=False)

    def add_demo(self) -> list[str]:
        """Add the missing demo users (an existing user of the same name is left alone)."""
        added = []
        for name in DEMO_USERS:
            if not self.exists(name):
                self._insert(name, DEMO_PASSWORD, replace=False, demo=True)
                added.append(name)
        return added

    def demo_usernames(self) -> list[str]:
        if not self._ready and not self.path.exists():
            return []  # a host app with its own Authenticator: no table, no demo users
        with self._connect() as db:
            rows = db.execute("SELECT username FROM users WHERE demo=1 ORDER BY username")
            return [r[0] for r in rows]

    def remove_demo(self, names: list[str]) -> None:
        with self._connect() as db:
            db.executemany("DELETE FROM users WHERE username=? AND demo=1", [(n,) for n in names])

    def _insert(self, username: str, password: str, *, replace: bool, demo: bool) -> None:
        digest = self._hasher.hash(password)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            with self._connect() as db:
                db.execute(
                    f"{verb} INTO users (username, password_hash, created_at, demo) "
                    "VALUES (?,?,?,?)",
                    (username, digest, time.time(), int(demo)),
                )
        except sqlite3.IntegrityError as exc:
            raise InvalidRequestError(f"user {username!r} already exists") from exc

    def exists(self, username: str) -> bool:
        with self._connect() as db:
            return (
                db.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone()
                is not None
            )

    def usernames(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT username FROM users ORDER BY username")]

    async def authenticate(self, username: str, password: str) -> str | None:
        return await asyncio.to_thread(self.check, username, password)

    def check(self, username: str, password: str) -> str | None:
        if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            return None
        try:
            with self._connect() as db:
                row = db.execute(
                    "SELECT password_hash, disabled FROM users WHERE username=?", (username,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailableError("user store unavailable") from exc
        digest, disabled = row if row else (self._dummy, 1)
        if not self._verifies(digest, password) or disabled:
            return None
        if self._hasher.check_needs_rehash(digest):
            self._rehash(username, password)
        return username

    def _verifies(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def _rehash(self, username: str, password: str) -> None:
        with self._connect() as db:  # an UPDATE keeps the row's other columns (demo mark)
            db.execute(
                "UPDATE users SET password_hash=? WHERE username=?",
                (self._hasher.hash(password), username),
            )


def _check(username: str, password: str) -> None:
    if not username or len(username) > MAX_USERNAME or not username.isprintable():
        raise InvalidRequestError(f"a username is 1 to {MAX_USERNAME} printable characters")
    if len(password) < 8 or len(password) > MAX_PASSWORD:
        raise InvalidRequestError(f"a password is 8 to {MAX_PASSWORD} characters")
