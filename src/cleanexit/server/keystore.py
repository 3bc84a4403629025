"""Key material kept in the data directory (the embedded default).

HS256: with no secret configured, one is generated on first start and kept in
``<data_dir>/secret`` with mode 0600 (created with O_EXCL, so two workers starting together
agree on one). EdDSA/ES256: PEM files ``<data_dir>/keys/<alg>-<time_ns>.pem``; the newest
signs.

Retired keys verify only as long as a token they signed can still be unexpired (issue 9,
finding 7): ``retire_after`` (the longest access-token lifetime + leeway) past the moment
they were retired, then they stop verifying and leave the JWKS.

- EdDSA/ES256: a key is retired when its successor's file is created (``keys rotate``); the
  moment is in the successor's name. ``cleanexit keys prune`` deletes the files of keys
  that no longer verify.
- HS256: a secret is retired at the first start that lists it in
  ``CLEANEXIT_PREVIOUS_SECRETS``. That moment is recorded in ``<data_dir>/retired/<kid>``, so
  restarting does not extend the window; a secret that becomes active again loses its record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from .._secret import Secret
from ..errors import ConfigurationError
from .keys import Algorithm, KeyRing, generate_private_pem, generate_secret, key_from_pem

__all__ = ["expired_key_files", "load_key_ring", "rotate_signing_key"]

log = logging.getLogger("cleanexit")
_NS = 1_000_000_000


def load_key_ring(
    data_dir: Path,
    *,
    algorithm: Algorithm,
    secret: Secret | None = None,
    previous_secrets: tuple[Secret, ...] = (),
    retire_after: float,
    now: float,
) -> KeyRing:
    """The configured ring; retired keys verify until ``retire_after`` seconds past their
    retirement, and are left out once that is over at ``now``."""
    if algorithm == "HS256":
        return _hs256_ring(data_dir, secret, previous_secrets, retire_after=retire_after, now=now)
    pems = _key_files(data_dir / "keys", algorithm)
    if not pems:
        rotate_signing_key(data_dir, algorithm=algorithm, now=now)
        pems = _key_files(data_dir / "keys", algorithm)
    keys = [key_from_pem(path.read_bytes()) for path in pems]  # newest first
    deadlines: dict[str, float] = {}
    for successor, key in zip(pems, keys[1:], strict=False):
        # Retired when its successor was created; a copy of a key keeps its latest deadline.
        deadlines.setdefault(key.kid, _created(successor) + retire_after)
    ring = KeyRing(active=keys[0], retired=keys[1:]).retiring(deadlines, now=now)
    if len(ring.keys) < len({key.kid for key in keys}):
        log.info("retired signing keys no longer verify; `cleanexit keys prune` deletes them")
    return ring


def expired_key_files(
    data_dir: Path, *, algorithm: Algorithm, retire_after: float, now: float
) -> list[Path]:
    """EdDSA/ES256 key files whose key was retired more than ``retire_after`` ago."""
    pems = _key_files(data_dir / "keys", algorithm)
    return [
        older for newer, older in itertools.pairwise(pems) if _created(newer) + retire_after <= now
    ]


def rotate_signing_key(data_dir: Path, *, algorithm: Algorithm, now: float | None = None) -> Path:
    """Add a new active key; the previous one keeps verifying tokens already issued, until
    ``access_ttl + leeway`` from now."""
    folder = data_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.time_ns() if now is None else int(now * _NS)
    path = folder / f"{algorithm.lower()}-{stamp}.pem"
    _write_private(path, generate_private_pem(algorithm))
    return path


def _key_files(folder: Path, algorithm: Algorithm) -> list[Path]:
    return sorted(folder.glob(f"{algorithm.lower()}-*.pem"), key=_created, reverse=True)


def _created(path: Path) -> float:
    """Creation time from the name ``<alg>-<time_ns>.pem`` (the file's mtime otherwise)."""
    try:
        return int(path.stem.rpartition("-")[2]) / _NS
    except ValueError:
        return path.stat().st_mtime


def _hs256_ring(
    data_dir: Path,
    secret: Secret | None,
    previous: tuple[Secret, ...],
    *,
    retire_after: float,
    now: float,
) -> KeyRing:
    active = secret if secret is not None else _stored_secret(data_dir / "secret")
    ring = KeyRing.from_secrets(active, *previous)
    records = data_dir / "retired"
    (records / ring.active.kid).unlink(missing_ok=True)  # active again: not retiring
    deadlines = {
        key.kid: _retired_at(records / key.kid, now) + retire_after for key in ring.retired
    }
    _warn_previous(deadlines.items(), now)
    return ring.retiring(deadlines, now=now)


def _retired_at(record: Path, now: float) -> float:
    """When this secret was first listed as previous (recorded now if it never was)."""
    if not record.exists():
        record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # another worker recorded it first
            _write_private(record, repr(float(now)).encode())
    try:
        return float(record.read_text())
    except ValueError as exc:
        raise ConfigurationError(f"{record} is corrupt; delete it to restart the clock") from exc


def _warn_previous(deadlines: Iterable[tuple[str, float]], now: float) -> None:
    for kid, deadline in deadlines:
        until = dt.datetime.fromtimestamp(deadline, dt.UTC).isoformat(timespec="seconds")
        if deadline <= now:
            log.warning(
                "CLEANEXIT_PREVIOUS_SECRETS: secret %s stopped verifying at %s; remove it",
                kid,
                until,
            )
        else:
            log.warning(
                "CLEANEXIT_PREVIOUS_SECRETS: secret %s verifies until %s only; remove it then",
                kid,
                until,
            )


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
