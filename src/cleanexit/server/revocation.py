"""The in-process revocation view: three O(1) lookups on verified claims.

It is a replica of the store (design: "Revocation state the hot path checks"). Keys come only
from verified claims (invariant 4): ``(iss, jti)``, ``sid``, and ``sub`` with a cutoff on
``iat``. Every entry carries the moment it stops mattering and is pruned after it (invariant 5).

Our own tokens key sessions and users by ``sid`` and ``sub`` alone (we are their only issuer).
An external issuer's are keyed ``"<iss>\x1f<sid>"`` and ``"<iss>\x1f<sub>"`` (issue 11): two
providers' subjects or sessions never collide with each other or with ours. The lookups read
the same three attributes either way (``Revocable``): the external verifier hands the check a
``ProviderKeys`` whose ``sid`` and ``sub`` are already scoped, so our own tokens' check is the
code it always was.

Two shapes, one behaviour (issue 5). Up to ``COMPACT_AT`` entries they live in plain dicts
keyed by their strings: the fastest lookups CPython has, at about 145 bytes an entry. Past it
they move to ``_Compact``: each key becomes the 64-bit ``hash()`` of its verified string in
flat arrays behind a counting filter, under 64 bytes an entry with no Python object per entry,
for a few tenths of a microsecond more a check (docs/benchmarks.md, figures 2 and 4).
Neither shape holds anything the cyclic garbage collector has to traverse per entry (strings
and floats only, or arrays).

Readers on other threads (issue 12: WSGI request threads read while the runtime's event-loop
thread writes) use ``writes``, a seqlock counter: odd while a write is under way, bumped again
when it ends. A read that saw the same even value before and after saw no write at all; any
other read is retried on the writer's thread (``Guard.check_now_threadsafe``). One writer.

A hash collision in the compact shape can only refuse a valid token, never admit a revoked one
(the revoked string always hashes to its own key). Python salts ``str`` hashes per process
(SipHash-1-3) and ``jti``/``sid`` are random values we generated and signed, so the odds are
chance alone: n / 2**64 per check, 5e-14 with a million entries.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

__all__ = [
    "ProviderKeys",
    "Revocable",
    "Revocation",
    "RevocationKind",
    "RevocationView",
    "scoped_key",
    "token_key",
]


class Revocable(Protocol):
    """What the revocation check reads: verified claims (``AccessClaims``) or their keys."""

    @property
    def iss(self) -> str: ...
    @property
    def sub(self) -> str: ...
    @property
    def sid(self) -> str: ...
    @property
    def jti(self) -> str: ...
    @property
    def iat(self) -> int: ...


class ProviderKeys(NamedTuple):
    """The revocation keys of an external issuer's verified token: ``sid`` and ``sub`` scoped
    by issuer; ``sid`` / ``jti`` are empty when the token has none (nothing is ever recorded
    under an empty one, so they match nothing)."""

    iss: str
    sub: str  # scoped_key(iss, sub)
    sid: str  # scoped_key(iss, sid), or ""
    jti: str  # the token's own jti, or ""; token entries are (iss, jti) already
    iat: int

    @classmethod
    def of(cls, iss: str, *, sub: str, sid: str, jti: str, iat: int) -> ProviderKeys:
        return cls(iss, scoped_key(iss, sub), scoped_key(iss, sid) if sid else "", jti, iat)


class RevocationKind(StrEnum):
    TOKEN = "jti"  # noqa: S105 - key: "<iss>\x1f<jti>", until the token's exp
    SESSION = "sid"  # key: sid, until the last access token of the session has expired
    USER = "user"  # key: sub, refuses iat < cutoff until the user's last token has expired


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: RevocationKind
    key: str
    expires_at: float
    cutoff: float = 0.0

    @classmethod
    def token(cls, iss: str, jti: str, *, expires_at: float) -> Revocation:
        return cls(RevocationKind.TOKEN, token_key(iss, jti), expires_at)

    @classmethod
    def session(cls, sid: str, *, expires_at: float) -> Revocation:
        return cls(RevocationKind.SESSION, sid, expires_at)

    @classmethod
    def user(cls, sub: str, *, cutoff: float, expires_at: float) -> Revocation:
        return cls(RevocationKind.USER, sub, expires_at, cutoff)

    @classmethod
    def provider_session(cls, iss: str, sid: str, *, expires_at: float) -> Revocation:
        """An external issuer's session (issue 11): keyed by issuer and ``sid``."""
        return cls(RevocationKind.SESSION, scoped_key(iss, sid), expires_at)

    @classmethod
    def provider_user(cls, iss: str, sub: str, *, cutoff: float, expires_at: float) -> Revocation:
        """An external issuer's user cutoff (issue 11): keyed by issuer and ``sub``."""
        return cls(RevocationKind.USER, scoped_key(iss, sub), expires_at, cutoff)


