import type { ThunkDispatch, UnknownAction } from '@reduxjs/toolkit';
import type { Persistor } from 'redux-persist';
import type { ApiClient } from './apiClient.js';
import type { AuthState } from './authSlice.js';
import type { LogoutChannel } from './crossTab.js';
import type { KeyStore } from './keyStore.js';
import type { Navigate } from './navigation.js';
import type { PeerRefreshes } from './peerRefresh.js';
import type { PendingLogout } from './pendingLogout.js';

export interface AuthRootState {
  auth: AuthState;
}

/** Everything the thunks touch besides the store, injected as the thunk `extra` argument. */
export interface CleanexitExtra {
  api: ApiClient;
  persistor: Pick<Persistor, 'flush' | 'purge'>;
  keyStore: Pick<KeyStore, 'forgetKey'>;
  channel: Pick<LogoutChannel, 'announce' | 'announceRefreshed'>;
  /** Refreshes other tabs announced: a refresh that lost a race waits here for its winner. */
  peers: PeerRefreshes;
  /** How long a refresh answered `race` waits for another tab's (the server's grace window). */
  refreshRaceWaitMs: number;
  navigate: Navigate;
  pending: PendingLogout;
  /** Upper bound on the whole server half of a logout; the local half never waits longer. */
  logoutTimeoutMs: number;
  /** Deadline of each local cleanup step: a hung one must not hold back the next. */
  stepTimeoutMs: number;
  now: () => number;
  locks: Pick<LockManager, 'request'> | null;
  onLogoutReport: (report: import('./logout.js').LogoutReport) => void;
  /** The logout running now, so a burst of 401s starts one logout, not five. */
  logoutInFlight: Promise<import('./logout.js').LogoutReport> | null;
  /** The token refresh running now, so five calls that expired together refresh once. */
  refreshInFlight: Promise<import('./session.js').RestoreResult> | null;
  /** Where `performLogout` sends the user after the purge (`/` by default). */
  redirectTo: string;
  readonly [EXTRA_MARK]: true;
}

export type AuthDispatch = ThunkDispatch<AuthRootState, unknown, UnknownAction>;

/**
 * The thunks take their dependencies from `cleanexit.middleware`, not from redux-thunk's
 * `extraArgument`: an app keeps its own `extraArgument`, and adding the middleware to its own
 * `configureStore` is the whole wiring. The middleware answers this action with the `extra`.
 */
export const EXTRA_REQUEST = '@@cleanexit/extra';

export interface ThunkConfig {
  state: AuthRootState;
  dispatch: AuthDispatch;
}

interface ThunkApi {
  dispatch: AuthDispatch;
  getState: () => AuthRootState;
}

export function extraOf(dispatch: AuthDispatch): CleanexitExtra {
  const answer = dispatch({ type: EXTRA_REQUEST }) as unknown;
  if (typeof answer === 'object' && answer !== null && EXTRA_MARK in answer) return answer as CleanexitExtra;
  throw new Error('cleanexit: add `cleanexit.middleware` to your configureStore middleware (docs/web.md)');
}

/** Marks the object the middleware answers with, so a plain echoed action is never mistaken for it. */
export const EXTRA_MARK = '__cleanexitExtra';

/** Wraps a thunk's payload creator so it receives `extra` from the middleware. */
export function withExtra<A, R>(run: (arg: A, api: ThunkApi & { extra: CleanexitExtra }) => R) {
  return (arg: A, api: ThunkApi): R => run(arg, { dispatch: api.dispatch, getState: api.getState, extra: extraOf(api.dispatch) });
}
