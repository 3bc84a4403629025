"""Request threads read the view while the runtime's loop thread writes it (issue 12: WSGI
workers): a revoked token must never be admitted by a read that overlaps a write."""

from __future__ import annotations

import sys
import threading
import time

from cleanexit.errors import RevokedTokenError
from cleanexit.server.replica import Guard, PollingReplica
from cleanexit.server.revocation import Revocation, RevocationView
from cleanexit.server.stores.memory import MemoryStore
from cleanexit.server.tokens import AccessClaims

ISS = "cleanexit"
NOW = 2_000_000_000.0


def claims(i: int) -> AccessClaims:
    return AccessClaims(ISS, "aud", f"u{i}", f"s{i}", f"j{i}", int(NOW), int(NOW) + 600, "c")


class Fresh(PollingReplica):
    def is_fresh(self) -> bool:
        return True


def test_reads_overlapping_writes_never_admit_a_revoked_token() -> None:
    store = MemoryStore()
    guard = Guard(verifier=None, replica=Fresh(store=store))  # type: ignore[arg-type]
    view: RevocationView = guard.replica.view
    revoked = [claims(i) for i in range(0, 60, 3)]
    view.apply([Revocation.token(ISS, c.jti, expires_at=NOW + 600) for c in revoked])
    # Already in the compact shape, just below a table resize.
    view.apply([Revocation.token(ISS, f"y{i}", expires_at=NOW + 900) for i in range(95_000)])
    assert view.nbytes() > 0
    stop = threading.Event()
    admitted: list[str] = []
    broken: list[str] = []

    def writer() -> None:
        # Growth through both shapes (dicts, then compact tables with resizes and filter
        # rebuilds) and prunes of short-lived entries: every kind of write the loop does.
        n = 0
        while not stop.is_set():
            batch = [
                Revocation.token(ISS, f"x{n + k}", expires_at=NOW - 1 + (k % 2) * 900)
                for k in range(500)
            ]
            n += 500
            view.apply(batch)
            view.prune(NOW)

    def reader() -> None:
        while not stop.is_set():
            for c in revoked:
                try:
                    if guard.check_now_threadsafe(c):
                        admitted.append(c.jti)
                except RevokedTokenError:
                    pass
                except Exception as exc:  # a torn read must not crash a request either
                    broken.append(type(exc).__name__)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [
            threading.Thread(target=writer),
            *(threading.Thread(target=reader) for _ in range(2)),
        ]
        for t in threads:
            t.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert admitted == [] and broken == []
