import { combineReducers, configureStore, createSlice } from '@reduxjs/toolkit';
import axios from 'axios';
import { persistReducer, persistStore } from 'redux-persist';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createCleanexit,
  createIndexedDbKeyStore,
  createMemoryKeyStore,
  createMemoryBackingStore,
  createPendingLogout,
  performLogout,
  resetOnLogout,
  signIn,
} from '../src/lib';
import { IDBFactory } from 'fake-indexeddb';
import { type FakeApi, json, type RecordedRequest, startFakeApi } from './helpers';

/**
 * An app that already has its store, its own redux-persist config, its own thunk extra
 * argument and its own HTTP client, with cleanexit added the documented way (docs/web.md).
 */
const servers: FakeApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The API: tokens `t1`, `t2`…; only the newest works; `expire()` makes it answer `expired`. */
async function tokenApi() {
  let version = 1;
  let expired = false;
  let ended = false;
  let stuck = false; // answers `expired` to every token, the refreshed one too
  const refreshes: RecordedRequest[] = [];
  const api = await startFakeApi((req, res) => {
    if (req.path === '/auth/login') return json(res, 200, body(version));
    if (req.path === '/auth/refresh') {
      refreshes.push(req);
      // Slow enough that five concurrent 401s all arrive while it runs.
      setTimeout(() => {
        version += 1;
        expired = false;
        json(res, 200, body(version));
      }, 50);
      return;
    }
    if (req.path === '/auth/logout') return json(res, 200, { revoked: { sessions: ['sid-1'] } });
    const sent = req.headers['authorization'];
    if (ended) return refuse(res, 'revoked: session ended');
    if (sent !== `Bearer t${version}` || expired || stuck) return refuse(res, 'expired');
    return json(res, 200, { path: req.path, body: req.body });
  });
  servers.push(api);
  return {
    api,
    refreshes,
    expire: () => void (expired = true),
    endSession: () => void (ended = true),
    alwaysExpired: () => void (stuck = true),
  };
}

function body(version: number) {
  return { access_token: `t${version}`, token_type: 'Bearer', expires_in: 600, session_id: 'sid-1', csrf_token: 'csrf-1' };
}

function refuse(res: Parameters<typeof json>[0], description: string) {
  json(res, 401, { error: 'invalid_token', error_description: description }, {
    'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"`,
  });
}

const todos = createSlice({
  name: 'todos',
  initialState: [] as string[],
  reducers: { added: (state, action: { payload: string }) => void state.push(action.payload) },
});
const prefs = createSlice({
  name: 'prefs',
  initialState: { theme: 'light' },
  reducers: { themed: (state, action: { payload: string }) => void (state.theme = action.payload) },
});

function existingApp(baseUrl: string) {
  const localStorage = createMemoryBackingStore(); // stands in for window.localStorage
  const appStorage = {
    getItem: async (key: string) => localStorage.getItem(key),
    setItem: async (key: string, value: string) => localStorage.setItem(key, value),
    removeItem: async (key: string) => localStorage.removeItem(key),
  };
  const navigate = vi.fn();
  const cleanexit = createCleanexit({
    baseUrl,
    navigate,
    backing: localStorage,
    keyStore: createIndexedDbKeyStore(new IDBFactory()),
    pending: createPendingLogout(null),
    readCookie: () => null,
    deleteCookie: () => undefined,
    channel: { BroadcastChannel: undefined, window: undefined },
    locks: null,
    silentRefresh: false,
  });
  // The app's own reducer tree and persist config; `auth` is left out of the app's (plain)
  // root persist: cleanexit persists it itself, encrypted.
  const root = resetOnLogout(
    combineReducers({ auth: cleanexit.reducer, todos: todos.reducer, prefs: prefs.reducer }),
    { keep: ['prefs'] },
  );
  const persisted = persistReducer({ key: 'root', storage: appStorage, blacklist: ['auth'] }, root);
  const appExtra = { analytics: vi.fn() };
  const store = configureStore({
    reducer: persisted,
    middleware: (gdm) =>
      gdm({ thunk: { extraArgument: appExtra }, serializableCheck: { ignoredActions: cleanexit.ignoredActions } })
        .concat(cleanexit.middleware),
  });
  const persistor = persistStore(store);
  return { cleanexit, store, persistor, localStorage, navigate, appExtra };
}

