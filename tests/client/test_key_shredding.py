"""Logout shreds the state key (issue 9, finding 8): old copies of the state stay unreadable.

Real files throughout: a copy of the encrypted state taken before logout (a backup, a sync
folder, a lagging process writing it back) must not be decryptable after it.
"""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest

from cleanexit.client import INITIAL_STATE, KeyFileKey, KeyringKey, PersistedStateWarning, StateFile
from cleanexit.client.config import StateLayout
from cleanexit.client.persistence.envelope import EnvelopeError, open_sealed
from tests.client.conftest import MakeClient
from tests.client.loopback import ScriptedServer
from tests.client.test_persistence import STATE, MemoryKeyring

ROUTES = {"/auth/login": "login", "/auth/logout": "logout-ok"}


def key_file(state_dir: Path) -> Path:
    return StateLayout.under(state_dir).key_file


def test_finding8_logout_shreds_the_key_so_an_old_copy_cannot_be_decrypted(
    make_client: MakeClient, state_dir: Path, state_path: Path
) -> None:
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url, key=None)  # no keyring here: the 0600 key file
        client.login("alice", "pw")
        assert isinstance(client.state_file.key, KeyFileKey)
        old_key = client.state_file.key.get_key(create=False)
        stale_copy = state_path.read_bytes()
        assert open_sealed(old_key, stale_copy, purpose="auth-state/v1")  # readable now

        result = client.logout()
        assert result.key_shredded and result.clean
        assert not key_file(state_dir).exists()

        # A lagging process (or a restored backup) puts the old file back: it stays unreadable.
        state_path.write_bytes(stale_copy)
        with pytest.warns(PersistedStateWarning, match="no key"):
            assert make_client(server.url, key=None).state == INITIAL_STATE

        # A new login gets a new key, which does not open the old copy either.
        state_path.unlink()
        again = make_client(server.url, key=None)
        again.login("alice", "pw")
        new_key = again.state_file.key.get_key(create=False)
        assert new_key is not None and new_key != old_key
        with pytest.raises(EnvelopeError):
            open_sealed(new_key, stale_copy, purpose="auth-state/v1")


def test_finding8_logout_deletes_the_keyring_entry(
    make_client: MakeClient, state_dir: Path
) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url, key=None)
        assert isinstance(client.state_file.key, KeyringKey)
        client.login("alice", "pw")
        assert len(backend.items) == 1
        assert client.logout().key_shredded
    assert backend.items == {}


def test_finding8_shredding_is_idempotent_and_finishes_an_older_logout(
    make_client: MakeClient, state_dir: Path
) -> None:
    # What an older client's logout left behind: an empty data directory and the key file.
    StateLayout.under(state_dir).data_dir.mkdir(parents=True)
    KeyFileKey(key_file(state_dir)).get_key(create=True)
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url, key=None)
        first = client.logout()
        second = client.logout()
    assert first.noop and first.key_shredded and first.clean
    assert second.noop and second.key_shredded and second.clean
    assert not key_file(state_dir).exists()


def test_finding8_key_is_kept_while_the_outbox_needs_it(
    make_client: MakeClient, state_dir: Path, state_path: Path
) -> None:
    with ScriptedServer({**ROUTES, "/auth/logout": "500"}) as server:
        client = make_client(server.url, key=None, use_outbox=True, logout_timeout=0.5)
        client.login("alice", "pw")
        result = client.logout()
        assert result.queued_for_retry and not result.key_shredded
        assert key_file(state_dir).exists()  # the queued refresh token is sealed with it

        server.routes["/auth/logout"] = "logout-ok"
        assert client.flush_outbox().confirmed == 1
    assert list(state_path.parent.iterdir()) == []
    assert not key_file(state_dir).exists()  # last sealed file gone: the key goes too


def test_finding8_interrupted_logout_shreds_the_key_at_next_start(state_dir: Path) -> None:
    data = StateLayout.under(state_dir).data_dir
    source = KeyFileKey(key_file(state_dir))
    state_file = StateFile(data, key=source)
    state_file.save(STATE)
    state_file.mark_logout_pending()  # killed after this, before the purge
    assert StateFile(data, key=source).load().state is None
    assert not key_file(state_dir).exists() and os.listdir(data) == []


def test_finding8_a_key_from_outside_is_not_ours_to_delete(
    make_client: MakeClient, state_dir: Path
) -> None:
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url)  # StaticKey: e.g. CLEANEXIT_CLIENT_KEY
        client.login("alice", "pw")
        result = client.logout()
    assert result.clean and not result.key_shredded