def token_key(iss: str, jti: str) -> str:
    # \x1f (unit separator) cannot occur in a verified iss: it equals a configured issuer,
    # and configuration refuses control characters in one.
    return f"{iss}\x1f{jti}"


scoped_key = token_key  # "<iss>\x1f<value>": an external issuer's sid or sub, as a view key


_MAX_UNTIL = 2**32 - 1  # seconds, as uint32: year 2106
_BUCKET = 4  # the prune queue groups entries by until >> _BUCKET: 16-second buckets
_MAX_LOAD = 0.75  # linear probing: tables are only probed after a filter hit
_FILTER_SPARSITY = 8  # filter slots per entry after a resize, half that before the next
_MIN_FILTER = 1 << 12  # filter slots
_FP_SHIFT = 40  # the filter's 8-bit fingerprint: bits far from those that choose the slot


def _until(expires_at: float) -> int:
    """Whole seconds, rounded up: kept at most one second longer than needed, never less."""
    return min(max(math.ceil(expires_at), 1), _MAX_UNTIL)


def _may_hold(slot: int, key: int) -> bool:
    """A filter slot is 0 (no key), 256..511 (one key, its fingerprint in the low byte) or
    more (several keys): the exact table is asked only when the slot could hold ``key``."""
    return slot > 511 or not (slot ^ (key >> _FP_SHIFT)) & 0xFF


def _token_hash(key: str) -> int:
    iss, _, jti = key.partition("\x1f")
    return hash(jti) ^ hash(iss)  # what reason() computes from verified claims


