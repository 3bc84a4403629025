"""Assembling the parts from ``Settings``: keys, store, replica, guard, sessions, users."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from .clock import Clock, system_clock
from .server.keys import KeyRing
from .server.keystore import load_key_ring
from .server.replica import Guard, Replica
from .server.sessions import SessionPolicy, SessionService
from .server.stores import Store, open_store
from .server.tokens import TokenIssuer
from .server.users import SqliteUsers
from .server.verifier import Verifier
from .settings import Settings

__all__ = ["Runtime", "build_runtime"]

log = logging.getLogger("cleanexit")


@dataclass
class Runtime:
    settings: Settings
    keys: KeyRing
    store: Store
    replica: Replica
    guard: Guard
    service: SessionService
    users: SqliteUsers
    clock: Clock

    async def start(self) -> None:
        await self.store.open()
        await self.replica.start()
        if not self.settings.demo:
            await self.retire_demo_users()

    async def retire_demo_users(self) -> list[str]:
        """Demo users exist only while the service runs with ``--demo`` (issue 9, finding 7):
        without it, their sessions end, then their rows go. In this order, a failure leaves
        the rows for the next start to retry."""
        names = await asyncio.to_thread(self.users.demo_usernames)
        for name in names:
            await self.service.revoke_user(name, reason="demo_user_removed")
        await asyncio.to_thread(self.users.remove_demo, names)
        if names:
            log.warning("removed demo users %s and ended their sessions", ", ".join(names))
        return names

    async def stop(self) -> None:
        await self.replica.stop()
        await self.store.close()


def build_runtime(settings: Settings, *, clock: Clock = system_clock) -> Runtime:
    keys = load_key_ring(
        settings.data_dir,
        algorithm=settings.algorithm,
        secret=settings.signing_secret(),
        previous_secrets=settings.previous_signing_secrets(),
        # Every token a retired key signed has expired this long after its retirement.
        retire_after=settings.access_ttl + settings.leeway,
        now=clock(),
    )
    store = open_store(settings.store_url_resolved(), **_store_options(settings))
    replica = store.make_replica(clock=clock)
    verifier = Verifier(
        keys=keys,
        issuer=settings.issuer,
        audience=settings.audience,
        leeway=settings.leeway,
        clock=clock,
    )
    guard = Guard(verifier=verifier, replica=replica)
    issuer = TokenIssuer(
        keys=keys,
        issuer=settings.issuer,
        audience=settings.audience,
        access_ttl=settings.access_ttl,
        clock=clock,
    )
    users = SqliteUsers(settings.data_dir / "users.db")
    policy = SessionPolicy(
        access_ttl=settings.access_ttl,
        refresh_idle_ttl=settings.refresh_idle_ttl,
        refresh_absolute_ttl=settings.refresh_absolute_ttl,
        refresh_grace=settings.refresh_grace,
        leeway=settings.leeway,
    )
    service = SessionService(
        store=store, issuer=issuer, guard=guard, authenticator=users, policy=policy, clock=clock
    )
    return Runtime(settings, keys, store, replica, guard, service, users, clock)


def _store_options(settings: Settings) -> dict[str, object]:
    url = settings.store_url_resolved()
    if url.startswith(("postgresql:", "postgres:")):
        return {
            "stale_after": settings.stale_after,
            "fail_open": settings.fail_open,
            "schema": settings.postgres_schema,
            "pool_size": settings.postgres_pool_size,
            "listen_url": settings.postgres_listen_url,
        }
    if not url.startswith(("redis", "rediss", "unix")):
        return {}
    durable = settings.require_durable_redis
    return {
        "mode": settings.redis_mode,
        "cluster": settings.redis_cluster,
        "stale_after": settings.stale_after,
        "fail_open": settings.fail_open,
        "require_durable": settings.production if durable is None else durable,
    }
