"""The encrypted file that holds the auth state between runs (the redux-persist part).

Next to it, a *logout-pending* marker is written before logout touches anything; a start
that finds it finishes the purge before rehydrating, so a process killed between the
in-memory reset and the purge never brings the session back.

A logout's purge also shreds the key (issue 9, finding 8): a stale copy of the file, written
by a lagging process or kept in a backup, can no longer be decrypted. The key is shared with
the revocation outbox, so it is kept while an outbox entry still needs it; the outbox shreds
it when it empties (:func:`~cleanexit.client.persistence.keys.shred_if_unused`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cleanexit.client.errors import KeyUnavailableError, PersistedStateWarning, PersistenceError
from cleanexit.client.persistence.codec import decode_state, encode_state
from cleanexit.client.persistence.envelope import open_sealed, seal
from cleanexit.client.persistence.files import (
    Signature,
    atomic_write,
    ensure_private_dir,
    locked,
    read_bytes,
    shred,
    signature,
)
from cleanexit.client.persistence.keys import KeySource, shred_if_unused
from cleanexit.client.state import AuthState

__all__ = ["ANY_VERSION", "Loaded", "StateFile"]

logger = logging.getLogger("cleanexit.client")
ANY_VERSION: Final = "any"
_PURPOSE = "auth-state/v1"


@dataclass(frozen=True, slots=True)
class Loaded:
    """What :meth:`StateFile.load` found: a state, or ``None`` and maybe why it was dropped."""

    state: AuthState | None
    signature: Signature | None
    problem: str | None = None


class StateFile:
    def __init__(self, directory: Path, *, key: KeySource, name: str = "auth-state") -> None:
        self.directory = Path(directory)
        self.key = key
        self.path = self.directory / f"{name}.bin"
        self.marker = self.directory / f"{name}.logout-pending"

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r}, key={self.key.description!r})"

    def exists(self) -> bool:
        return self.path.exists() or self.marker.exists()

    def signature(self) -> Signature | None:
        return signature(self.path)

    def load(self) -> Loaded:
        """Finish an interrupted logout if one is pending, then read the state.

        Unreadable content gives a :class:`PersistedStateWarning` and ``state=None``.
        """
        if not self.directory.is_dir():
            return Loaded(None, None)
        with locked(self.directory):
            if self.marker.exists():
                logger.warning("finishing an interrupted logout: purging %s", self.path)
                self._purge_locked(shred_key=True)
                return Loaded(None, None)
            return self._read_locked()

    def save(
        self, state: AuthState, *, expected: Signature | str | None = ANY_VERSION
    ) -> Signature | None:
        """Write ``state``; ``None`` (nothing written) if a logout is pending or the file is
        no longer the version ``expected`` (another process changed or purged it)."""
        ensure_private_dir(self.directory)
        plaintext = encode_state(state)
        with locked(self.directory):
            if self.marker.exists():
                return None
            if expected != ANY_VERSION and signature(self.path) != expected:
                return None
            # Sealed under the lock: a key shredded by a concurrent logout is never used after.
            atomic_write(self.path, seal(self._key(create=True), plaintext, purpose=_PURPOSE))
            return signature(self.path)

    def mark_logout_pending(self) -> None:
        ensure_private_dir(self.directory)
        with locked(self.directory):
            atomic_write(self.marker, b"")

    def purge(self, *, shred_key: bool = False) -> tuple[Path | str, ...]:
        """Remove the state; idempotent. Returns what could not be removed.

        ``shred_key`` (logout): also delete the key, unless another file sealed with it (the
        outbox) is still there. The marker goes last, so an interrupted purge is finished
        at the next start.
        """
        if not self.directory.is_dir():
            return self._shred_key_unused() if shred_key else ()
        with locked(self.directory):
            return self._purge_locked(shred_key=shred_key)

    def shred_key(self) -> tuple[str, ...]:
        """Shred the key alone, if nothing sealed with it is left (a repeated logout)."""
        if not self.directory.is_dir():
            return ()
        with locked(self.directory):
            return self._shred_key_unused()

    def key_exists(self) -> bool:
        """Whether the key that sealed this file still exists (``False`` once shredded)."""
        try:
            return self.key.get_key(create=False) is not None
        except KeyUnavailableError:
            return True  # present but unusable: not shredded

    def _purge_locked(self, *, shred_key: bool) -> tuple[Path | str, ...]:
        strays = [*self.directory.glob(f".{self.path.name}.tmp-*")]
        strays += self.directory.glob(f".{self.path.name}.shred-*")
        left: list[Path | str] = [p for p in (self.path, *strays) if not _try_shred(p)]
        if not left and shred_key:
            left += self._shred_key_unused()
        if not left and not _try_unlink(self.marker):
            left.append(self.marker)
        return tuple(left)

    def _shred_key_unused(self) -> tuple[str, ...]:
        try:
            shred_if_unused(self.key, self.directory)
        except (OSError, PersistenceError):
            logger.exception("could not shred the key in %s", self.key.description)
            return (self.key.description,)
        return ()

    def _read_locked(self) -> Loaded:
        version = signature(self.path)
        if version is None:
            return Loaded(None, None)
        try:
            blob = read_bytes(self.path) or b""
            state = decode_state(open_sealed(self._key(create=False), blob, purpose=_PURPOSE))
        except (ValueError, OSError, PersistenceError) as exc:
            return Loaded(None, version, self._discard_warning(exc))
        return Loaded(state, version)

    def _key(self, *, create: bool) -> bytes:
        key = self.key.get_key(create=create)
        if key is None:
            raise KeyUnavailableError(f"no key in {self.key.description}")
        return key

    def _discard_warning(self, exc: Exception) -> str:
        reason = getattr(exc, "description", None) or str(exc) or type(exc).__name__
        problem = f"{type(exc).__name__}: {reason}"
        message = f"ignoring unreadable client state {self.path} ({problem}); starting logged out"
        logger.warning("%s", message)
        warnings.warn(message, PersistedStateWarning, stacklevel=4)
        return problem


def _try_shred(path: Path) -> bool:
    try:
        shred(path)
    except OSError:
        logger.exception("could not remove %s", path)
        return False
    return True


def _try_unlink(path: Path) -> bool:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        logger.exception("could not remove %s", path)
        return False
    return True