class _Table:
    """Open addressing (linear probing) over 64-bit keys in flat arrays; ``until == 0`` marks
    an empty slot. 12 bytes a slot (20 with cutoffs), no Python object per entry."""

    __slots__ = ("cutoff", "keys", "mask", "queue", "size", "until")

    def __init__(self, *, cutoffs: bool = False, slots: int = 16) -> None:
        self.keys = array("q", bytes(8 * slots))
        self.until = array("I", bytes(4 * slots))
        self.cutoff = array("d", bytes(8 * slots)) if cutoffs else None
        self.mask = slots - 1
        self.size = 0
        self.queue: dict[int, array[int]] = {}  # until >> _BUCKET -> keys, for prune

    def find(self, key: int) -> int:
        keys, until, mask = self.keys, self.until, self.mask
        i = key & mask
        while until[i]:
            if keys[i] == key:
                return i
            i = (i + 1) & mask
        return -1

    def put(self, key: int, until: int, cutoff: float = 0.0) -> bool:
        """Insert or extend (later until, later cutoff); True when the key is new."""
        if self.size + 1 > _MAX_LOAD * (self.mask + 1):
            self.resize(2 * (self.mask + 1))
        keys, untils, cutoffs, mask = self.keys, self.until, self.cutoff, self.mask
        i = key & mask
        while untils[i]:
            if keys[i] == key:
                if until > untils[i]:
                    untils[i] = until
                    self._enqueue(key, until)
                if cutoffs is not None and cutoff > cutoffs[i]:
                    cutoffs[i] = cutoff
                return False
            i = (i + 1) & mask
        keys[i], untils[i] = key, until
        if cutoffs is not None:
            cutoffs[i] = cutoff
        self.size += 1
        self._enqueue(key, until)
        return True

    def _enqueue(self, key: int, until: int) -> None:
        bucket = self.queue.get(until >> _BUCKET)
        if bucket is None:
            self.queue[until >> _BUCKET] = array("q", (key,))
        else:
            bucket.append(key)

    def remove(self, i: int) -> None:
        """Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones, probes stay short."""
        keys, until, cutoff, mask = self.keys, self.until, self.cutoff, self.mask
        j = i
        while True:
            until[i] = 0
            while True:
                j = (j + 1) & mask
                if not until[j]:
                    self.size -= 1
                    return
                home = keys[j] & mask
                # The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
                if not ((i < home <= j) if i <= j else (home > i or home <= j)):
                    break
            keys[i], until[i] = keys[j], until[j]
            if cutoff is not None:
                cutoff[i] = cutoff[j]
            i = j

    def resize(self, slots: int) -> None:
        """Rehash into ``slots`` slots; the prune queue is unchanged (same keys, same untils)."""
        old_keys, old_until, old_cutoff = self.keys, self.until, self.cutoff
        keys = self.keys = array("q", bytes(8 * slots))
        until = self.until = array("I", bytes(4 * slots))
        cutoff = self.cutoff = array("d", bytes(8 * slots)) if old_cutoff is not None else None
        mask = self.mask = slots - 1
        for j, u in enumerate(old_until):
            if u:
                key = old_keys[j]
                i = key & mask
                while until[i]:
                    i = (i + 1) & mask
                keys[i], until[i] = key, u
                if cutoff is not None:
                    cutoff[i] = old_cutoff[j]  # type: ignore[index]

    def reserve(self, extra: int) -> None:
        slots = self.mask + 1
        while self.size + extra > _MAX_LOAD * slots:
            slots *= 2
        if slots != self.mask + 1:
            self.resize(slots)

    def prune(self, now: float, forget: Callable[[int], None]) -> int:
        pruned = 0
        for bucket in sorted(b for b in self.queue if (b << _BUCKET) <= now):
            keep = array("q")
            for key in self.queue.pop(bucket):
                i = self.find(key)
                if i < 0:
                    continue
                if self.until[i] <= now:
                    self.remove(i)
                    forget(key)
                    pruned += 1
                elif (self.until[i] >> _BUCKET) == bucket:
                    keep.append(key)  # same bucket, not yet due
            if keep:
                self.queue[bucket] = keep
        return pruned

    def live_keys(self) -> Iterator[int]:
        keys = self.keys
        return (keys[i] for i, until in enumerate(self.until) if until)

    def nbytes(self) -> int:
        queued = sum(len(b) for b in self.queue.values())
        cut = len(self.cutoff) * 8 if self.cutoff is not None else 0
        return len(self.keys) * 8 + len(self.until) * 4 + cut + queued * 8


