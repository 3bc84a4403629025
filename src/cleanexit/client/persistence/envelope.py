"""Authenticated encryption of the files the client keeps (AES-256-GCM).

Layout: ``MAGIC (4) | nonce (12) | ciphertext+tag``. A fresh random nonce per write; the
associated data binds the format version and the file's purpose, so a file cannot be
replayed as another kind (an outbox as a state) or under another format.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_BYTES", "MAGIC", "EnvelopeError", "open_sealed", "seal"]

MAGIC = b"CXC1"
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16


class EnvelopeError(ValueError):
    """The blob is not ours, is damaged, was altered, or was sealed with another key."""


def _aad(purpose: str) -> bytes:
    return MAGIC + b"|cleanexit-client|" + purpose.encode()


def seal(key: bytes, plaintext: bytes, *, purpose: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(purpose))


def open_sealed(key: bytes, blob: bytes, *, purpose: str) -> bytes:
    header = len(MAGIC) + _NONCE_BYTES
    if len(blob) < header + _TAG_BYTES:
        raise EnvelopeError("truncated")
    if blob[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("unknown format")
    nonce = blob[len(MAGIC) : header]
    try:
        return AESGCM(key).decrypt(nonce, blob[header:], _aad(purpose))
    except InvalidTag:
        raise EnvelopeError("authentication failed (tampered, or another key)") from None
