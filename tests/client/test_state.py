"""The auth state store: initial value, named transitions, subscribers, no token in reprs."""

from __future__ import annotations

from cleanexit._secret import Secret
from cleanexit.client import INITIAL_STATE, AuthStatus, AuthStore, Change, Tokens
from cleanexit.client.state import token_refreshed

TOKENS = Tokens(Secret("access-secret"), Secret("cxr_refresh-secret"), 10.0, 20.0)
NEW = Tokens(Secret("access-2"), Secret("cxr_2"))


def logged_in_store() -> AuthStore:
    store = AuthStore()
    store.login_succeeded(server_url="http://s", user="alice", session_id="s1", tokens=TOKENS)
    return store


def test_initial_state_is_unauthenticated() -> None:
    assert AuthStore().state == INITIAL_STATE
    assert INITIAL_STATE.status is AuthStatus.UNAUTHENTICATED and not INITIAL_STATE.authenticated


def test_transitions_are_announced_by_name() -> None:
    store = AuthStore()
    seen: list[Change] = []
    unsubscribe = store.subscribe(seen.append)
    store.login_succeeded(server_url="http://s", user="alice", session_id="s1", tokens=TOKENS)
    store.token_refreshed(session_id="s1", tokens=NEW)
    store.logged_out()
    store.logged_out()  # no change, no announcement
    assert [c.action for c in seen] == ["login_succeeded", "token_refreshed", "logged_out"]
    assert seen[1].previous.tokens == TOKENS and seen[1].state.tokens == NEW
    assert store.state is INITIAL_STATE
    unsubscribe()
    store.login_succeeded(server_url="http://s", user="a", session_id="s2", tokens=TOKENS)
    assert len(seen) == 3


def test_late_refresh_cannot_resurrect_a_logged_out_session() -> None:
    store = logged_in_store()
    store.logged_out()
    store.token_refreshed(session_id="s1", tokens=NEW)
    assert store.state is INITIAL_STATE
    other = logged_in_store().state
    assert token_refreshed(other, session_id="another", tokens=NEW) is other


def test_a_failing_subscriber_cannot_stop_a_transition() -> None:
    store = logged_in_store()
    calls: list[str] = []

    def broken(change: Change) -> None:
        raise RuntimeError("boom")

    store.subscribe(broken)
    store.subscribe(lambda change: calls.append(change.action))
    store.logged_out()
    assert store.state is INITIAL_STATE and calls == ["logged_out"]


def test_tokens_never_in_repr() -> None:
    store = logged_in_store()
    for text in (repr(store), repr(store.state), str(store.state), repr(TOKENS)):
        assert "access-secret" not in text and "refresh-secret" not in text
