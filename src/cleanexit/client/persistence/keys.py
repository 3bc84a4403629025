"""Where the state-encryption key lives: OS keyring, a 0600 key file, or a given value.

:func:`choose_key_source` picks one at construction and sticks to it, so a key is never
created in one place and later looked for in another.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from pathlib import Path
from typing import Protocol

from cleanexit.client.errors import KeyUnavailableError
from cleanexit.client.persistence.envelope import KEY_BYTES
from cleanexit.client.persistence.files import ensure_private_dir, shred

__all__ = [
    "KEYRING_SERVICE",
    "KeyFileKey",
    "KeySource",
    "KeyringKey",
    "StaticKey",
    "choose_key_source",
    "decode_key",
    "encode_key",
    "keyring_usable",
    "shred_if_unused",
]

KEYRING_SERVICE = "cleanexit-client"
logger = logging.getLogger("cleanexit.client")


class KeySource(Protocol):
    """Gives the 32-byte key, creating it on first use when ``create`` is true.

    ``forget_key`` deletes it (crypto-shredding: whatever was sealed with it, a stale copy
    included, can no longer be read). It is idempotent and returns ``False`` only when this
    source cannot forget (a key handed in by the caller); a failure raises.
    """

    description: str

    def get_key(self, *, create: bool) -> bytes | None: ...

    def forget_key(self) -> bool: ...


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_key(text: str) -> bytes:
    """A base64url (padding optional) 32-byte key; raises :class:`KeyUnavailableError`."""
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise KeyUnavailableError("the key is not valid base64url") from None
    if len(key) != KEY_BYTES:
        raise KeyUnavailableError(f"the key must be {KEY_BYTES} bytes") from None
    return key


class StaticKey:
    """A key handed in by the caller (e.g. from ``CLEANEXIT_CLIENT_KEY``)."""

    def __init__(self, key: bytes, *, description: str = "a key given by the caller") -> None:
        if len(key) != KEY_BYTES:
            raise KeyUnavailableError(f"the key must be {KEY_BYTES} bytes")
        self._key = key
        self.description = description

    def __repr__(self) -> str:
        return f"StaticKey({self.description!r})"

    def get_key(self, *, create: bool) -> bytes | None:
        return self._key

    def forget_key(self) -> bool:
        return False  # the caller owns it (an environment variable, a secret store)


class KeyFileKey:
    """A key file readable by its owner only, in a directory of its own (0700)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = f"key file {self.path}"

    def __repr__(self) -> str:
        return f"KeyFileKey({str(self.path)!r})"

    def get_key(self, *, create: bool) -> bytes | None:
        try:
            return self._read()
        except FileNotFoundError:
            if not create:
                return None
        return self._create()

    def forget_key(self) -> bool:
        shred(self.path)  # OSError (e.g. a read-only directory) propagates: it is left behind
        return True

    def _read(self) -> bytes:
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "r") as handle:
            _check_private(os.fstat(handle.fileno()), self.path)
            return decode_key(handle.read())

    def _create(self) -> bytes:
        ensure_private_dir(self.path.parent)
        key = os.urandom(KEY_BYTES)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its key
            return self._read()
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return key


def _check_private(st: os.stat_result, path: Path) -> None:
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise KeyUnavailableError(f"{path} is not owned by the current user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise KeyUnavailableError(f"{path} is readable by others; expected mode 0600")


class KeyringKey:
    """The key stored base64url-encoded in the OS keyring."""

    def __init__(self, account: str, *, service: str = KEYRING_SERVICE) -> None:
        self.service = service
        self.account = account
        self.description = f"OS keyring ({service}/{account})"

    def __repr__(self) -> str:
        return f"KeyringKey({self.service!r}, {self.account!r})"

    def get_key(self, *, create: bool) -> bytes | None:
        stored = self._call("get_password", self.service, self.account)
        if stored is not None:
            return decode_key(stored)
        if not create:
            return None
        key = os.urandom(KEY_BYTES)
        self._call("set_password", self.service, self.account, encode_key(key))
        return key

    def forget_key(self) -> bool:
        if self._call("get_password", self.service, self.account) is not None:
            self._call("delete_password", self.service, self.account)
        return True

    @staticmethod
    def _call(name: str, *args: str) -> str | None:
        import keyring

        try:
            result: str | None = getattr(keyring, name)(*args)
        except Exception as exc:  # backends raise their own types (dbus, secretstorage...)
            raise KeyUnavailableError(f"OS keyring failed: {type(exc).__name__}") from None
        return result


def shred_if_unused(key: KeySource, directory: Path) -> bool:
    """Forget ``key`` unless a file sealed with it (``*.bin``) is still in ``directory``.

    Call under the directory lock. Returns whether the key is gone.
    """
    if directory.is_dir() and any(directory.glob("*.bin")):
        return False
    return key.forget_key()


def keyring_usable() -> bool:
    """True when ``keyring`` has a real backend (not the fail/null one, priority > 0)."""
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return False
        if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
            return False
        return float(backend.priority) > 0
    except Exception:  # a broken keyring install must not break start-up
        logger.debug("keyring unusable", exc_info=True)
        return False


def choose_key_source(
    *, key_file: Path, keyring_account: str, env_key: str | None = None, use_keyring: bool = True
) -> KeySource:
    """Explicit key first, then the OS keyring when usable, else the key file."""
    if env_key:
        return StaticKey(decode_key(env_key), description="CLEANEXIT_CLIENT_KEY")
    if use_keyring and keyring_usable():
        return KeyringKey(keyring_account)
    return KeyFileKey(key_file)
