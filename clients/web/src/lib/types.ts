import type { ThunkDispatch, UnknownAction } from '@reduxjs/toolkit';
import type { Persistor } from 'redux-persist';
import type { ApiClient } from './apiClient';
import type { AuthState } from './authSlice';
import type { LogoutChannel } from './crossTab';
import type { KeyStore } from './keyStore';
import type { Navigate } from './navigation';
import type { PeerRefreshes } from './peerRefresh';
import type { PendingLogout } from './pendingLogout';

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
  onLogoutReport: (report: import('./logout').LogoutReport) => void;
  /** The logout running now, so a burst of 401s starts one logout, not five. */
  logoutInFlight: Promise<import('./logout').LogoutReport> | null;
}

export type AuthDispatch = ThunkDispatch<AuthRootState, CleanexitExtra, UnknownAction>;

export interface ThunkConfig {
  state: AuthRootState;
  extra: CleanexitExtra;
  dispatch: AuthDispatch;
}
