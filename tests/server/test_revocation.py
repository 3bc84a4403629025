"""The compact revocation view answers exactly like the plain-dict model it replaced."""

from __future__ import annotations

import gc
import math
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanexit.server.revocation import ProviderKeys, Revocation, RevocationKind, RevocationView
from cleanexit.server.tokens import AccessClaims

ISS = "https://auth.example"
T0 = 1_800_000_000


class Model:
    """The original three-dict view; ``rounded``: the compact shape's whole-second expiry."""

    def __init__(self, rounded: bool = False) -> None:
        self.rounded = rounded
        self.tokens: dict[str, float] = {}
        self.sessions: dict[str, float] = {}
        self.users: dict[str, tuple[float, float]] = {}

    def apply(self, revs: list[Revocation]) -> None:
        for rev in revs:
            until = math.ceil(rev.expires_at) if self.rounded else rev.expires_at
            if rev.kind is RevocationKind.TOKEN:
                self.tokens[rev.key] = max(until, self.tokens.get(rev.key, 0))
            elif rev.kind is RevocationKind.SESSION:
                self.sessions[rev.key] = max(until, self.sessions.get(rev.key, 0))
            else:
                cutoff, old = self.users.get(rev.key, (0.0, 0.0))
                self.users[rev.key] = (max(cutoff, rev.cutoff), max(old, until))

    def reason(self, c: AccessClaims) -> str | None:
        if c.sid in self.sessions:
            return "session ended"
        if f"{c.iss}\x1f{c.jti}" in self.tokens:
            return "revoked"
        user = self.users.get(c.sub)
        if user is not None and c.iat < user[0]:
            return "logged out everywhere"
        return None

    def prune(self, now: float) -> int:
        before = len(self)
        self.tokens = {k: t for k, t in self.tokens.items() if t > now}
        self.sessions = {k: t for k, t in self.sessions.items() if t > now}
        self.users = {k: v for k, v in self.users.items() if v[1] > now}
        return before - len(self)

    def __len__(self) -> int:
        return len(self.tokens) + len(self.sessions) + len(self.users)


NAMES = st.integers(0, 400).map(lambda n: f"id{n}")


def revocations(expiry: st.SearchStrategy[float]) -> st.SearchStrategy[Revocation]:
    return st.one_of(
        st.builds(lambda n, e: Revocation.token(ISS, n, expires_at=e), NAMES, expiry),
        st.builds(lambda n, e: Revocation.session(n, expires_at=e), NAMES, expiry),
        st.builds(
            lambda n, c, e: Revocation.user(n, cutoff=c, expires_at=e),
            NAMES,
            st.floats(T0 - 50, T0 + 50),
            expiry,
        ),
    )


def ops(expiry: st.SearchStrategy[float]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    return st.lists(
        st.one_of(
            st.tuples(st.just("apply"), st.lists(revocations(expiry), max_size=120)),
            st.tuples(st.just("prune"), st.floats(0, 700)),
            st.tuples(st.just("check"), st.lists(st.tuples(NAMES, NAMES, NAMES), max_size=30)),
            st.tuples(st.just("clear"), st.none()),
        ),
        max_size=25,
    )


def run(ops: list[tuple[str, Any]], view: RevocationView, model: Model) -> None:
    now = float(T0)
    for op, arg in ops:
        if op == "apply":
            view.apply(arg)
            model.apply(arg)
        elif op == "prune":
            now += arg
            assert view.prune(now) == model.prune(now)
        elif op == "check":
            for sid, jti, sub in arg:
                for iat in (T0 - 60, T0, T0 + 60):
                    claims = AccessClaims(ISS, "api", sub, sid, jti, iat, iat + 600, "")
                    assert view.reason(claims) == model.reason(claims)
        else:
            view.clear()
            model.__init__(model.rounded)  # type: ignore[misc]
        assert len(view) == len(model)


ANY_TIME = st.floats(T0, T0 + 600)
WHOLE_SECONDS = st.integers(T0, T0 + 600).map(float)


@given(ops=ops(ANY_TIME))
@settings(max_examples=200, deadline=None)
def test_dict_shape_is_the_model(ops: list[tuple[str, Any]]) -> None:
    run(ops, RevocationView(), Model())


FIXTURED = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(ops=ops(ANY_TIME))
@FIXTURED
def test_compact_shape_is_the_model_to_the_second(
    ops: list[tuple[str, Any]], compact_from_the_start: None
) -> None:
    run(ops, RevocationView(), Model(rounded=True))


@pytest.mark.parametrize("seed", range(12))
def test_crowded_filter_is_the_model_to_the_second(seed: int, crowded_filter: None) -> None:
    """A filter far smaller than the entries: shared slots, fingerprint clashes, and deletions
    from all of them, over many steps; still no revoked key may slip through."""
    rnd = random.Random(seed)
    names = [f"id{n}" for n in range(300)]
    expiry = lambda: T0 + rnd.uniform(0, 600)  # noqa: E731
    steps: list[tuple[str, Any]] = []
    for _ in range(30):
        revs = [
            rnd.choice(
                [
                    Revocation.token(ISS, rnd.choice(names), expires_at=expiry()),
                    Revocation.session(rnd.choice(names), expires_at=expiry()),
                    Revocation.user(rnd.choice(names), cutoff=T0, expires_at=expiry()),
                ]
            )
            for _ in range(rnd.randint(0, 60))
        ]
        steps += [("apply", revs), ("prune", rnd.uniform(0, 40))]
        steps.append(("check", [(n, rnd.choice(names), rnd.choice(names)) for n in names]))
    run(steps, RevocationView(), Model(rounded=True))


@given(ops=ops(WHOLE_SECONDS))
@FIXTURED
def test_shape_changes_keep_every_answer(ops: list[tuple[str, Any]], compact_at_50: None) -> None:
    run(ops, RevocationView(), Model())


@pytest.fixture
def compact_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RevocationView, "COMPACT_AT", -1)


