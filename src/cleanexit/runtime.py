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
from typing import TYPE_CHECKING, Any

from .clock import Clock, system_clock
from .errors import CleanexitError, ConfigurationError
from .server.attempts import AttemptPolicy
from .server.audit import AuditLog, configure_audit
from .server.claims import ClaimsHook
from .server.client_ip import ClientAddress, parse_networks
from .server.counting import CountingGuard, CountingProviderGuard, Counts
from .server.events import Observer, fan_out
from .server.guard import Guard, ProviderGuard
from .server.keys import KeyRing
from .server.keystore import load_key_ring
from .server.login_throttle import LoginThrottle
from .server.oidc import Providers
from .server.replica import Replica
from .server.sessions import Authenticator, SessionPolicy, SessionService
from .server.stores import Store, open_store
from .server.tokens import TokenIssuer
from .server.users import SqliteUsers
from .server.verifier import Verifier
from .settings import Settings

if TYPE_CHECKING:
    from .server.metrics import Metrics

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
    metrics: Metrics | None = None  # CLEANEXIT_METRICS (issue 15)

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
        configure_audit(self.settings.audit_log)
        await self.start()
        pruner = asyncio.create_task(self._prune_forever(), name="cleanexit-prune")
        log.info("cleanexit ready: store %r, %s keys", self.store, self.keys.algorithm)
        try:
            async with self._exporting():
                yield
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            await self.stop()

    @contextlib.asynccontextmanager
    async def _exporting(self) -> AsyncIterator[None]:
        """Metrics (issue 15): the listener of ``CLEANEXIT_METRICS_ADDRESS`` and, with several
        worker processes, the flush of this one's counts to the shared files."""
        metrics = self.metrics
        if metrics is None:
            yield
            return
        from .server.metrics_server import flush_forever, serve_metrics

        listener = serve_metrics(metrics, self.settings.metrics_listen())
        flusher = asyncio.create_task(flush_forever(metrics), name="cleanexit-metrics")
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            metrics.flush()  # a worker's last counts stay in its files: totals never drop
            if listener is not None:
                listener.close()

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
        generate=not settings.production,  # issue 15: each instance would make its own
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
    # With metrics on, the hot path counts in plain integers (server.counting, issue 15).
    guard: Guard = (CountingGuard if settings.metrics else Guard)(
        verifier=verifier, replica=replica
    )
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
        kind = CountingProviderGuard if settings.metrics else ProviderGuard
        guard = kind(
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
        throttle=_login_throttle(settings, store, clock),
    )
    metrics = _metrics(settings, guard, replica)
    service.observer = _observer(settings, metrics)
    if providers is not None:  # back-channel logouts and provider revocations too
        providers.observer = service.observer
    return Runtime(settings, keys, store, replica, guard, service, users, clock, providers, metrics)


# -- issue 15: operations --------------------------------------------------------------------
def _login_throttle(settings: Settings, store: Store, clock: Clock) -> LoginThrottle | None:
    if not settings.login_throttle:
        return None
    proxies = ClientAddress(parse_networks(settings.trusted_proxies))
    common: dict[str, Any] = {
        "base": settings.login_backoff,
        "cap": settings.login_backoff_max,
        "forget_after": settings.login_forget_after,
    }
    return LoginThrottle(
        store=store,
        per_user=AttemptPolicy(free=settings.login_free_attempts, **common),
        per_address=AttemptPolicy(free=settings.login_address_free_attempts, **common),
        exempt=proxies.is_trusted,  # a proxy's own address stands for all its clients
        clock=clock,
    )


def _metrics(settings: Settings, guard: Guard, replica: Replica) -> Metrics | None:
    if not settings.metrics:
        return None
    from .server.metrics import Metrics

    assert isinstance(guard, Counts)
    return Metrics(
        guard=guard, replica=replica, multiprocess_dir=settings.metrics_multiprocess_dir()
    )


def _observer(settings: Settings, metrics: Metrics | None) -> Observer | None:
    observers: list[Observer] = []
    if settings.audit_log.strip().lower() != "off":
        observers.append(AuditLog())
    if metrics is not None:
        observers.append(metrics)
    return fan_out(observers)


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
