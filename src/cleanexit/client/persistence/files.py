"""Small file primitives: private dirs, atomic writes, shredding, a directory lock.

POSIX first; on platforms without ``fcntl`` the lock degrades to a no-op.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "MAX_FILE_BYTES",
    "Signature",
    "atomic_write",
    "ensure_private_dir",
    "locked",
    "read_bytes",
    "shred",
    "signature",
]

MAX_FILE_BYTES = 1 << 20
Signature = tuple[int, int, int, int]


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def signature(path: Path) -> Signature | None:
    """Identity of the file's current version: a new write (rename) gives a new one."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or ``None`` when absent; refuses symlinks and oversized files."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("file too large")
    return data


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file (0600) in the same directory, fsync, rename over, fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def shred(path: Path) -> bool:
    """Remove ``path`` so that no readable copy stays; ``True`` if there was one.

    Rename first (readers see it vanish at once), overwrite with zeros, then unlink.
    Overwriting is best effort: copy-on-write and flash storage may keep old blocks, which
    is why the content was encrypted in the first place.
    """
    doomed = path.with_name(f".{path.name}.shred-{os.urandom(4).hex()}")
    try:
        os.replace(path, doomed)
    except FileNotFoundError:
        return False
    _overwrite(doomed)
    os.unlink(doomed)
    _fsync_dir(path.parent)
    return True


def _overwrite(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.write(fd, b"\0" * os.fstat(fd).st_size)
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Exclusive lock across threads and processes, held on the directory itself.

    Locking the directory leaves no lock file behind for purge to account for.
    """
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    import fcntl

    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