@pytest.fixture
def crowded_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    from cleanexit.server import revocation

    monkeypatch.setattr(RevocationView, "COMPACT_AT", -1)
    monkeypatch.setattr(revocation, "_MIN_FILTER", 2)
    monkeypatch.setattr(revocation, "_FILTER_SPARSITY", 1)


@pytest.fixture
def compact_at_50(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RevocationView, "COMPACT_AT", 50)


def test_other_issuers_are_other_keys() -> None:
    view = RevocationView()
    view.apply([Revocation.token("https://other.example", "j1", expires_at=T0 + 60)])
    assert view.reason(AccessClaims(ISS, "api", "a", "s", "j1", T0, T0 + 60, "")) is None
    other = AccessClaims("https://other.example", "api", "a", "s", "j1", T0, T0 + 60, "")
    assert view.reason(other) == "revoked"


def test_a_snapshot_of_many_entries_and_its_prune() -> None:
    view = RevocationView()
    assert RevocationView.COMPACT_AT < 110_000  # this snapshot takes the compact shape
    revs = [Revocation.token(ISS, f"j{i}", expires_at=T0 + (i % 100)) for i in range(100_000)]
    revs += [Revocation.session(f"s{i}", expires_at=T0 + 200) for i in range(10_000)]
    view.apply(revs)
    assert len(view) == 110_000
    assert view.reason(AccessClaims(ISS, "api", "a", "s9", "x", T0, T0, "")) == "session ended"
    assert view.reason(AccessClaims(ISS, "api", "a", "x", "j99999", T0, T0, "")) == "revoked"
    assert view.reason(AccessClaims(ISS, "api", "a", "x", "j100000", T0, T0, "")) is None
    assert view.prune(T0 + 49) == 50_000  # expires T0+0 .. T0+49, 1000 each
    assert view.reason(AccessClaims(ISS, "api", "a", "x", "j49", T0, T0, "")) is None
    assert view.reason(AccessClaims(ISS, "api", "a", "x", "j50", T0, T0, "")) == "revoked"
    assert view.nbytes() > 0
    assert view.prune(T0 + 1000) == 60_000 and len(view) == 0
    assert view.nbytes() == 0  # empty: back to the dict shape


