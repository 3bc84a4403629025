import { combineReducers, configureStore } from '@reduxjs/toolkit';
import { FLUSH, PAUSE, PERSIST, persistReducer, persistStore, PURGE, REGISTER, REHYDRATE } from 'redux-persist';
import { createApiClient, type ResponseInterceptor } from './apiClient';
import { authSlice, PERSISTED_AUTH_FIELDS } from './authSlice';
import type { CookieReader } from './cookies';
import { type ChannelOptions, createLogoutChannel, type LogoutChannel } from './crossTab';
import { type BackingStore, createEncryptedStorage, type EncryptedStorage, type PersistStorage } from './encryptedStorage';
import { createIndexedDbKeyStore, type KeyStore } from './keyStore';
import { forgetSession, type LogoutReport, performLogout } from './logout';
import { type Navigate, navigateWithHistory } from './navigation';
import { createPeerRefreshes } from './peerRefresh';
import { createPendingLogout, type PendingLogout } from './pendingLogout';
import { restoreSession } from './session';
import type { CleanexitExtra } from './types';

export interface CleanexitOptions {
  /** API origin, `''` for same origin (the demo page). */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Per-request timeout for ordinary API calls (ms). */
  timeoutMs?: number;
  /** Timeout of the server half of a logout (ms); the local half runs right after. */
  logoutTimeoutMs?: number;
  /** Deadline of each local cleanup step (ms): state reset, purge, key, tabs, navigation. */
  stepTimeoutMs?: number;
  /** Where encrypted state is written; `localStorage` by default. */
  backing?: BackingStore;
  /** Where the non-extractable AES-GCM key lives; IndexedDB by default. */
  keyStore?: KeyStore;
  navigate?: Navigate;
  pending?: PendingLogout;
  readCookie?: CookieReader;
  deleteCookie?: (name: string) => void;
  channel?: Omit<ChannelOptions, 'onLogout' | 'onRefreshed'>;
  /**
   * How long a refresh the server refused as a `race` waits for another tab to announce that it
   * won, before treating the winner as a stranger (ms; the server's grace window, 5 s).
   */
  refreshRaceWaitMs?: number;
  locks?: CleanexitExtra['locks'];
  now?: () => number;
  onLogoutReport?: (report: LogoutReport) => void;
}

export const PERSIST_KEY = 'cleanexit.auth';

/**
 * Builds the store, the persistor, the API client and the cross-tab channel, wired together:
 * the API client reads the access token from the store, a 401 for a revoked or ended session
 * starts `performLogout`, an expired token starts a silent refresh, and a logout announced by
 * another tab runs the client half here.
 */
export function createCleanexitClient(options: CleanexitOptions = {}) {
  const backing = options.backing ?? globalThis.localStorage;
  const keyStore = options.keyStore ?? createIndexedDbKeyStore();
  const storage = createEncryptedStorage(backing, keyStore);
  const persistStorage = nothingWhenSignedOut(storage);

  let getState: () => { auth: { accessToken: string | null } } = () => ({ auth: { accessToken: null } });
  const api = createApiClient({
    getAccessToken: () => getState().auth.accessToken,
    ...pick(options, 'baseUrl', 'fetch', 'timeoutMs', 'readCookie', 'deleteCookie'),
  });

  const now = options.now ?? Date.now;
  const extra: CleanexitExtra = {
    api,
    persistor: { flush: async () => undefined, purge: async () => undefined },
    keyStore,
    channel: { announce: () => undefined, announceRefreshed: () => undefined },
    peers: createPeerRefreshes(now),
    refreshRaceWaitMs: options.refreshRaceWaitMs ?? 5000,
    navigate: options.navigate ?? navigateWithHistory,
    pending: options.pending ?? createPendingLogout(),
    logoutTimeoutMs: options.logoutTimeoutMs ?? 5000,
    stepTimeoutMs: options.stepTimeoutMs ?? 2000,
    now,
    locks: options.locks !== undefined ? options.locks : (globalThis.navigator?.locks ?? null),
    onLogoutReport: options.onLogoutReport ?? (() => undefined),
    logoutInFlight: null,
  };

  const reducer = combineReducers({
    auth: persistReducer(
      { key: PERSIST_KEY, storage: persistStorage, whitelist: [...PERSISTED_AUTH_FIELDS] },
      authSlice.reducer,
    ),
  });
  const store = configureStore({
    reducer,
    middleware: (getDefault) =>
      getDefault({
        thunk: { extraArgument: extra },
        serializableCheck: { ignoredActions: [FLUSH, REHYDRATE, PAUSE, PERSIST, PURGE, REGISTER] },
      }),
  });
  getState = store.getState;

  let bootstrapped!: () => void;
  const ready = new Promise<void>((resolve) => (bootstrapped = resolve));
  const persistor = persistStore(store, null, () => bootstrapped());
  extra.persistor = persistor;

  const channel: LogoutChannel = createLogoutChannel({
    ...options.channel,
    onLogout: (message) => void store.dispatch(forgetSession({ reason: 'other-tab', scope: message.scope })),
    onRefreshed: () => extra.peers.heard(),
  });
  extra.channel = channel;

  api.responseInterceptors.push(sessionWatcher((expired) => {
    if (expired) void store.dispatch(restoreSession({ silent: true }));
    else void store.dispatch(performLogout({ reason: 'session-ended' }));
  }));

  return {
    store,
    persistor,
    api,
    storage: storage as EncryptedStorage,
    ready,
    dispose: () => channel.close(),
  };
}

export type CleanexitClient = ReturnType<typeof createCleanexitClient>;
export type CleanexitStore = CleanexitClient['store'];
export type CleanexitState = ReturnType<CleanexitStore['getState']>;
export type CleanexitDispatch = CleanexitStore['dispatch'];

/** Watches bearer calls: `expired` -> refresh; any other `invalid_token` -> the session is over. */
function sessionWatcher(onRejected: (expired: boolean) => void): ResponseInterceptor {
  return (response) => {
    const { status, request, bearerError } = response;
    if (status !== 401 || !request.headers['Authorization'] || request.path.startsWith('/auth/logout')) return;
    onRejected(bearerError === 'expired');
  };
}

/**
 * Signed out means nothing stored: redux-persist would otherwise write the initial state back
 * after every load (and create a key to seal it with). An all-empty profile removes the entry.
 */
function nothingWhenSignedOut(storage: EncryptedStorage): PersistStorage {
  return {
    getItem: (key) => storage.getItem(key),
    removeItem: (key) => storage.removeItem(key),
    setItem: (key, value) => (isSignedOut(value) ? storage.removeItem(key) : storage.setItem(key, value)),
  };
}

function isSignedOut(serialized: string): boolean {
  try {
    const outer = JSON.parse(serialized) as Record<string, string | undefined>;
    return PERSISTED_AUTH_FIELDS.every((field) => {
      const inner = outer[field];
      return inner === undefined || JSON.parse(inner) === null;
    });
  } catch {
    return false;
  }
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