class _Compact:
    """Every entry as a 64-bit key in one of three tables, behind one filter that answers
    "certainly not here" with one read per key. A filter slot (16 bits) holds how many keys
    fall in it (saturating at 255) and the XOR of their 8-bit fingerprints, so deletions are
    exact and a slot holding one other key is told apart 255 times out of 256. The tables are
    probed only for every revoked key and about 1% of the others. No Python object is kept per
    entry, so a snapshot's transient objects leave no survivors scattered through the
    allocator's arenas (the process gives that memory back)."""

    __slots__ = ("filter", "fmask", "sessions", "tokens", "users")

    def __init__(self, *, tokens: int, sessions: int, users: int) -> None:
        self.tokens, self.sessions, self.users = _Table(), _Table(), _Table(cutoffs=True)
        self.tokens.reserve(tokens)
        self.sessions.reserve(sessions)
        self.users.reserve(users)
        self.filter, self.fmask = array("H"), 0
        self.rebuild_filter(tokens + sessions + users)

    def __len__(self) -> int:
        return self.tokens.size + self.sessions.size + self.users.size

    def put(self, table: _Table, key: int, until: int, cutoff: float = 0.0) -> None:
        if table.put(key, until, cutoff):
            if len(self) * _FILTER_SPARSITY > 2 * len(self.filter):
                self.rebuild_filter(len(self))
            else:
                self._count(key, +1)

    def prune(self, now: float) -> int:
        forget = self._forget
        return sum(t.prune(now, forget) for t in (self.tokens, self.sessions, self.users))

    def _forget(self, key: int) -> None:
        self._count(key, -1)

    def _count(self, key: int, delta: int) -> None:
        i = key & self.fmask
        slot = self.filter[i]
        if slot < 0xFF00:  # a saturated count stays: a harmless false positive until a rebuild
            self.filter[i] = (slot + (delta << 8)) ^ ((key >> _FP_SHIFT) & 0xFF)

    def rebuild_filter(self, entries: int) -> None:
        size = _MIN_FILTER
        while size < entries * _FILTER_SPARSITY:
            size *= 2
        slots, mask = array("H", bytes(2 * size)), size - 1
        for table in (self.tokens, self.sessions, self.users):
            for key in table.live_keys():
                i = key & mask
                if slots[i] < 0xFF00:
                    slots[i] = (slots[i] + 0x100) ^ ((key >> _FP_SHIFT) & 0xFF)
        self.filter, self.fmask = slots, mask

    def nbytes(self) -> int:
        tables = (self.tokens, self.sessions, self.users)
        return len(self.filter) * 2 + sum(t.nbytes() for t in tables)