async function settle(app: ReturnType<typeof existingApp>) {
  await app.persistor.flush();
  await app.cleanexit.storage.settled();
}

describe('cleanexit in an existing app', () => {
  it("the app's store, persist config and thunk extra stay its own; logout resets and purges them", async () => {
    const { api } = await tokenApi();
    const app = existingApp(api.baseUrl);
    await app.cleanexit.start();
    await app.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    app.store.dispatch(todos.actions.added('buy milk'));
    app.store.dispatch(prefs.actions.themed('dark'));
    // The app's own thunks still get its own extra argument.
    await app.store.dispatch((_d: unknown, _g: unknown, extra: typeof app.appExtra) => extra.analytics('hi'));
    expect(app.appExtra.analytics).toHaveBeenCalledWith('hi');
    await settle(app);
    const stored = Object.fromEntries(app.localStorage.keys().map((k) => [k, app.localStorage.getItem(k)]));
    expect(Object.keys(stored).sort()).toEqual(['persist:cleanexit.auth', 'persist:root']);
    expect(stored['persist:cleanexit.auth']).toMatch(/^cx1\./); // encrypted
    expect(stored['persist:cleanexit.auth']).not.toContain('alice');
    expect(stored['persist:root']).toContain('buy milk');
    expect(stored['persist:root']).not.toContain('t1'); // the token never reaches the app's storage

    const report = await app.store.dispatch(performLogout()).unwrap();
    expect(report.server.outcome).toBe('revoked');
    expect(report.cleanup.errors).toEqual([]);
    const state = app.store.getState();
    expect(state.auth).toMatchObject({ status: 'signedOut', user: null, accessToken: null });
    expect(state.todos).toEqual([]); // reset by resetOnLogout
    expect(state.prefs.theme).toBe('dark'); // kept, as configured
    await settle(app);
    expect(app.localStorage.keys()).toEqual([]); // the app's persisted state was purged too
    expect(app.navigate).toHaveBeenCalledExactlyOnceWith('/');

    // Persistence goes on for the next session (the _persist markers survived the reset).
    await app.store.dispatch(signIn({ username: 'bob', password: 'pw' }));
    app.store.dispatch(todos.actions.added('new list'));
    await settle(app);
    expect(app.localStorage.keys().sort()).toEqual(['persist:cleanexit.auth', 'persist:root']);
    app.cleanexit.dispose();
  });

  it('says what is missing when the middleware was not added', async () => {
    const cleanexit = createCleanexit({ backing: createMemoryBackingStore(), keyStore: createMemoryKeyStore(), channel: { BroadcastChannel: undefined, window: undefined }, locks: null });
    const store = configureStore({ reducer: { auth: cleanexit.reducer }, middleware: (gdm) => gdm({ serializableCheck: false }) });
    const result = await store.dispatch(performLogout());
    expect(result.meta.requestStatus).toBe('rejected');
    expect((result as { error: { message: string } }).error.message).toContain('cleanexit.middleware');
  });
});

