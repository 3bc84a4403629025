import type { Middleware, UnknownAction } from '@reduxjs/toolkit';
import { FLUSH, PAUSE, PERSIST, type PersistConfig, persistReducer, PURGE, REGISTER, REHYDRATE } from 'redux-persist';
import { createApiClient, type ResponseInterceptor } from './apiClient.js';
import { type AuthState, authSlice, PERSISTED_AUTH_FIELDS } from './authSlice.js';
import type { CookieReader } from './cookies.js';
import { type ChannelOptions, createLogoutChannel } from './crossTab.js';
import { type BackingStore, createEncryptedStorage, type EncryptedStorage, type PersistStorage } from './encryptedStorage.js';
import { type AxiosLike, attachAxios, createAuthFetch, type HttpAuth } from './httpAdapters.js';
import { createIndexedDbKeyStore, type KeyStore } from './keyStore.js';
import { finishPendingLogout, forgetSession, LOGIN_PATH, type LogoutReport, performLogout } from './logout.js';
import { type Navigate, navigateWithHistory } from './navigation.js';
import { createPeerRefreshes } from './peerRefresh.js';
import { createPendingLogout, type PendingLogout } from './pendingLogout.js';
import { restoreSession } from './session.js';
import { type AuthDispatch, type AuthRootState, type CleanexitExtra, EXTRA_MARK, EXTRA_REQUEST } from './types.js';

export interface CleanexitOptions {
  /**
   * Origin (and optional path prefix) of the cleanexit API: `''` for the page's own origin, or
   * e.g. `https://api.example.com` for an API on another origin of the same site (the server
   * then lists the app's origin in `CLEANEXIT_CORS_ORIGINS`).
   */
  baseUrl?: string;
  /** Where `performLogout` sends the user once everything is purged. Default `/`. */
  redirectTo?: string;
  /** Injected navigation: `(to) => navigate(to, { replace: true })`, `router.push`, `location.assign`… */
  navigate?: Navigate;
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
  /** The redux-persist key of the auth slice (`persist:<key>` in storage). */
  persistKey?: string;
  pending?: PendingLogout;
  readCookie?: CookieReader;
  deleteCookie?: (name: string) => void;
  channel?: Omit<ChannelOptions, 'onLogout' | 'onRefreshed'>;
  /**
   * How long a refresh the server refused as a `race` waits for another tab to announce that it
   * won, before treating the winner as a stranger (ms; the server's grace window, 5 s).
   */
  refreshRaceWaitMs?: number;
  /** Refresh the access token at 80 % of its lifetime (default `true`). */
  silentRefresh?: boolean;
  locks?: CleanexitExtra['locks'];
  now?: () => number;
  onLogoutReport?: (report: LogoutReport) => void;
}

export const PERSIST_KEY = 'cleanexit.auth';

/** redux-persist's own actions carry functions; RTK's serializable check must let them pass. */
export const PERSIST_ACTIONS = [FLUSH, REHYDRATE, PAUSE, PERSIST, PURGE, REGISTER];

const PENDING_RETRY_MS = 10_000;

/**
 * cleanexit for an app that owns its store. Mount `reducer` at `auth` in the app's own reducer
 * tree, add `middleware` to its `configureStore`, call `persistStore` as usual, then `start()`.
 * The thunks (`performLogout`, `signIn`, `restoreSession`) find everything else through the
 * middleware; purge and flush go through the store, so every `persistReducer` of the app (not
 * only ours) is flushed and purged on logout.
 */
