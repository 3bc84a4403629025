"""The Redis store: many server instances sharing one revocation state (issue 4).

Truth lives in keys that expire when they can no longer matter; order lives in a capped stream
every instance tails into its in-process view (``redis_replica.StreamReplica``), or that a strict
instance skips by asking the keys on every request (``redis_replica.StrictReplica``). Every
read-modify-write is a Lua script (``_redis_lua``), so two instances racing on one refresh
token get exactly one ``ROTATED``. Keys are laid out for Redis Cluster; docs/redis.md has the
map. redis-py is imported here only, and its errors leave as ``StoreUnavailableError``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, ResponseError

from ...clock import Clock, system_clock
from ...errors import ConfigurationError, StoreError, StoreUnavailableError
from ..attempts import AttemptOp, AttemptPolicy, Attempts, decide_attempts
from ..revocation import Revocation, RevocationKind
from . import _redis_lua as lua
from .base import (
    REUSE_EVENT,
    Cursor,
    RefreshRecord,
    Rotation,
    RotationRequest,
    RotationStatus,
    SecurityEvent,
    SessionRecord,
    Store,
    race_event,
)

if TYPE_CHECKING:
    from ..replica import Replica
    from ..revocation import Revocable

__all__ = ["FeedBatch", "Keys", "Position", "RedisFeed", "RedisStore"]

log = logging.getLogger("cleanexit.redis")

P = ParamSpec("P")
T = TypeVar("T")
Client = Any  # redis.asyncio.Redis or RedisCluster: their stubs share no useful base
MAX_LEEWAY = 300.0  # the largest clock leeway a setting allows: sessions stay endable this long
MIN_REDIS = (7, 0)  # XINFO STREAM max-deleted-entry-id: exact gap detection


def _boundary(method: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Driver errors leave the store only as ours (style.md, "Errors")."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except (RedisError, RedisClusterException, OSError) as exc:
            raise _unavailable(exc) from exc

    return wrapper


def _unavailable(exc: BaseException) -> StoreError:
    # Connection errors carry host:port, never credentials; a reply error could quote key
    # names (sids, token ids), so only its class is told.
    if isinstance(exc, ResponseError):
        return StoreUnavailableError(f"redis: {type(exc).__name__}")
    return StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}"[:200])


def _tag(value: str) -> str:
    """A hash tag for ``value``: itself when safe, else a digest (a brace would move the slot,
    and a leading '~' is reserved for digests so two values never share a tag)."""
    if not value or value[0] == "~" or "{" in value or "}" in value:
        return "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return value


def _token_key(iss: str, jti: str) -> str:
    return Revocation.token(iss, jti, expires_at=0.0).key  # the view's own key for it


def _f(value: float) -> str:
    return repr(float(value))  # shortest exact decimal: Lua's tonumber reads the same double


class Keys:
    """Every key name, in one place (docs/redis.md, "Key layout")."""

    def __init__(self, prefix: str) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError("the Redis key prefix must be non-empty and brace-free")
        self.prefix = prefix
        feed = f"{prefix}:{{feed}}"
        # stream, sid/jti/user indexes, user cutoffs, entry counter: one slot (_redis_lua)
        self.feed = [f"{feed}:{name}" for name in ("stream", "sid", "jti", "user", "cut", "n")]
        self.gc = f"{prefix}:{{gc}}:refresh"  # every refresh record by expiry, for prune()
        self.events = f"{prefix}:events"

    def session(self, sid: str) -> str:
        return f"{self.prefix}:{{{_tag(sid)}}}:session"

    def family(self, sid: str) -> str:
        return f"{self.prefix}:{{{_tag(sid)}}}:refresh"

    def record_prefix(self, sid: str) -> str:
        return f"{self.prefix}:{{{_tag(sid)}}}:refresh:"

    def pointer(self, hexhash: str) -> str:
        return f"{self.prefix}:refresh:{hexhash}"

    def user_sessions(self, sub: str) -> str:
        return f"{self.prefix}:user:{{{_tag(sub)}}}:sessions"

    def user_seq(self, sub: str) -> str:
        return f"{self.prefix}:user:{{{_tag(sub)}}}:seq"

    def user_events(self, sub: str) -> str:
        return f"{self.prefix}:user:{{{_tag(sub)}}}:events"

    def attempts(self, key: str) -> str:
        return f"{self.prefix}:attempts:{{{_tag(key)}}}"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a reader is in the feed: the last stream id it read and that entry's number."""

    last_id: str = "0-0"
    n: int = 0

    def __str__(self) -> str:
        return f"{self.last_id} {self.n}"

    @classmethod
    def parse(cls, cursor: object) -> Position:
        last_id, _, n = str(cursor).partition(" ")
        return cls(last_id, int(n or 0))


