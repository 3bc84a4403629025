import { describe, expect, it } from 'vitest';
import {
  authSlice,
  initialAuthState,
  logout,
  PERSISTED_AUTH_FIELDS,
  selectIsSignedIn,
} from '../src/lib';
import {
  restoreStalled,
  restoreStarted,
  signedIn,
  signInFailed,
  signInStarted,
  tokenRefreshed,
} from '../src/lib/authSlice';

const reducer = authSlice.reducer;
const token = { accessToken: 'a.b.c', sessionId: 'sid-1', expiresIn: 600, receivedAt: 1_000 };

function signedInState() {
  return reducer(initialAuthState, signedIn({ ...token, user: 'alice' }));
}

describe('authSlice', () => {
  it('starts signed out, with nothing in it', () => {
    expect(reducer(undefined, { type: '@@init' })).toEqual({
      status: 'signedOut',
      user: null,
      sessionId: null,
      csrfToken: null,
      accessToken: null,
      accessTokenExpiresAt: null,
      error: null,
    });
  });

  it('signedIn keeps the token in state and computes its expiry', () => {
    expect(signedInState()).toEqual({
      status: 'signedIn',
      user: 'alice',
      sessionId: 'sid-1',
      csrfToken: null,
      accessToken: 'a.b.c',
      accessTokenExpiresAt: 601_000,
      error: null,
    });
    expect(selectIsSignedIn({ auth: signedInState() })).toBe(true);
  });

  it('sign-in failure returns to signed out with the error', () => {
    const pending = reducer(initialAuthState, signInStarted());
    expect(pending.status).toBe('signingIn');
    expect(reducer(pending, signInFailed('invalid credentials'))).toMatchObject({
      status: 'signedOut',
      error: 'invalid credentials',
      accessToken: null,
    });
  });

  it('restore: restoring, stalled keeps the session, refreshed replaces the token', () => {
    const reloaded = { ...initialAuthState, user: 'alice', sessionId: 'sid-1' }; // as rehydrated
    const restoring = reducer(reloaded, restoreStarted());
    expect(restoring.status).toBe('restoring');
    const stalled = reducer(restoring, restoreStalled('server unreachable'));
    expect(stalled).toMatchObject({ status: 'restoring', sessionId: 'sid-1', error: 'server unreachable' });
    const refreshed = reducer(stalled, tokenRefreshed({ ...token, accessToken: 'd.e.f', receivedAt: 5_000 }));
    expect(refreshed).toMatchObject({ status: 'signedIn', user: 'alice', accessToken: 'd.e.f', error: null });
  });

  it('logout returns the initial, unauthenticated state from any state', () => {
    const states = [
      signedInState(),
      reducer(initialAuthState, signInStarted()),
      reducer({ ...initialAuthState, sessionId: 'sid-1' }, restoreStarted()),
      reducer(initialAuthState, signInFailed('x')),
      initialAuthState,
    ];
    for (const state of states) {
      const next = reducer(state, logout());
      expect(next).toEqual(initialAuthState);
      expect(next.accessToken).toBeNull();
    }
  });

  it('persists only the non-secret profile fields, never the access token', () => {
    // csrfToken: the double-submit value an API on another origin keeps out of document.cookie.
    expect(PERSISTED_AUTH_FIELDS).toEqual(['user', 'sessionId', 'csrfToken']);
    expect(PERSISTED_AUTH_FIELDS).not.toContain('accessToken');
  });
});