describe('the fetch wrapper', () => {
  it('5 calls that expired together: one refresh, each retried once, bodies intact', async () => {
    const server = await tokenApi();
    const app = existingApp(server.api.baseUrl);
    await app.cleanexit.start();
    await app.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    server.expire();
    const responses = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        app.cleanexit.fetch(`${server.api.baseUrl}/items`, { method: 'POST', body: JSON.stringify({ n }), headers: { 'content-type': 'application/json' } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await Promise.all(responses.map((r) => r.json()))).toEqual([1, 2, 3, 4, 5].map((n) => ({ path: '/items', body: { n } })));
    expect(server.refreshes).toHaveLength(1);
    const items = server.api.requests.filter((r) => r.path === '/items');
    expect(items.map((r) => r.headers['authorization']).sort()).toEqual([...Array(5).fill('Bearer t1'), ...Array(5).fill('Bearer t2')]);
    app.cleanexit.dispose();
  });

  it('adds the bearer to API calls only, and a revoked session starts the logout', async () => {
    const server = await tokenApi();
    const elsewhere = await startFakeApi((_req, res) => json(res, 200, {}));
    servers.push(elsewhere);
    const app = existingApp(server.api.baseUrl);
    await app.cleanexit.start();
    await app.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    await app.cleanexit.fetch(`${elsewhere.baseUrl}/pixel`);
    expect(elsewhere.requests[0]?.headers['authorization']).toBeUndefined();

    server.endSession();
    const response = await app.cleanexit.fetch(`${server.api.baseUrl}/items`);
    expect(response.status).toBe(401);
    await vi.waitFor(() => expect(app.navigate).toHaveBeenCalledWith('/'));
    expect(app.store.getState().auth.status).toBe('signedOut');
    expect(server.refreshes).toHaveLength(0); // not expired: no refresh attempted
    app.cleanexit.dispose();
  });
});

describe('retry once, not forever', () => {
  it('an API that refuses the refreshed token too: one refresh, one retry, the 401 to the caller', async () => {
    const server = await tokenApi();
    const app = existingApp(server.api.baseUrl);
    await app.cleanexit.start();
    await app.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    server.alwaysExpired();
    const http = axios.create({ baseURL: server.api.baseUrl });
    app.cleanexit.axios(http);
    const error = await http.get('/items').catch((e: unknown) => e);
    expect(axios.isAxiosError(error) && error.response?.status).toBe(401);
    expect(server.refreshes).toHaveLength(1);
    const viaFetch = await app.cleanexit.fetch(`${server.api.baseUrl}/items`);
    expect(viaFetch.status).toBe(401);
    expect(server.refreshes).toHaveLength(2);
    expect(server.api.requests.filter((r) => r.path === '/items')).toHaveLength(4); // 2 + 2
    app.cleanexit.dispose();
  });
});

describe('the axios adapter', () => {
  it('5 calls that expired together: one refresh, each retried once', async () => {
    const server = await tokenApi();
    const app = existingApp(server.api.baseUrl);
    await app.cleanexit.start();
    await app.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    const http = axios.create({ baseURL: server.api.baseUrl });
    const detach = app.cleanexit.axios(http);
    server.expire();
    const responses = await Promise.all([1, 2, 3, 4, 5].map((n) => http.post('/items', { n })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(responses.map((r) => r.data)).toEqual([1, 2, 3, 4, 5].map((n) => ({ path: '/items', body: { n } })));
    expect(server.refreshes).toHaveLength(1);

    detach();
    await http.get('/items').catch(() => undefined);
    expect(server.api.requests.at(-1)?.headers['authorization']).toBeUndefined();
    app.cleanexit.dispose();
  });

  it('retries once only, leaves other hosts alone, and logs out on a revoked session', async () => {
    const server = await tokenApi();
    const elsewhere = await startFakeApi((_req, res) => json(res, 200, {}));
    servers.push(elsewhere);
    const app = existingApp(server.api.baseUrl);
    await app.cleanexit.start();
    await app.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    const http = axios.create();
    app.cleanexit.axios(http);
    await http.get(`${elsewhere.baseUrl}/pixel`);
    expect(elsewhere.requests[0]?.headers['authorization']).toBeUndefined();

    server.endSession();
    const error = await http.get(`${server.api.baseUrl}/items`).catch((e: unknown) => e);
    expect(axios.isAxiosError(error) && error.response?.status).toBe(401);
    await vi.waitFor(() => expect(app.navigate).toHaveBeenCalledWith('/'));
    expect(server.refreshes).toHaveLength(0);
    expect(server.api.requests.filter((r) => r.path === '/items')).toHaveLength(1);
    app.cleanexit.dispose();
  });
});