@dataclass(frozen=True, slots=True)
class FeedBatch:
    revocations: list[Revocation]
    position: Position
    complete: bool  # False: more entries were waiting (read again before claiming freshness)
    gap: bool  # entries were lost (trimmed, stream recreated, data loss): reload a snapshot


class RedisStore(Store):
    """``RedisStore("redis://host:6379/0", mode="replica", stale_after=1.0)``."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        mode: Literal["replica", "strict"] = "replica",
        stale_after: float = 1.0,
        fail_open: bool = False,
        require_durable: bool = False,
        key_prefix: str = "cleanexit",
        stream_maxlen: int = 100_000,
        stream_max_age: float = 600.0,
        timeout: float = 2.0,
        cluster: bool = False,
        publish_inline: bool | None = None,
        events_maxlen: int = 10_000,
        events_ttl: float = 90 * 86400.0,
        clock: Clock = system_clock,
    ) -> None:
        if mode not in ("replica", "strict"):
            raise ConfigurationError(f"unknown Redis mode {mode!r} (replica, strict)")
        if stale_after <= 0 or timeout <= 0 or stream_maxlen < 1 or stream_max_age <= 0:
            raise ConfigurationError("Redis store bounds must be positive")
        self.url = url
        self.mode = mode
        self.stale_after = stale_after
        self.fail_open = fail_open
        self.require_durable = require_durable
        self.keys = Keys(key_prefix)
        self.stream_maxlen = stream_maxlen
        self.stream_max_age_ms = int(stream_max_age * 1000)
        self.timeout = timeout
        self.cluster = cluster
        # One script per operation, feed included, where every key lives on one node; a
        # cluster needs the two-step form (session slot first, then the feed slot).
        self.publish_inline = (not cluster) if publish_inline is None else publish_inline
        self.events_maxlen = events_maxlen
        self.events_ttl_ms = int(events_ttl * 1000)
        self._clock = clock
        self._client: Client = None
        self._strict_client: Client = None  # per-request checks: timeout = stale_after
        self._scripts: dict[str, Any] = {}
        self._replicas: weakref.WeakSet[Replica] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r}, mode={self.mode!r})"

    @property
    def where(self) -> str:
        """host:port (or socket path) without credentials: for logs and errors."""
        parts = urlsplit(self.url)
        return parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"

    # -- connection --------------------------------------------------------------------------
    def connect(self, *, socket_timeout: float | None = None, tailer: bool = False) -> Client:
        """A new client on this store's URL (the replica's tailer gets its own)."""
        options: dict[str, Any] = {
            "decode_responses": True,
            "socket_timeout": socket_timeout or self.timeout,
            "socket_connect_timeout": min(self.timeout, max(self.stale_after, 0.2)),
            # One quick retry heals a pooled connection the server closed (a restart); more,
            # or retrying timeouts, would hold a request long past the freshness bound.
            "retry": Retry(
                ConstantBackoff(0.01), 0 if tailer else 1, supported_errors=(RedisConnectionError,)
            ),
        }
        if self.cluster:
            return aioredis.RedisCluster.from_url(self.url, **options)
        options["client_name"] = "cleanexit-tail" if tailer else "cleanexit"
        return aioredis.Redis.from_url(self.url, single_connection_client=tailer, **options)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self.connect()
        return self._client

    @property
    def strict_client(self) -> Client:
        """The client of per-request checks: a silent Redis costs a request one bound, at most."""
        if self._strict_client is None:
            self._strict_client = self.connect(socket_timeout=self.stale_after)
        return self._strict_client

    def _script(self, name: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(getattr(lua, name))
        return script

    @_boundary
    async def open(self) -> None:
        info = await self.client.info("server")
        version = tuple(int(x) for x in str(info.get("redis_version", "0.0")).split(".")[:2])
        if version < MIN_REDIS:
            raise ConfigurationError(
                f"Redis {'.'.join(map(str, MIN_REDIS))} or newer is needed, "
                f"{self.where} runs {info.get('redis_version')}"
            )
        persistence = await self._persistence()
        if self.require_durable and not persistence["durable"]:
            raise ConfigurationError(
                f"Redis at {self.where} keeps nothing on disk ({persistence['detail']}): a restart "
                "would forget every revocation. Turn on AOF (appendonly yes) or RDB snapshots, "
                "or accept the risk with CLEANEXIT_REQUIRE_DURABLE_REDIS=false (docs/redis.md)."
            )
        if self.fail_open:
            log.warning(
                "CLEANEXIT_FAIL_OPEN is on: when Redis (%s) cannot be reached, tokens are checked "
                "against a possibly stale revocation view instead of being refused (503). "
                "A token revoked during the outage may be accepted.",
                self.where,
            )

    async def close(self) -> None:
        clients = (self._client, self._strict_client)
        self._client = self._strict_client = None
        self._scripts.clear()
        for client in clients:
            if client is not None:
                with contextlib.suppress(RedisError, OSError):  # closing a dead socket
                    await client.aclose()

    def make_replica(self, *, clock: Callable[[], float]) -> Replica:
        from .redis_replica import StreamReplica, StrictReplica

        kind = StrictReplica if self.mode == "strict" else StreamReplica
        replica = kind(
            store=self, clock=clock, stale_after=self.stale_after, fail_open=self.fail_open
        )
        self._replicas.add(replica)
        return replica

    def feed(self, *, block: float) -> RedisFeed:
        """A dedicated reader of the revocation stream (one blocking connection)."""
        # The socket must outlive the server-side block, but not by much: a silent network
        # loses the connection (and with it freshness) within block + stale_after / 2.
        timeout = block + max(self.stale_after / 2, 0.05)
        return RedisFeed(self, self.connect(socket_timeout=timeout, tailer=True))

    # -- sessions and refresh families ---------------------------------------------------------
    @_boundary
    async def create_session(self, session: SessionRecord, refresh: RefreshRecord) -> None:
        k, sid, hexhash = self.keys, session.sid, refresh.token_hash.hex()
        now = _f(session.created_at)
        # The user's index first: a session "log out everywhere" cannot find must not exist.
        horizon = session.expires_at + MAX_LEEWAY + 1  # endable until then, at the latest
        seq = await self._script("USER_ADD")(
            keys=[k.user_sessions(session.sub), k.user_seq(session.sub)],
            args=[sid, _f(horizon), now],
        )
        fields = {
            "sid": sid,
            "sub": session.sub,
            "created_at": _f(session.created_at),
            "last_seen": _f(session.last_seen),
            "expires_at": _f(session.expires_at),
            "user_agent": session.user_agent,
            "ip": session.ip,
            "access_until": _f(session.access_until),
            "claims": orjson.dumps(dict(session.claims)).decode(),
            "seq": str(seq),
        }
        if session.ended_at is not None:
            fields.update(ended_at=_f(session.ended_at), end_reason=session.end_reason or "")
        session_ms = _ttl_ms(horizon, session.created_at)
        record_ms = _ttl_ms(refresh.expires_at, refresh.issued_at)
        async with self.client.pipeline(transaction=True) as pipe:  # one slot: {sid}
            pipe.hset(k.session(sid), mapping=fields)
            pipe.pexpire(k.session(sid), session_ms)
            pipe.hset(
                k.record_prefix(sid) + hexhash,
                mapping={"issued_at": _f(refresh.issued_at), "expires_at": _f(refresh.expires_at)},
            )
            pipe.pexpire(k.record_prefix(sid) + hexhash, record_ms)
            pipe.zadd(k.family(sid), {hexhash: refresh.expires_at})
            pipe.pexpire(k.family(sid), max(session_ms, record_ms))
            await pipe.execute()
        await self._point(hexhash, sid, refresh.expires_at, record_ms)

    async def _point(self, hexhash: str, sid: str, expires_at: float, ttl_ms: int) -> None:
        # Last: until this pointer exists the refresh token cannot be used.
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.pointer(hexhash), sid, px=ttl_ms)
            pipe.zadd(self.keys.gc, {f"{hexhash}:{sid}": expires_at})
            pipe.pexpire(self.keys.gc, ttl_ms, nx=True)  # the index lives as long as its
            pipe.pexpire(self.keys.gc, ttl_ms, gt=True)  # longest-lived member
            await pipe.execute()

    @_boundary
    async def rotate_refresh(
        self, old_hash: bytes, new_hash: bytes, r: RotationRequest
    ) -> Rotation:
        k, old_hex, new_hex, now = self.keys, old_hash.hex(), new_hash.hex(), r.now
        sid = await self.client.get(k.pointer(old_hex))
        if sid is None:
            return Rotation(RotationStatus.INVALID)
        candidate = now + r.idle_ttl
        # The new token's pointer goes first (an upper bound on its expiry), so the token
        # works the moment the script returns it; it is withdrawn if the script refuses.
        await self._point(new_hex, sid, candidate, _ttl_ms(candidate, now))
        keys = [k.session(sid), k.family(sid), k.record_prefix(sid) + old_hex]
        keys.append(k.record_prefix(sid) + new_hex)
        if self.publish_inline:
            keys += k.feed
        status, value, published, fields, dropped, rotated_by = await self._script("ROTATE")(
            keys=keys,
            args=[
                _f(now), _f(r.grace), _f(candidate), _f(r.leeway), new_hex,
                k.record_prefix(sid), sid, self.stream_maxlen, self.stream_max_age_ms,
                _f(r.access_until), r.client, r.keep_rotated,
            ],
        )  # fmt: skip
        result = RotationStatus(status)
        session = _session(fields)
        if result is not RotationStatus.ROTATED:
            await self._unpoint([new_hex], sid)
        await self._unpoint(dropped, sid)
        if result is RotationStatus.RACE:
            assert session is not None
            same = rotated_by == r.client
            await self._event(race_event(session, now=now, same_client=same))
            return Rotation(result, session, same_client=same)
        if result is RotationStatus.REUSED:
            assert session is not None
            if not published and not self.publish_inline:
                await self._publish([("sid", sid, float(value), 0.0, "max")], now=now)
            await self._event(SecurityEvent(now, REUSE_EVENT, session.sub, sid))
        if result is not RotationStatus.ROTATED:
            return Rotation(result, session)
        return Rotation(result, session, float(value))

    async def _unpoint(self, hexes: Sequence[str], sid: str) -> None:
        if not hexes:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for hexhash in hexes:
                pipe.delete(self.keys.pointer(hexhash))
            pipe.zrem(self.keys.gc, *(f"{hexhash}:{sid}" for hexhash in hexes))
            await pipe.execute()

    @_boundary
    async def find_refresh(self, token_hash: bytes) -> tuple[RefreshRecord, SessionRecord] | None:
        hexhash = token_hash.hex()
        sid = await self.client.get(self.keys.pointer(hexhash))
        if sid is None:
            return None
        async with self.client.pipeline(transaction=True) as pipe:  # one slot: {sid}
            pipe.hgetall(self.keys.record_prefix(sid) + hexhash)
            pipe.hgetall(self.keys.session(sid))
            record, fields = await pipe.execute()
        session = _session(fields)
        if not record or session is None:
            return None
        rotated = record.get("rotated_at")
        return RefreshRecord(
            token_hash,
            sid,
            float(record.get("issued_at", 0)),
            float(record["expires_at"]),
            float(rotated) if rotated else None,
            record.get("rotated_by", ""),
        ), session

    @_boundary
    async def get_session(self, sid: str) -> SessionRecord | None:
        return _session(await self.client.hgetall(self.keys.session(sid)))

    @_boundary
    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        return [s for s in await self._sessions_of(sub, now=now, leeway=0.0) if s.active(now)]

    async def _sessions_of(self, sub: str, *, now: float, leeway: float) -> list[SessionRecord]:
        """The user's endable sessions, oldest first."""
        index = self.keys.user_sessions(sub)
        sids = await self.client.zrangebyscore(index, f"({_f(now)}", "+inf")
        if not sids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hgetall(self.keys.session(sid))
            rows = await pipe.execute()
        found, stale = [], []
        for sid, fields in zip(sids, rows, strict=True):
            session = _session(fields)
            if session is not None and session.endable(now, leeway=MAX_LEEWAY):
                found.append((session, int(fields.get("seq", 0))))
            else:
                stale.append(sid)
        if stale:  # ended or gone: the index forgets them now rather than at its expiry
            await self.client.zrem(index, *stale)
        found.sort(key=lambda pair: (pair[0].created_at, pair[1]))
        return [s for s, _ in found if s.endable(now, leeway=leeway)]

    @_boundary
    async def end_sessions(
        self,
        sids: Sequence[str],
        *,
        now: float,
        reason: str,
        leeway: float,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        ended = await self._end(list(dict.fromkeys(sids)), now, reason, leeway)
        await self._publish_all(extra, now=now)
        return ended

    async def _end(
        self, sids: list[str], now: float, reason: str, leeway: float
    ) -> list[Revocation]:
        """End sessions; return the sid revocations of those ended.

        Not one atomic step with the caller's extra revocations (sessions live in their own
        hash slots), but every step is idempotent and a retry of the logout finishes it: an
        ended session's sid is announced if its announcement is missing (issue 9 finding 3).
        """
        if not sids:
            return []
        k, caps = self.keys, (self.stream_maxlen, self.stream_max_age_ms)
        async with self.client.pipeline(transaction=False) as pipe:
            for sid in sids:
                keys = [k.session(sid), k.family(sid)] + (k.feed if self.publish_inline else [])
                args = [_f(now), reason, _f(leeway), k.record_prefix(sid), sid, *caps]
                pipe.eval(lua.SESSION_END, len(keys), *keys, *args)
            results = await pipe.execute()
        ended: list[Revocation] = []
        pending, owners = [], {}
        for sid, (status, deny, published, hexes) in zip(sids, results, strict=True):
            owners.update(dict.fromkeys(hexes, sid))
            if status == 1:
                ended.append(Revocation.session(sid, expires_at=float(deny)))
                if not published and not self.publish_inline:
                    pending.append(("sid", sid, float(deny), 0.0, "max"))
            elif status == 2 and deny and not published and not self.publish_inline:
                # Ended by an earlier call whose announcement may never have happened (a
                # failure between the two steps): announce it now if it is missing.
                pending.append(("sid", sid, float(deny), 0.0, "absent"))
        if pending:
            added = await self._publish(pending, now=now)
            late = zip(pending, added, strict=True)
            ended += [
                Revocation.session(p[1], expires_at=p[2])
                for p, new in late
                if new and p[4] == "absent"
            ]
        for sid in set(owners.values()):
            await self._unpoint([h for h, owner in owners.items() if owner == sid], sid)
        return ended

    @_boundary
    async def end_user_sessions(
        self,
        sub: str,
        *,
        now: float,
        reason: str,
        leeway: float,
        keep_sid: str | None = None,
        cutoff: Revocation | None = None,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        sessions = await self._sessions_of(sub, now=now, leeway=leeway)
        ended = await self._end([s.sid for s in sessions if s.sid != keep_sid], now, reason, leeway)
        revs = list(extra)
        if cutoff is not None:
            latest = max([cutoff.expires_at, *(r.expires_at for r in ended)])
            user = replace(cutoff, expires_at=latest)
            ended.append(user)
            revs.insert(0, user)
        await self._publish_all(revs, now=now)
        return ended

    async def _publish_all(self, revocations: Sequence[Revocation], *, now: float) -> None:
        entries = [_entry(rev) for rev in revocations]
        if entries:
            await self._publish(entries, now=now)

    @_boundary
    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        entry = ("jti", _token_key(iss, jti), expires_at, 0.0, "absent")
        (added,) = await self._publish([entry], now=self._clock())
        return bool(added)

    @_boundary
    async def record(
        self, revocations: Sequence[Revocation], *, now: float, once: bool = False
    ) -> list[bool]:
        # One PUBLISH script: atomic. 'max' strengthens an entry; 'once' stops the script,
        # recording nothing, when its entry is live already (a replayed logout token).
        entries = [
            (
                rev.kind.value,
                rev.key,
                rev.expires_at,
                rev.cutoff,
                "once" if once and i == 0 else "max",
            )
            for i, rev in enumerate(revocations)
        ]
        if not entries:
            return []
        added = await self._publish(entries, now=now)
        if once and not added[0]:
            return [False] * len(entries)
        return [bool(x) for x in added]

    async def _publish(
        self, entries: Sequence[tuple[str, str, float, float, str]], *, now: float
    ) -> list[int]:
        args: list[Any] = [_f(now), self.stream_maxlen, self.stream_max_age_ms]
        for kind, member, score, cutoff, mode in entries:
            args += [kind, member, _f(score), _f(cutoff), mode]
        result = await self._script("PUBLISH")(keys=self.keys.feed, args=args)
        return [int(x) for x in result]

    # -- security events -----------------------------------------------------------------------
    async def _event(self, event: SecurityEvent) -> None:
        data = orjson.dumps(
            {"at": event.at, "kind": event.kind, "sub": event.sub, "sid": event.sid,
             "detail": event.detail}
        )  # fmt: skip
        async with self.client.pipeline(transaction=False) as pipe:
            for key in (self.keys.events, self.keys.user_events(event.sub)):
                pipe.lpush(key, data)
                pipe.ltrim(key, 0, self.events_maxlen - 1)
                pipe.pexpire(key, self.events_ttl_ms)
            await pipe.execute()

    @_boundary
    async def events(self, *, sub: str | None = None, limit: int = 100) -> list[SecurityEvent]:
        key = self.keys.events if sub is None else self.keys.user_events(sub)
        rows = await self.client.lrange(key, 0, max(limit, 1) - 1)
        return [SecurityEvent(**orjson.loads(row)) for row in rows][:limit]

    # -- the change feed -----------------------------------------------------------------------
    @_boundary
    async def revocations(
        self, *, since: Cursor | None, now: float
    ) -> tuple[list[Revocation], Cursor]:
        if since is not None:
            start = Position.parse(since)
            entries = await self.client.xrange(self.keys.feed[0], min=f"({start.last_id}", max="+")
            revs, position, gap = _follow(entries, start)
            if not gap:
                return [r for r in revs if r.expires_at > now], str(position)
        revs, position = await _snapshot(self.client, self.keys, now)
        return revs, str(position)

    def change_marker(self) -> object:
        return None  # no cheap local signal: the stream replica tails instead

    async def strict_reason(self, claims: Revocable, *, now: float) -> str | None:
        """One round trip to the feed slot: the three lookups the view would make."""
        _, sid_idx, jti_idx, user_idx, cut, _ = self.keys.feed
        try:
            async with self.strict_client.pipeline(transaction=False) as pipe:
                pipe.zscore(sid_idx, claims.sid)
                pipe.zscore(jti_idx, _token_key(claims.iss, claims.jti))
                pipe.zscore(user_idx, claims.sub)
                pipe.hget(cut, claims.sub)
                sid_until, jti_until, user_until, cutoff = await pipe.execute()
        except (RedisError, RedisClusterException, OSError) as exc:
            raise _unavailable(exc) from exc
        if sid_until is not None and sid_until > now:
            return "session ended"
        if jti_until is not None and jti_until > now:
            return "revoked"
        live = user_until is not None and user_until > now and cutoff is not None
        if live and claims.iat < float(cutoff):
            return "logged out everywhere"
        return None

    async def strict_cutoff(self, sub: str, *, now: float) -> float | None:
        """The user's live cutoff, asked of Redis (strict mode issues tokens after it)."""
        _, _, _, user_idx, cut, _ = self.keys.feed
        try:
            async with self.strict_client.pipeline(transaction=False) as pipe:
                pipe.zscore(user_idx, sub)
                pipe.hget(cut, sub)
                until, cutoff = await pipe.execute()
        except (RedisError, RedisClusterException, OSError) as exc:
            raise _unavailable(exc) from exc
        return float(cutoff) if until is not None and until > now and cutoff else None

    # -- login attempts ------------------------------------------------------------------------
    @_boundary
    async def attempts(
        self, key: str, op: AttemptOp, *, now: float, policy: AttemptPolicy
    ) -> tuple[Attempts, bool]:
        name = self.keys.attempts(key)
        while True:  # optimistic: decide on what was read, set only if it is still there
            raw = await self.client.get(name) or ""
            found = _attempts(raw)
            record, admitted = decide_attempts(found, op, now=now, policy=policy)
            if record == found:
                return record or Attempts(), admitted
            new = "" if record is None else _attempts_value(record)
            ttl = 1 if record is None else _ttl_ms(record.expires(policy), now)
            if await self._script("ATTEMPTS_CAS")(keys=[name], args=[raw, new, ttl]):
                return record or Attempts(), admitted

    # -- upkeep --------------------------------------------------------------------------------
    @_boundary
    async def prune(self, *, now: float) -> int:
        """Most keys expire by themselves; this trims the indexes and drops refresh records
        by the caller's clock (the same answer a store with rows would give)."""
        gone = int(
            await self._script("PRUNE")(keys=self.keys.feed, args=[_f(now), self.stream_max_age_ms])
        )
        while members := await self.client.zrangebyscore(self.keys.gc, "-inf", _f(now), 0, 500):
            async with self.client.pipeline(transaction=False) as pipe:
                for member in members:
                    hexhash, _, sid = member.partition(":")
                    pipe.delete(self.keys.record_prefix(sid) + hexhash)
                    pipe.zrem(self.keys.family(sid), hexhash)
                    pipe.delete(self.keys.pointer(hexhash))
                pipe.zrem(self.keys.gc, *members)
                results = await pipe.execute()
            gone += sum(results[0:-1:3])
        return gone

    @_boundary
    async def ping(self) -> dict[str, Any]:
        info = await self.client.info("server")
        stream, sid_idx, jti_idx, user_idx, _, _ = self.keys.feed
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xlen(stream)
            pipe.zcard(sid_idx)
            pipe.zcard(jti_idx)
            pipe.zcard(user_idx)
            length, sids, jtis, users = await pipe.execute()
        return {
            "backend": self.name,
            "where": self.where,
            "mode": self.mode,
            "redis_version": info.get("redis_version"),
            "persistence": await self._persistence(),
            "stream": {"length": length, "max_age_s": self.stream_max_age_ms / 1000},
            "revocations": {"sid": sids, "jti": jtis, "user": users},
            "replicas": [replica.status() for replica in list(self._replicas)],
        }

    async def _persistence(self) -> dict[str, Any]:
        info = await self.client.info("persistence")
        aof = bool(int(info.get("aof_enabled", 0)))
        try:
            save = (await self.client.config_get("save")).get("save", "")
            fsync = (await self.client.config_get("appendfsync")).get("appendfsync")
            rdb: bool | None = bool(str(save).strip())
        except ResponseError:  # CONFIG disabled (managed Redis): RDB cannot be seen
            rdb, fsync = None, None
        detail = f"appendonly {'yes' if aof else 'no'}, save {'?' if rdb is None else repr(save)}"
        return {
            "aof": aof,
            "aof_fsync": fsync if aof else None,
            "rdb": rdb,
            "durable": aof or bool(rdb),
            "loading": bool(int(info.get("loading", 0))),
            "detail": detail,
        }


class RedisFeed:
    """What a stream replica reads: an atomic snapshot, then the stream from its id on."""

    def __init__(self, store: RedisStore, client: Client) -> None:
        self.store = store
        self.client = client

    @_boundary
    async def snapshot(self, *, now: float) -> tuple[list[Revocation], Position]:
        # On the store's client: its timeout is sized for a big answer, the tail's is not.
        return await _snapshot(self.store.client, self.store.keys, now)

    @_boundary
    async def read(self, start: Position, *, block: float, count: int = 1000) -> FeedBatch:
        stream = self.store.keys.feed[0]
        block_ms = max(int(block * 1000), 1)
        answer = await self.client.xread({stream: start.last_id}, count=count, block=block_ms)
        entries = answer[0][1] if answer else []
        revs, position, gap = _follow(entries, start)
        return FeedBatch(revs, position, complete=len(entries) < count, gap=gap)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):  # closing a dead socket
            await self.client.aclose()


async def _snapshot(client: Client, keys: Keys, now: float) -> tuple[list[Revocation], Position]:
    script = lua.SNAPSHOT
    last, n, sids, jtis, users, cutoffs = await client.eval(script, 6, *keys.feed, _f(now))
    revs = [Revocation.session(m, expires_at=float(s)) for m, s in _pairs(sids)]
    revs += [Revocation(RevocationKind.TOKEN, m, float(s)) for m, s in _pairs(jtis)]
    revs += [
        Revocation.user(m, cutoff=float(c), expires_at=float(s))
        for (m, s), c in zip(_pairs(users), cutoffs, strict=True)
    ]
    return revs, Position(str(last), int(n))


def _pairs(flat: list[str]) -> list[tuple[str, str]]:
    return list(zip(flat[0::2], flat[1::2], strict=True))


def _follow(
    entries: list[tuple[str, dict[str, str]]], start: Position
) -> tuple[list[Revocation], Position, bool]:
    """Entries read after ``start``: their revocations, the new position, and whether the
    numbering jumped (a gap: trimmed past us, the stream recreated, Redis lost data)."""
    revs: list[Revocation] = []
    position = start
    for entry_id, fields in entries:
        n = int(fields.get("n", 0))
        if n != position.n + 1:
            return revs, position, True
        position = Position(entry_id, n)
        kind, member, until = fields.get("k"), fields.get("m", ""), float(fields.get("e", 0))
        if kind == "sid":
            revs.append(Revocation.session(member, expires_at=until))
        elif kind == "jti":
            revs.append(Revocation(RevocationKind.TOKEN, member, until))
        elif kind == "user":
            revs.append(Revocation.user(member, cutoff=float(fields["c"]), expires_at=until))
    return revs, position, False


def _session(fields: object) -> SessionRecord | None:
    if not fields:
        return None
    if isinstance(fields, list):  # HGETALL from Lua: a flat list
        fields = dict(_pairs(fields))
    row = cast(dict[str, str], fields)
    ended = row.get("ended_at")
    return SessionRecord(
        sid=row["sid"],
        sub=row["sub"],
        created_at=float(row["created_at"]),
        last_seen=float(row["last_seen"]),
        expires_at=float(row["expires_at"]),
        user_agent=row.get("user_agent", ""),
        ip=row.get("ip", ""),
        ended_at=float(ended) if ended else None,
        end_reason=row.get("end_reason") or None if ended else None,
        access_until=float(row.get("access_until") or 0.0),
        claims=orjson.loads(row.get("claims") or "{}"),
    )


def _entry(rev: Revocation) -> tuple[str, str, float, float, str]:
    """A revocation as the PUBLISH script takes it (a token entry only if absent)."""
    mode = "absent" if rev.kind is RevocationKind.TOKEN else "max"
    return (rev.kind.value, rev.key, rev.expires_at, rev.cutoff, mode)


def _attempts(raw: str) -> Attempts | None:
    if not raw:
        return None
    failures, blocked, last = raw.split("|")
    return Attempts(int(failures), float(blocked), float(last))


def _attempts_value(record: Attempts) -> str:
    return f"{record.failures}|{_f(record.blocked_until)}|{_f(record.last)}"


def _ttl_ms(until: float, now: float) -> int:
    return max(int((until - now) * 1000), 1)
