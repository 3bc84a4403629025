"""Assembling the parts from ``Settings``: keys, store, replica, guard, sessions, users.

``build_runtime(settings, authenticator=..., claims=...)`` is the one place a service is wired;
every framework adapter builds on it, and ``Runtime.lifespan()`` is what an app runs around
its life (store, replica, pruning).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import Enum

from .clock import Clock, system_clock
from .errors import CleanexitError, ConfigurationError
from .server.claims import ClaimsHook
from .server.guard import Guard, ProviderGuard
from .server.keys import KeyRing
from .server.keystore import load_key_ring
from .server.oidc import Providers
from .server.replica import Replica
from .server.sessions import Authenticator, SessionPolicy, SessionService
from .server.stores import Store, open_store
from .server.tokens import TokenIssuer
from .server.users import SqliteUsers
from .server.verifier import Verifier
from .settings import Settings

__all__ = ["BUNDLED_USERS", "Bundled", "Runtime", "build_runtime"]

log = logging.getLogger("cleanexit")


class Bundled(Enum):
    USERS = "the bundled SQLite user table"


BUNDLED_USERS = Bundled.USERS  # the default Authenticator: DATA_DIR/users.db (argon2id)


@dataclass
class Runtime:
    settings: Settings
    keys: KeyRing
    store: Store
    replica: Replica
    guard: Guard
    service: SessionService
    users: SqliteUsers | None  # None: the application brings its own users
    clock: Clock
    providers: Providers | None = None  # trusted external issuers (issue 11)

    async def start(self) -> None:
        await self.store.open()
        await self.replica.start()
        if self.providers is not None:
            await self.providers.start()  # fetches their keys in the background
        if not self.settings.demo:
            await self.retire_demo_users()

    def bundled_users(self) -> SqliteUsers:
        """The bundled user table, or a clear error where the app brings its own users."""
        if self.users is None:
            raise ConfigurationError("this service has no bundled user table (its app has one)")
        return self.users

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Open the store, start the replica and the pruning; undo it all on the way out."""
        await self.start()
        pruner = asyncio.create_task(self._prune_forever(), name="cleanexit-prune")
        log.info("cleanexit ready: store %s, %s keys", self.store.name, self.keys.algorithm)
        try:
            yield
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            await self.stop()

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.prune_interval)
            try:
                pruned = await self.store.prune(now=self.clock())
                if pruned:
                    log.info("pruned %d expired rows", pruned)
            except CleanexitError as exc:
                log.warning("prune failed: %s", exc.description)

    async def retire_demo_users(self) -> list[str]:
        """Demo users exist only while the service runs with ``--demo`` (issue 9, finding 7):
        without it, their sessions end, then their rows go. In this order, a failure leaves
        the rows for the next start to retry."""
        users = self.users
        if users is None:
            return []
        names = await asyncio.to_thread(users.demo_usernames)
        for name in names:
            await self.service.revoke_user(name, reason="demo_user_removed")
        await asyncio.to_thread(users.remove_demo, names)
        if names:
            log.warning("removed demo users %s and ended their sessions", ", ".join(names))
        return names

    async def stop(self) -> None:
        if self.providers is not None:
            await self.providers.stop()
        await self.replica.stop()
        await self.store.close()


def build_runtime(
    settings: Settings,
    *,
    authenticator: Authenticator | Bundled | None = BUNDLED_USERS,
    claims: ClaimsHook | None = None,
    clock: Clock = system_clock,
) -> Runtime:
    """Everything a service needs, from ``settings``.

    ``authenticator``: checks passwords for ``/auth/login`` — the bundled SQLite user table
    by default, your own object (``async def authenticate(username, password) -> sub | None``),
    or ``None`` when the app signs users in itself and calls ``start_session``.
    ``claims``: a hook adding application claims to every access token (``server.claims``).
    """
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
    own, external = settings.accepted()
    providers = None
    guard: Guard = Guard(verifier=verifier, replica=replica)
    if settings.issuers:
        providers = Providers(
            issuers=settings.issuers,
            store=store,
            replica=replica,
            leeway=settings.leeway,
            clock=clock,
        )
    if providers is not None and external:
        # Resource-server mode: only then does the hot path look at anything but our tokens.
        guard = ProviderGuard(
            verifier=verifier, replica=replica, external=providers.verifier, accept_own=own
        )
    issuer = TokenIssuer(
        keys=keys,
        issuer=settings.issuer,
        audience=settings.audience,
        access_ttl=settings.access_ttl,
        clock=clock,
    )
    users = SqliteUsers(settings.data_dir / "users.db") if authenticator is BUNDLED_USERS else None
    policy = SessionPolicy(
        access_ttl=settings.access_ttl,
        refresh_idle_ttl=settings.refresh_idle_ttl,
        refresh_absolute_ttl=settings.refresh_absolute_ttl,
        refresh_grace=settings.refresh_grace,
        leeway=settings.leeway,
    )
    service = SessionService(
        store=store,
        issuer=issuer,
        guard=guard,
        authenticator=users if isinstance(authenticator, Bundled) else authenticator,
        claims=claims,
        policy=policy,
        clock=clock,
    )
    return Runtime(settings, keys, store, replica, guard, service, users, clock, providers)


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