@pytest.mark.parametrize("compact_at", [-1, 10**9])
def test_entries_are_not_objects_for_the_garbage_collector(
    compact_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full collection traverses tracked objects; the view adds a few dozen, not one per entry."""
    monkeypatch.setattr(RevocationView, "COMPACT_AT", compact_at)
    revs = [Revocation.token(ISS, f"j{i}", expires_at=T0 + i % 600) for i in range(20_000)]
    revs += [Revocation.user(f"u{i}", cutoff=T0, expires_at=T0 + 60) for i in range(1000)]
    gc.collect()
    before = len(gc.get_objects())
    view = RevocationView()
    view.apply(revs)
    del revs
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert len(view) == 21_000 and (view.nbytes() > 0) == (compact_at < 0)


@given(ops=st.lists(st.tuples(st.booleans(), st.integers(-40, 40)), max_size=200))
@settings(max_examples=500, deadline=None)
def test_table_probing_and_deletion_wrap_around(ops: list[tuple[bool, int]]) -> None:
    """Tiny integer keys crowd a 16-slot table, clusters wrap past the end, deletions shift."""
    from cleanexit.server.revocation import _Table

    table, model = _Table(), {}
    for insert, key in ops:
        if insert:
            table.put(key, T0 + key + 100)
            model[key] = True
        elif (i := table.find(key)) >= 0:
            table.remove(i)
            del model[key]
        assert table.size == len(model)
        for k in range(-40, 41):
            i = table.find(k)
            assert (i >= 0) == (k in model)
            if i >= 0:
                assert table.until[i] == T0 + k + 100


# -- issue 11: an external issuer's sids and subs are keyed by issuer ---------------------------
OPS = ("https://op-a.example", "https://op-b.example")


class IssuerModel:
    """Revocations as (issuer, value) pairs, ``None`` for our own: what the view must mean."""

    def __init__(self) -> None:
        self.sessions: set[tuple[str | None, str]] = set()
        self.tokens: set[tuple[str, str]] = set()
        self.users: dict[tuple[str | None, str], float] = {}

    def reason(self, iss: str | None, sub: str, sid: str, jti: str, iat: int) -> str | None:
        if sid and (iss, sid) in self.sessions:
            return "session ended"
        if jti and (iss or ISS, jti) in self.tokens:
            return "revoked"
        cutoff = self.users.get((iss, sub))
        return "logged out everywhere" if cutoff is not None and iat < cutoff else None


def issuer_revocations() -> st.SearchStrategy[tuple[Revocation, tuple[str, Any]]]:
    issuers = st.sampled_from([None, *OPS])
    cutoffs = st.integers(T0 - 5, T0 + 5).map(float)

    def session(iss: str | None, n: str) -> tuple[Revocation, tuple[str, Any]]:
        until = T0 + 600
        rev = (
            Revocation.session(n, expires_at=until)
            if iss is None
            else (Revocation.provider_session(iss, n, expires_at=until))
        )
        return rev, ("sid", (iss, n))

    def user(iss: str | None, n: str, c: float) -> tuple[Revocation, tuple[str, Any]]:
        until = T0 + 600
        rev = (
            Revocation.user(n, cutoff=c, expires_at=until)
            if iss is None
            else (Revocation.provider_user(iss, n, cutoff=c, expires_at=until))
        )
        return rev, ("user", ((iss, n), c))

    def token(iss: str | None, n: str) -> tuple[Revocation, tuple[str, Any]]:
        return Revocation.token(iss or ISS, n, expires_at=T0 + 600), ("jti", (iss or ISS, n))

    names = st.integers(0, 6).map(lambda n: f"id{n}")
    return st.one_of(
        st.builds(session, issuers, names),
        st.builds(user, issuers, names, cutoffs),
        st.builds(token, issuers, names),
    )


@pytest.mark.parametrize("compact_at", [10**9, -1])
@given(revs=st.lists(issuer_revocations(), max_size=40))
@FIXTURED
def test_issuers_never_share_a_session_or_a_user(
    revs: list[tuple[Revocation, tuple[str, Any]]], compact_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our "alice" and two providers' "alice" (and sessions of the same name) are three
    people: revoking one never touches another, in either shape of the view."""
    monkeypatch.setattr(RevocationView, "COMPACT_AT", compact_at)
    view, model = RevocationView(), IssuerModel()
    view.apply([rev for rev, _ in revs])
    for _, (kind, what) in revs:
        if kind == "sid":
            model.sessions.add(what)
        elif kind == "jti":
            model.tokens.add(what)
        else:
            key, cutoff = what
            model.users[key] = max(cutoff, model.users.get(key, 0.0))
    for iss in (None, *OPS):
        for n in ("id0", "id1", "id2"):
            for sid, jti in ((n, ""), ("", n), ("", "")):
                for iat in (T0 - 10, T0, T0 + 10):
                    expected = model.reason(iss, n, sid, jti, iat)
                    if iss is None:
                        own = AccessClaims(ISS, "api", n, sid or "-", jti or "-", iat, iat + 60, "")
                        assert view.reason(own) == expected
                    else:
                        keys = ProviderKeys.of(iss, sub=n, sid=sid, jti=jti, iat=iat)
                        assert view.reason(keys) == expected
