"""Resource-server mode end to end in one process: back-channel logout and admin revocation
feed the same view the guard reads, keyed by issuer; our own tokens are untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from cleanexit._secret import Secret
from cleanexit.clock import ManualClock
from cleanexit.errors import (
    ClaimError,
    ConfigurationError,
    InvalidLogoutTokenError,
    InvalidTokenError,
    RevokedTokenError,
)
from cleanexit.server.guard import ProviderGuard
from cleanexit.server.keys import KeyRing
from cleanexit.server.oidc import Providers, TrustedIssuer
from cleanexit.server.replica import PollingReplica
from cleanexit.server.stores import MemoryStore
from cleanexit.server.tokens import TokenIssuer
from cleanexit.server.verifier import Verifier

from .provider import JWKS_URI, OP, T0, FakeFetch, Provider, trusted

pytestmark = pytest.mark.anyio
OWN = "https://cleanexit.example"
OP2 = "https://op-two.example"


@dataclass
class World:
    clock: ManualClock
    op: Provider
    op2: Provider
    store: MemoryStore
    providers: Providers
    guard: ProviderGuard
    issuer: TokenIssuer

    def own_token(self, sub: str = "alice", sid: str = "own-s1") -> str:
        return self.issuer.issue(sub=sub, sid=sid).token

    def rows(self) -> list[Any]:
        return list(self.store._log)


def world_with(accept_own: bool = True, **options: Any) -> World:
    clock = ManualClock(T0 + 5)
    op, op2 = Provider(), Provider(issuer=OP2)
    op.add("RS256")
    op2.add("ES256")
    store = MemoryStore()
    replica = PollingReplica(store=store, clock=clock)
    fetch = FakeFetch({JWKS_URI: op.jwks, OP2 + "/jwks": op2.jwks})
    issuers: list[TrustedIssuer] = [
        trusted(**options),
        trusted(issuer=OP2, jwks_uri=OP2 + "/jwks", client_id="web-two"),
    ]
    providers = Providers(issuers=issuers, store=store, replica=replica, clock=clock, fetch=fetch)
    keys = KeyRing.from_secrets(Secret("s" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"))
    verifier = Verifier(keys=keys, issuer=OWN, audience="orders-api", clock=clock)
    guard = ProviderGuard(
        verifier=verifier, replica=replica, external=providers.verifier, accept_own=accept_own
    )
    issuer = TokenIssuer(keys=keys, issuer=OWN, audience="orders-api", clock=clock)
    return World(clock, op, op2, store, providers, guard, issuer)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = world_with()
    yield w
    await w.providers.stop()


def logout(op: Provider, **claims: Any) -> str:
    return op.sign(op.logout(T0, **claims), typ="logout+jwt")


async def test_both_kinds_of_tokens_pass_the_same_guard(world: World) -> None:
    own = await world.guard.authenticate(world.own_token())
    theirs = await world.guard.authenticate(world.op.sign(world.op.access()))
    other = await world.guard.authenticate(world.op2.sign(world.op2.access()))
    assert (own.iss, theirs.iss, other.iss) == (OWN, OP, OP2)
    assert own.sub == theirs.sub == other.sub == "alice"  # three different people


async def test_backchannel_logout_of_a_sid(world: World) -> None:
    token = world.op.sign(world.op.access())
    other_session = world.op.sign(world.op.access(sid="op-s2", jti="j2"))
    result = await world.providers.logout(logout(world.op, sid="op-s1"))
    assert result.to_dict() == {
        "issuer": OP, "revoked": {"sessions": ["op-s1"], "user_cutoff": None}
    }  # fmt: skip
    with pytest.raises(RevokedTokenError, match="revoked: session ended"):
        await world.guard.authenticate(token)
    await world.guard.authenticate(other_session)
    # Same sid and sub at another issuer, and our own: untouched.
    await world.guard.authenticate(world.op2.sign(world.op2.access(sid="op-s1")))
    await world.guard.authenticate(world.own_token(sid="op-s1"))


async def test_backchannel_logout_of_a_sub_is_a_cutoff(world: World) -> None:
    before = world.op.sign(world.op.access(sid=None, jti=None))
    result = await world.providers.logout(logout(world.op, sid=None))
    assert result.kind == "user" and result.cutoff == T0 + 1  # the logout's own second too
    with pytest.raises(RevokedTokenError, match="logged out everywhere"):
        await world.guard.authenticate(before)
    after = world.op.sign(world.op.access(T0 + 1, sid=None, jti=None))
    assert (await world.guard.authenticate(after)).sub == "alice"  # signed in again later
    await world.guard.authenticate(world.op2.sign(world.op2.access()))
    await world.guard.authenticate(world.own_token())


async def test_a_replayed_logout_token_is_refused_and_records_nothing(world: World) -> None:
    token = logout(world.op, sid=None)
    await world.providers.logout(token)
    rows = world.rows()
    world.clock.advance(30)
    with pytest.raises(InvalidLogoutTokenError, match="already used"):
        await world.providers.logout(token)
    assert world.rows() == rows  # the cutoff did not move to the replay's time


async def test_a_refused_logout_token_records_nothing(world: World) -> None:
    token = world.op.sign(world.op.access())
    for bad in (
        logout(world.op, aud="orders-api"),
        logout(world.op, nonce="n"),
        logout(world.op, events={}),
        world.op2.sign(world.op.logout(T0), typ="logout+jwt"),  # another key than OP's
    ):
        with pytest.raises(InvalidLogoutTokenError):
            await world.providers.logout(bad)
    assert world.rows() == []
    await world.guard.authenticate(token)


async def test_revocation_from_outside(world: World) -> None:
    session = world.op.sign(world.op.access(sid="desk-s", jti="j-a"))
    single = world.op.sign(world.op.access(sid="x", jti="desk-j"))
    user = world.op.sign(world.op.access(sub="mallory", sid="y", jti="j-b"))
    done = await world.providers.revoke_session(OP, "desk-s")
    assert done.recorded and done.until == T0 + 5 + 3600 + 1
    assert not (await world.providers.revoke_session(OP, "desk-s")).recorded
    await world.providers.revoke_token(OP, "desk-j")
    cut = await world.providers.revoke_user(OP, "mallory")
    assert cut.cutoff == T0 + 6
    for token, why in ((session, "session ended"), (single, "revoked"),
                       (user, "logged out everywhere")):  # fmt: skip
        with pytest.raises(RevokedTokenError, match=why):
            await world.guard.authenticate(token)
    with pytest.raises(ConfigurationError, match="not a trusted issuer"):
        await world.providers.revoke_user("https://typo.example", "mallory")


async def test_unknown_issuers_are_named(world: World) -> None:
    stranger = Provider(issuer="https://stranger.example")
    stranger.add("RS256")
    with pytest.raises(ClaimError, match=r"^unknown issuer$"):
        await world.guard.authenticate(stranger.sign(stranger.access()))


async def test_external_only_refuses_our_own_tokens() -> None:
    w = world_with(accept_own=False)
    with pytest.raises(ClaimError, match="unknown issuer"):
        await w.guard.authenticate(w.own_token())
    await w.guard.authenticate(w.op.sign(w.op.access()))
    # Routes about our own sessions take our tokens only, whatever protected routes accept.
    with pytest.raises(InvalidTokenError):
        await w.guard.authenticate_own(w.op.sign(w.op.access()))
    await w.providers.stop()


async def test_routes_about_our_sessions_never_take_a_providers_token(world: World) -> None:
    """A provider's "alice" must not list or end our "alice"'s sessions."""
    await world.guard.authenticate_own(world.own_token())
    with pytest.raises(InvalidTokenError):
        await world.guard.authenticate_own(world.op.sign(world.op.access()))


async def test_a_provider_whose_access_tokens_carry_no_sid() -> None:
    """Ending a sid would stop none of its tokens: the sub of the logout token cuts them off."""
    w = world_with(access_tokens_have_sid=False)
    token = w.op.sign(w.op.access(sid=None))
    result = await w.providers.logout(logout(w.op, sid="op-s9"))
    assert result.to_dict()["revoked"] == {"sessions": ["op-s9"], "user_cutoff": T0 + 1}
    with pytest.raises(RevokedTokenError, match="logged out everywhere"):
        await w.guard.authenticate(token)
    await w.providers.stop()


async def test_with_a_sid_only_that_session_ends(world: World) -> None:
    """§2.4: a logout token with sid and sub ends that session, not the user's others."""
    await world.providers.logout(logout(world.op, sid="op-s1"))
    await world.guard.authenticate(world.op.sign(world.op.access(sid="op-s2", jti="j2")))