class RevocationView:
    """Answers "is this verified token revoked?" from memory, in well under a microsecond."""

    COMPACT_AT = 65_536  # entries beyond which the compact shape pays off

    __slots__ = ("_compact", "_sessions", "_tokens", "_users", "_users_until", "writes")

    def __init__(self) -> None:
        self.writes = 0  # seqlock for readers on other threads: odd while a write runs
        self._tokens: dict[str, float] = {}
        self._sessions: dict[str, float] = {}
        self._users: dict[str, float] = {}  # sub -> cutoff
        self._users_until: dict[str, float] = {}
        self._compact: _Compact | None = None

    def __len__(self) -> int:
        if self._compact is not None:
            return len(self._compact)
        return len(self._tokens) + len(self._sessions) + len(self._users)

    def __repr__(self) -> str:
        c = self._compact
        counts = (
            (c.tokens.size, c.sessions.size, c.users.size)
            if c
            else (len(self._tokens), len(self._sessions), len(self._users))
        )
        shape = ", compact" if c else ""
        return "RevocationView(tokens={}, sessions={}, users={}{})".format(*counts, shape)

    def reason(self, claims: Revocable) -> str | None:
        """Why these claims are refused, or ``None`` if they are not revoked."""
        compact = self._compact
        if compact is None:
            if claims.sid in self._sessions:
                return "session ended"
            if f"{claims.iss}\x1f{claims.jti}" in self._tokens:
                return "revoked"
            if self._users:
                cutoff = self._users.get(claims.sub)
                if cutoff is not None and claims.iat < cutoff:
                    return "logged out everywhere"
            return None
        # An empty filter slot (the common case) answers with one read and no call.
        f, m = compact.filter, compact.fmask
        key = hash(claims.sid)
        if (slot := f[key & m]) and _may_hold(slot, key) and compact.sessions.find(key) >= 0:
            return "session ended"
        key = hash(claims.jti) ^ hash(claims.iss)  # = _token_hash(token_key(iss, jti))
        if (slot := f[key & m]) and _may_hold(slot, key) and compact.tokens.find(key) >= 0:
            return "revoked"
        key = hash(claims.sub)
        if (slot := f[key & m]) and _may_hold(slot, key):
            users = compact.users
            i = users.find(key)
            if i >= 0 and claims.iat < users.cutoff[i]:  # type: ignore[index]
                return "logged out everywhere"
        return None

    def cutoff(self, sub: str) -> float | None:
        """The user's cutoff (``iat`` below it is refused), if one is held."""
        if self._compact is None:
            return self._users.get(sub)
        users = self._compact.users
        i = users.find(hash(sub))
        return users.cutoff[i] if i >= 0 else None  # type: ignore[index]

    def apply(self, revocations: Iterable[Revocation]) -> None:
        revs = revocations if isinstance(revocations, list | tuple) else list(revocations)
        self.writes += 1
        try:
            self._apply(revs)
        finally:
            self.writes += 1

    def _apply(self, revs: Sequence[Revocation]) -> None:
        if self._compact is None and len(self) + len(revs) > self.COMPACT_AT:
            self._compactify(extra=revs)
        compact = self._compact
        for rev in revs:
            kind = rev.kind
            if compact is not None:
                until = _until(rev.expires_at)
                if kind is RevocationKind.TOKEN:
                    compact.put(compact.tokens, _token_hash(rev.key), until)
                elif kind is RevocationKind.SESSION:
                    compact.put(compact.sessions, hash(rev.key), until)
                else:
                    compact.put(compact.users, hash(rev.key), until, max(rev.cutoff, 0.0))
            elif kind is RevocationKind.USER:
                self._users[rev.key] = max(rev.cutoff, self._users.get(rev.key, 0.0))
                old = self._users_until.get(rev.key, rev.expires_at)
                self._users_until[rev.key] = max(old, rev.expires_at)
            else:
                table = self._tokens if kind is RevocationKind.TOKEN else self._sessions
                table[rev.key] = max(rev.expires_at, table.get(rev.key, 0.0))

    def prune(self, now: float) -> int:
        """Drop every entry that can no longer match a live token (compact: a second late)."""
        self.writes += 1
        try:
            return self._prune(now)
        finally:
            self.writes += 1

    def _prune(self, now: float) -> int:
        before = len(self)
        if self._compact is not None:
            self._compact.prune(now)
            if not self._compact:
                self._compact = None  # empty again: back to the fast shape
            return before - len(self)
        self._tokens = {k: t for k, t in self._tokens.items() if t > now}
        self._sessions = {k: t for k, t in self._sessions.items() if t > now}
        if self._users:
            self._users_until = {k: t for k, t in self._users_until.items() if t > now}
            self._users = {k: c for k, c in self._users.items() if k in self._users_until}
        return before - len(self)

    def clear(self) -> None:
        self.writes += 1
        writes = self.writes
        RevocationView.__init__(self)
        self.writes = writes + 1

    def nbytes(self) -> int:
        """Bytes held by the compact shape's arrays, 0 in the dict shape (benchmarks)."""
        return self._compact.nbytes() if self._compact is not None else 0

    def _compactify(self, *, extra: Sequence[Revocation]) -> None:
        counts = dict.fromkeys(RevocationKind, 0)
        for rev in extra:
            counts[rev.kind] += 1
        compact = _Compact(
            tokens=len(self._tokens) + counts[RevocationKind.TOKEN],
            sessions=len(self._sessions) + counts[RevocationKind.SESSION],
            users=len(self._users) + counts[RevocationKind.USER],
        )
        for key, t in self._tokens.items():
            compact.put(compact.tokens, _token_hash(key), _until(t))
        for key, t in self._sessions.items():
            compact.put(compact.sessions, hash(key), _until(t))
        for key, cutoff in self._users.items():
            compact.put(compact.users, hash(key), _until(self._users_until[key]), cutoff)
        self._compact = compact
        self._tokens, self._sessions, self._users, self._users_until = {}, {}, {}, {}
