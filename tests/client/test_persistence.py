"""Encrypted persisted state on real files: atomic, private, all-or-nothing, purgeable."""

from __future__ import annotations

import base64
import os
import stat
import warnings
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from cleanexit._secret import Secret
from cleanexit.client import (
    INITIAL_STATE,
    AuthState,
    Client,
    KeyFileKey,
    KeyringKey,
    KeyUnavailableError,
    PersistedStateWarning,
    StateFile,
    StaticKey,
    Tokens,
    choose_key_source,
    open_state,
)
from cleanexit.client.persistence import encode_key, keyring_usable
from cleanexit.client.state import AuthStatus

STATE = AuthState(
    AuthStatus.AUTHENTICATED,
    "http://127.0.0.1:8000",
    "alice",
    "s1",
    Tokens(Secret("access-token-value"), Secret("cxr_refresh-token-value"), 100.0, 200.0),
)


def test_round_trip_and_nothing_readable_on_disk(state_file: StateFile) -> None:
    state_file.save(STATE)
    assert state_file.load().state == STATE
    raw = state_file.path.read_bytes()
    assert b"access-token-value" not in raw and b"alice" not in raw
    assert stat.S_IMODE(state_file.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.directory.stat().st_mode) == 0o700


def test_each_write_uses_a_new_nonce_and_leaves_no_temp_file(state_file: StateFile) -> None:
    state_file.save(STATE)
    first = state_file.path.read_bytes()
    state_file.save(STATE)
    assert state_file.path.read_bytes() != first
    assert [p.name for p in state_file.directory.iterdir()] == ["auth-state.bin"]


def damage_flip(data: bytes) -> bytes:
    return data[:-5] + bytes([data[-5] ^ 1]) + data[-4:]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(damage_flip, id="tampered"),
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d[:10], id="truncated-header"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: os.urandom(len(d)), id="garbage"),
        pytest.param(lambda d: b'{"format": 1}', id="plaintext-json"),
    ],
)
def test_damaged_file_is_a_warning_and_a_logged_out_start(
    state_dir: Path, state_file: StateFile, key: StaticKey, damage: object
) -> None:
    state_file.save(STATE)
    state_file.path.write_bytes(damage(state_file.path.read_bytes()))  # type: ignore[operator]
    with pytest.warns(PersistedStateWarning, match="starting logged out"):
        client = Client(state_dir=state_dir, key=key)
    assert client.state == INITIAL_STATE


def test_wrong_key_is_a_warning_and_a_logged_out_start(
    state_dir: Path, state_file: StateFile
) -> None:
    state_file.save(STATE)
    with pytest.warns(PersistedStateWarning, match="authentication failed"):
        client = Client(state_dir=state_dir, key=StaticKey(os.urandom(32)))
    assert client.state == INITIAL_STATE
    assert client.logout().clean and not state_file.path.exists()  # unreadable leftovers go too


def test_missing_key_is_a_warning(state_dir: Path, state_file: StateFile) -> None:
    state_file.save(STATE)
    with pytest.warns(PersistedStateWarning, match="no key"):
        loaded = StateFile(state_file.directory, key=KeyFileKey(state_dir / "nokey")).load()
    assert loaded.state is None


def test_a_valid_blob_of_another_purpose_is_rejected(state_file: StateFile, key: StaticKey) -> None:
    from cleanexit.client.persistence.codec import encode_state
    from cleanexit.client.persistence.envelope import seal

    state_file.save(STATE)
    state_file.path.write_bytes(seal(key._key, encode_state(STATE), purpose="revocation-outbox/v1"))
    with pytest.warns(PersistedStateWarning):
        assert state_file.load().state is None


def test_purge_is_idempotent_and_removes_only_the_state(state_dir: Path, key: StaticKey) -> None:
    state_file, _outbox = open_state(state_dir, key=key)
    state_file.save(STATE)
    (state_file.directory / "unrelated.txt").write_text("keep me")
    (state_file.directory / ".auth-state.bin.tmp-leftover").write_bytes(b"x")  # a crashed write
    assert state_file.purge() == ()
    assert state_file.purge() == ()
    assert sorted(p.name for p in state_file.directory.iterdir()) == ["unrelated.txt"]
    assert StateFile(state_dir / "never-created", key=key).purge() == ()


def test_logout_pending_marker_finishes_the_purge_before_rehydrating(state_file: StateFile) -> None:
    state_file.save(STATE)
    state_file.mark_logout_pending()
    assert state_file.save(STATE) is None  # nothing may be written while a logout is pending
    assert state_file.load().state is None
    assert not state_file.path.exists() and not state_file.marker.exists()


def test_conditional_save_refuses_a_stale_version(state_file: StateFile) -> None:
    version = state_file.save(STATE)
    assert state_file.save(STATE, expected=version) is not None
    assert state_file.save(STATE, expected=version) is None  # the file moved on
    state_file.purge()
    assert state_file.save(STATE, expected=version) is None  # purged by someone: no resurrection


# -- keys ----------------------------------------------------------------------------------


def test_key_file_is_private_and_apart_from_the_data(state_dir: Path) -> None:
    state_file, _ = open_state(state_dir)
    assert isinstance(state_file.key, KeyFileKey)
    state_file.save(STATE)
    key_path = state_file.key.path
    assert key_path.parent != state_file.directory
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert open_state(state_dir)[0].load().state == STATE
    state_file.purge()
    assert key_path.exists()  # purge removes the data and nothing else


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    source = KeyFileKey(tmp_path / "keys" / "k")
    source.get_key(create=True)
    os.chmod(source.path, 0o644)
    with pytest.raises(KeyUnavailableError, match="readable by others"):
        source.get_key(create=False)


def test_key_from_environment_value(state_dir: Path) -> None:
    raw = os.urandom(32)
    state_file, _ = open_state(state_dir, env_key=encode_key(raw))
    assert state_file.key.get_key(create=False) == raw
    assert not (state_dir / "keys").exists()
    with pytest.raises(KeyUnavailableError):
        open_state(state_dir, env_key=base64.urlsafe_b64encode(b"short").decode())


class MemoryKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def test_keyring_is_used_when_usable(state_dir: Path) -> None:
    assert not keyring_usable()  # the fail backend (what headless machines have)
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    assert keyring_usable()
    state_file, _ = open_state(state_dir)
    assert isinstance(state_file.key, KeyringKey)
    state_file.save(STATE)
    assert len(backend.items) == 1 and not (state_dir / "keys").exists()
    assert open_state(state_dir)[0].load().state == STATE


def test_explicit_choice_order(tmp_path: Path) -> None:
    keyring.set_keyring(MemoryKeyring())
    chosen = choose_key_source(
        key_file=tmp_path / "k", keyring_account="a", env_key=encode_key(os.urandom(32))
    )
    assert isinstance(chosen, StaticKey)
    no_ring = choose_key_source(key_file=tmp_path / "k", keyring_account="a", use_keyring=False)
    assert isinstance(no_ring, KeyFileKey)


def test_no_warning_on_a_clean_start(state_dir: Path, key: StaticKey) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Client(state_dir=state_dir, key=key).state == INITIAL_STATE
