"""Key material kept in the data directory (the embedded default).

HS256: with no secret configured, one is generated on first start and kept in
``<data_dir>/secret`` with mode 0600 (created with O_EXCL, so two workers starting together
agree on one). EdDSA/ES256: PEM files in ``<data_dir>/keys/``; the newest signs, older ones
still verify until removed (``cleanexit keys rotate`` / ``keys prune``).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from .._secret import Secret
from ..errors import ConfigurationError
from .keys import Algorithm, KeyRing, generate_private_pem, generate_secret

__all__ = ["load_key_ring", "rotate_signing_key"]


def load_key_ring(
    data_dir: Path,
    *,
    algorithm: Algorithm,
    secret: Secret | None = None,
    previous_secrets: tuple[Secret, ...] = (),
) -> KeyRing:
    if algorithm == "HS256":
        active = secret if secret is not None else _stored_secret(data_dir / "secret")
        return KeyRing.from_secrets(active, *previous_secrets)
    pems = _key_files(data_dir / "keys", algorithm)
    if not pems:
        rotate_signing_key(data_dir, algorithm=algorithm)
        pems = _key_files(data_dir / "keys", algorithm)
    return KeyRing.from_private_pems(*(p.read_bytes() for p in pems))


def rotate_signing_key(data_dir: Path, *, algorithm: Algorithm) -> Path:
    """Add a new active key; the previous ones keep verifying tokens already issued."""
    folder = data_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{algorithm.lower()}-{time.time_ns()}.pem"
    _write_private(path, generate_private_pem(algorithm))
    return path


def _key_files(folder: Path, algorithm: Algorithm) -> list[Path]:
    return sorted(folder.glob(f"{algorithm.lower()}-*.pem"), reverse=True)  # newest first


def _stored_secret(path: Path) -> Secret:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # FileExistsError: another worker won the race; read its secret.
        with contextlib.suppress(FileExistsError):
            _write_private(path, generate_secret().reveal().encode())
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    return Secret(path.read_text().strip())


def _write_private(path: Path, data: bytes) -> None:
    """Write a complete 0600 file, then link it into place: readers never see it half-written,
    and ``FileExistsError`` tells a second writer that another process got there first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