export function createCleanexit(options: CleanexitOptions = {}) {
  const persistKey = options.persistKey ?? PERSIST_KEY;
  const keyStore = options.keyStore ?? createIndexedDbKeyStore();
  const storage = createEncryptedStorage(options.backing ?? globalThis.localStorage, keyStore);
  const persistConfig: PersistConfig<AuthState> = {
    key: persistKey,
    storage: nothingWhenSignedOut(storage),
    whitelist: [...PERSISTED_AUTH_FIELDS],
  };
  const reducer = persistReducer(persistConfig, authSlice.reducer);

  let store: { dispatch: AuthDispatch; getState: () => AuthRootState } | null = null;
  const auth = (): AuthState | null => (store ? store.getState().auth : null);
  const baseUrl = options.baseUrl ?? '';
  const api = createApiClient({
    getAccessToken: () => auth()?.accessToken ?? null,
    getCsrfToken: () => auth()?.csrfToken ?? null,
    credentials: isOtherOrigin(baseUrl) ? 'include' : 'same-origin',
    ...pick(options, 'baseUrl', 'fetch', 'timeoutMs', 'readCookie', 'deleteCookie'),
  });
  const now = options.now ?? Date.now;
  const extra: CleanexitExtra = {
    [EXTRA_MARK]: true,
    api,
    persistor: { flush: () => viaStore(FLUSH), purge: () => viaStore(PURGE) },
    keyStore,
    channel: { announce: () => undefined, announceRefreshed: () => undefined },
    peers: createPeerRefreshes(now),
    refreshRaceWaitMs: options.refreshRaceWaitMs ?? 5000,
    navigate: options.navigate ?? navigateWithHistory,
    redirectTo: options.redirectTo ?? LOGIN_PATH,
    pending: options.pending ?? createPendingLogout(),
    logoutTimeoutMs: options.logoutTimeoutMs ?? 5000,
    stepTimeoutMs: options.stepTimeoutMs ?? 2000,
    now,
    locks: options.locks !== undefined ? options.locks : (globalThis.navigator?.locks ?? null),
    onLogoutReport: options.onLogoutReport ?? (() => undefined),
    logoutInFlight: null,
    refreshInFlight: null,
  };

  /** `persistor.flush()` / `.purge()` without the persistor: every persistReducer answers. */
  async function viaStore(type: typeof FLUSH | typeof PURGE): Promise<void> {
    const results: unknown[] = [];
    required().dispatch({ type, result: (result: unknown) => void results.push(result) } as UnknownAction);
    await Promise.all(results);
  }

  function required() {
    if (!store) throw new Error('cleanexit: the store is not created yet (add cleanexit.middleware to configureStore)');
    return store;
  }

  let closeChannel = () => undefined as void;
  let rehydrated!: () => void;
  const ready = new Promise<void>((resolve) => (rehydrated = resolve));
  const refresh = silentRefresher(options.silentRefresh ?? true, now, () => {
    void required().dispatch(restoreSession({ silent: true }));
  });

  const middleware: Middleware = (storeApi) => {
    if (store) throw new Error('cleanexit: one createCleanexit() per store');
    store = storeApi as typeof store & object;
    const channel = createLogoutChannel({
      ...options.channel,
      onLogout: (message) => void (storeApi.dispatch as AuthDispatch)(forgetSession({ reason: 'other-tab', scope: message.scope })),
      onRefreshed: () => extra.peers.heard(),
    });
    extra.channel = channel;
    closeChannel = () => channel.close();
    return (next) => (action) => {
      if (isType(action, EXTRA_REQUEST)) return extra;
      const result = next(action);
      if (isType(action, REHYDRATE) && (action as { key?: unknown }).key === persistKey) rehydrated();
      refresh.follow(auth());
      return result;
    };
  };

  // Bearer calls made through the built-in client: `expired` -> refresh; any other
  // `invalid_token` -> the session is over (ended elsewhere): the client half of a logout.
  api.responseInterceptors.push(sessionWatcher((expired) => {
    if (expired) void required().dispatch(restoreSession({ silent: true }));
    else void required().dispatch(performLogout({ reason: 'session-ended' }));
  }));

  const http: HttpAuth = {
    apiBase: baseUrl,
    token: () => auth()?.accessToken ?? null,
    async renew(used) {
      const current = auth()?.accessToken ?? null;
      if (current && current !== used) return current; // refreshed meanwhile: just retry
      const result = await required().dispatch(restoreSession({ silent: true })).unwrap();
      return result === 'restored' ? (auth()?.accessToken ?? null) : null;
    },
    sessionEnded: () => void required().dispatch(performLogout({ reason: 'session-ended' })),
  };

  let started: Promise<void> | null = null;
  const cleanups: (() => void)[] = [];

  /** Ends a logout that could not reach the server, with the refresh cookie alone. */
  async function retryPendingLogout(): Promise<void> {
    await required().dispatch(finishPendingLogout());
  }

  return {
    /** The auth slice's reducer, already wrapped in its encrypted `persistReducer`: mount at `auth`. */
    reducer,
    /** Its persist config (key, encrypted storage, whitelist), for an app that wraps it itself. */
    persistConfig,
    /** The encrypted redux-persist storage, for app slices that should be encrypted as well. */
    storage: storage as EncryptedStorage,
    middleware,
    /** For `serializableCheck.ignoredActions`. */
    ignoredActions: PERSIST_ACTIONS,
    /** The built-in fetch client the thunks use (bearer, CSRF header, timeouts). */
    api,
    /** A `fetch` for the app's own calls: bearer on API URLs only, refresh once on `expired`, retry once. */
    fetch: createAuthFetch(http, options.fetch),
    /** Adds the same interceptors to an axios instance; returns a function that removes them. */
    axios: (instance: AxiosLike) => attachAxios(instance, http),
    /** Resolves once the auth slice has been rehydrated (decrypted) by `persistStore`. */
    ready,
    /**
     * Once, after `persistStore(store)`: finishes a logout the server never heard, restores the
     * session from the refresh cookie, and retries a pending logout when the network is back.
     */
    start(): Promise<void> {
      started ??= (async () => {
        await ready;
        await retryPendingLogout();
        if (auth()?.sessionId) await required().dispatch(restoreSession());
        const online = () => void retryPendingLogout();
        globalThis.addEventListener?.('online', online);
        const timer = setInterval(() => {
          if (extra.pending.get()) void retryPendingLogout();
        }, PENDING_RETRY_MS);
        cleanups.push(() => globalThis.removeEventListener?.('online', online), () => clearInterval(timer));
      })();
      return started;
    },
    isLoggingOut: () => extra.logoutInFlight !== null,
    navigate: (to: string) => extra.navigate(to),
    /** Replaces the injected navigation, e.g. with React Router's `navigate` once a router exists. */
    setNavigate(navigate: Navigate): void {
      extra.navigate = navigate;
    },
    redirectTo: extra.redirectTo,
    dispose() {
      closeChannel();
      refresh.stop();
      for (const cleanup of cleanups.splice(0)) cleanup();
    },
  };
}

export type Cleanexit = ReturnType<typeof createCleanexit>;

function isType(action: unknown, type: string): boolean {
  return typeof action === 'object' && action !== null && (action as { type?: unknown }).type === type;
}

function isOtherOrigin(baseUrl: string): boolean {
  if (!/^https?:\/\//i.test(baseUrl)) return false;
  const here = globalThis.location?.origin;
  return !here || new URL(baseUrl).origin !== here;
}

/** Schedules a refresh at 80 % of each new access token's life, so calls rarely meet `expired`. */
function silentRefresher(enabled: boolean, now: () => number, refresh: () => void) {
  let last: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    follow(auth: AuthState | null) {
      const token = auth?.accessToken ?? null;
      if (!enabled || token === last) return;
      last = token;
      clearTimeout(timer);
      if (token && auth?.accessTokenExpiresAt) {
        timer = setTimeout(refresh, Math.max(1000, (auth.accessTokenExpiresAt - now()) * 0.8));
      }
    },
    stop: () => clearTimeout(timer),
  };
}

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
