"""The PostgreSQL store (issue 13): ``PostgresStore`` and its ``NotifyReplica``.

Needs ``pip install 'cleanexit[postgres]'`` (psycopg 3 and psycopg-pool); docs/postgres.md.
"""

from __future__ import annotations

from .replica import NotifyReplica
from .store import PostgresStore

__all__ = ["NotifyReplica", "PostgresStore"]
