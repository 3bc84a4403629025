"""A second process for the multi-process tests: ``python -m tests.client.child CMD DIR KEY``.

``crash-logout``: log out, but die (SIGKILL) right after the in-memory reset, before purge.
``logout``: log out normally. ``me``: one authenticated request (refreshing if needed).
"""

from __future__ import annotations

import os
import signal
import sys

from cleanexit.client import Client, StaticKey
from cleanexit.client.persistence import PersistedAuth, decode_key


def _die_before_purge(self: PersistedAuth) -> tuple[str, ...]:
    print(f"reset:{self.store.state.status.value}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def main(command: str, state_dir: str, key: str) -> None:
    client = Client(state_dir=state_dir, key=StaticKey(decode_key(key)), logout_timeout=2)
    print(f"rehydrated:{client.state.status.value}", flush=True)
    if command == "crash-logout":
        PersistedAuth.purge = _die_before_purge  # type: ignore[method-assign]
        client.logout()
    elif command == "logout":
        print(client.logout().describe(), flush=True)
    elif command == "me":
        print(client.me()["sub"], flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
