"""The standalone service's user table: SQLite + argon2id (RFC 9106 parameters).

Host applications bring their own ``Authenticator``; this one serves ``cleanexit serve``.
The subject (``sub``) is the username. Unknown users cost one argon2 verification too, so the
answer and its timing do not tell whether a user exists.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InvalidRequestError, StoreUnavailableError

__all__ = ["SqliteUsers"]

MAX_USERNAME = 128
MAX_PASSWORD = 1024  # argon2 hashes any length, but unbounded input is a CPU lever


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
            db.execute(
                "CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, "
                "password_hash TEXT NOT NULL, created_at REAL NOT NULL, "
                "disabled INTEGER NOT NULL DEFAULT 0)"
            )
            db.commit()
            self._ready = True
        return db

    def add(self, username: str, password: str, *, replace: bool = False) -> None:
        _check(username, password)
        digest = self._hasher.hash(password)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            with self._connect() as db:
                db.execute(
                    f"{verb} INTO users (username, password_hash, created_at) VALUES (?,?,?)",
                    (username, digest, time.time()),
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
        try:
            self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return None
        if disabled:
            return None
        if self._hasher.check_needs_rehash(digest):
            self.add(username, password, replace=True)
        return username


def _check(username: str, password: str) -> None:
    if not username or len(username) > MAX_USERNAME or not username.isprintable():
        raise InvalidRequestError(f"a username is 1 to {MAX_USERNAME} printable characters")
    if len(password) < 8 or len(password) > MAX_PASSWORD:
        raise InvalidRequestError(f"a password is 8 to {MAX_PASSWORD} characters")
