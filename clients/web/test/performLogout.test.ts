import { afterEach, describe, expect, it } from 'vitest';
import { initialAuthState, type LogoutReport, performLogout, PERSIST_KEY, signIn } from '../src/lib';
import { ACCESS_TOKEN, apiHandler, type FakeApi, json, makeClient, persisted, startFakeApi } from './helpers';

const revokedBody = {
  scope: 'current',
  session_id: 'sid-0123456789',
  revoked: { sessions: ['sid-0123456789'], access_token: true, refresh_tokens: 1, user_cutoff: null },
};

const servers: FakeApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(logout: Parameters<typeof apiHandler>[0]) {
  const api = await startFakeApi(apiHandler(logout));
  servers.push(api);
  return api;
}

async function signedInClient(baseUrl: string) {
  const client = makeClient(baseUrl);
  await client.ready;
  const result = await client.store.dispatch(signIn({ username: 'alice', password: 'pw' })).unwrap();
  expect(result).toEqual({ ok: true });
  const stored = await persisted(client);
  expect(stored).not.toBeNull();
  expect(stored).not.toContain('alice'); // encrypted at rest
  expect(stored).not.toContain('sid-0123456789');
  return client;
}

/** The invariant every case shares: state initial, persisted data gone, then navigation. */
async function expectForgotten(client: ReturnType<typeof makeClient>) {
  const { _persist, ...auth } = client.store.getState().auth as typeof initialAuthState & { _persist?: unknown };
  void _persist;
  expect(auth).toEqual(initialAuthState);
  expect(await persisted(client)).toBeNull();
  expect(client.backing.keys()).toEqual([]);
  expect(client.navigate).toHaveBeenCalledExactlyOnceWith('/');
  // Navigation happened after the purge, never before it.
  expect(client.events).toEqual(['navigate / (persisted: false)']);
}

describe('performLogout', () => {
  it('200: revokes on the server, sending the access token, then forgets everything', async () => {
    const api = await serve((_req, res) => json(res, 200, revokedBody));
    const client = await signedInClient(api.baseUrl);
    const otherTab = new BroadcastChannel(client.channelName);
    const heard = new Promise((resolve) => (otherTab.onmessage = (event) => resolve(event.data)));

    const report = await client.store.dispatch(performLogout()).unwrap();

    const logoutRequest = api.requests.find((r) => r.path === '/auth/logout');
    expect(logoutRequest?.headers['authorization']).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(logoutRequest?.body).toEqual({ scope: 'current' });
    expect(report.server).toMatchObject({ outcome: 'revoked', status: 200, revoked: revokedBody.revoked });
    expect(report.pendingRetry).toBe(false);
    expect(report.cleanup).toMatchObject({ stateReset: true, purged: true, keyForgotten: true, announced: true, navigated: true, errors: [] });
    await expectForgotten(client);
    expect(client.cookiesDeleted).toEqual(['cleanexit_csrf']); // the server has spoken
    await expect(heard).resolves.toMatchObject({ type: 'cleanexit:logout', scope: 'current' });
    otherTab.close();
    client.dispose();
  });

  it('401 with another description: the server recognised nothing; rejected, still forgets everything', async () => {
    const api = await serve((_req, res) =>
      json(res, 401, { error: 'invalid_token', error_description: 'no valid access or refresh token' }, {
        'WWW-Authenticate': 'Bearer error="invalid_token", error_description="no valid access or refresh token"',
      }),
    );
    const client = await signedInClient(api.baseUrl);
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.server).toMatchObject({
      outcome: 'rejected',
      status: 401,
      detail: 'invalid_token: no valid access or refresh token',
    });
    expect(report.pendingRetry).toBe(false);
    await expectForgotten(client);
    client.dispose();
  });

  it('500: reported as an error and queued for retry, still forgets everything', async () => {
    const api = await serve((_req, res) => json(res, 500, { error: 'server_error', error_description: 'boom' }));
    const client = await signedInClient(api.baseUrl);
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.server).toMatchObject({ outcome: 'error', status: 500, detail: 'server_error: boom' });
    expect(report.pendingRetry).toBe(true);
    await expectForgotten(client);
    expect(client.cookiesDeleted).toEqual([]); // kept: it is needed to finish the logout later
    client.dispose();
  });

  it('timeout: gives up after logoutTimeoutMs, still forgets everything', async () => {
    const api = await serve(() => undefined); // never answers
    const client = await signedInClient(api.baseUrl);
    const started = Date.now();
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(report.server.outcome).toBe('timeout');
    expect(report.server.detail).toContain('timed out after 300 ms');
    expect(report.pendingRetry).toBe(true);
    await expectForgotten(client);
    client.dispose();
  });

  it('unreachable: connection refused, still forgets everything', async () => {
    const api = await serve(() => undefined);
    const client = await signedInClient(api.baseUrl);
    await api.close(); // the server goes away after sign-in: nothing listens on its port now
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.server.outcome).toBe('unreachable');
    expect(report.pendingRetry).toBe(true);
    await expectForgotten(client);
    client.dispose();
  });
});

describe('performLogout tells the truth about the server (issue 9, finding 1)', () => {
  const ended = (status: number, description: string) => (_req: unknown, res: Parameters<typeof json>[0]) =>
    json(res, status, { error: 'invalid_token', error_description: description }, {
      'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"`,
    });

  async function cookieClient(baseUrl: string, events: string[] = []) {
    const client = makeClient(baseUrl, {
      readCookie: () => 'csrf-1',
      deleteCookie: (name: string) => void events.push(`forget ${name}`),
    });
    await client.ready;
    await client.store.dispatch(signIn({ username: 'alice', password: 'pw' })).unwrap();
    return client;
  }

  it('finding1: bearer, refresh cookie and CSRF header go in ONE request, even with an expired access token', async () => {
    const api = await serve(ended(401, 'no valid access or refresh token'));
    const client = await cookieClient(api.baseUrl);
    const { tokenRefreshed } = await import('../src/lib/authSlice');
    // A break: the access token this tab holds expired long ago.
    client.store.dispatch(tokenRefreshed({ accessToken: ACCESS_TOKEN, sessionId: 'sid-0123456789', expiresIn: 600, receivedAt: 0 }));
    const report = await client.store.dispatch(performLogout()).unwrap();
    const logouts = api.requests.filter((r) => r.path === '/auth/logout');
    expect(logouts).toHaveLength(1); // no second, cookie-only attempt
    expect(logouts[0]?.headers['authorization']).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(logouts[0]?.headers['x-csrf-token']).toBe('csrf-1');
    expect(report.server.outcome).toBe('rejected'); // never "already ended": nothing was
    await expectForgotten(client);
    client.dispose();
  });

  it('finding1: 401 "revoked: session ended" is reported as already ended', async () => {
    const api = await serve(ended(401, 'revoked: session ended'));
    const events: string[] = [];
    const client = await cookieClient(api.baseUrl, events);
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.server).toMatchObject({ outcome: 'already-ended', status: 401, detail: 'revoked: session ended' });
    expect(report.pendingRetry).toBe(false);
    expect(events).toEqual(['forget cleanexit_csrf']); // the server has spoken: the twin goes
    await expectForgotten(client);
    client.dispose();
  });

  it('finding1: a 401 for a revoked access token alone is not "already ended"', async () => {
    const api = await serve(ended(401, 'revoked'));
    const client = await cookieClient(api.baseUrl);
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.server.outcome).toBe('rejected');
    client.dispose();
  });

  it('finding1: cookies are not forgotten locally before the server has answered', async () => {
    const events: string[] = [];
    const api = await serve((_req, res) => {
      events.push('server answers');
      json(res, 200, revokedBody);
    });
    const client = await cookieClient(api.baseUrl, events);
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.server.outcome).toBe('revoked');
    expect(events).toEqual(['server answers', 'forget cleanexit_csrf']);
    client.dispose();
  });
});

describe('performLogout leaves nothing a later load could restore', () => {
  it('a write queued just before logout does not land after the purge', async () => {
    const api = await serve((_req, res) => json(res, 200, revokedBody));
    const client = await signedInClient(api.baseUrl);
    const { tokenRefreshed } = await import('../src/lib/authSlice');
    // A state change whose (asynchronous, encrypted) write is still pending when logout starts.
    client.store.dispatch(tokenRefreshed({ accessToken: 'x.y.z', sessionId: 'sid-new', expiresIn: 600, receivedAt: 0 }));
    await client.store.dispatch(performLogout());
    await new Promise((resolve) => setTimeout(resolve, 50)); // let any straggling timer fire
    await expectForgotten(client);
    client.dispose();
  });

  it('a new page load on the same storage starts signed out', async () => {
    const api = await serve((_req, res) => json(res, 200, revokedBody));
    const client = await signedInClient(api.baseUrl);
    await client.store.dispatch(performLogout());
    client.dispose();

    const { createCleanexitClient, createIndexedDbKeyStore, createPendingLogout } = await import('../src/lib');
    const reloaded = createCleanexitClient({
      baseUrl: api.baseUrl,
      backing: client.backing,
      keyStore: createIndexedDbKeyStore(client.idb),
      pending: createPendingLogout(null),
      readCookie: () => null,
      locks: null,
      navigate: () => undefined,
    });
    await reloaded.ready;
    expect(reloaded.store.getState().auth.sessionId).toBeNull();
    expect(reloaded.store.getState().auth.status).toBe('signedOut');
    reloaded.dispose();
  });

  it('a copy of the persisted state taken before logout cannot be read after it', async () => {
    const api = await serve((_req, res) => json(res, 200, revokedBody));
    const client = await signedInClient(api.baseUrl);
    const stolenCopy = await persisted(client);
    await client.store.dispatch(performLogout());
    // Put the copy back, as an attacker with the disk (but not the key) might: the key it was
    // sealed with was forgotten at logout, so it decrypts to nothing and is dropped.
    client.backing.setItem(`persist:${PERSIST_KEY}`, stolenCopy ?? '');
    expect(await client.storage.getItem(`persist:${PERSIST_KEY}`)).toBeNull();
    expect(client.backing.keys()).toEqual([]);
    client.dispose();
  });

  it('never rejects, even when every local step fails', async () => {
    const api = await serve((_req, res) => json(res, 200, revokedBody));
    const boom = () => {
      throw new Error('boom');
    };
    const broken = makeClient(api.baseUrl, { navigate: boom, onLogoutReport: boom });
    await broken.ready;
    await broken.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    const result = await broken.store.dispatch(performLogout());
    expect(result.meta.requestStatus).toBe('fulfilled');
    expect(broken.store.getState().auth.status).toBe('signedOut');
    const report = result.payload as LogoutReport | undefined;
    expect(report).toMatchObject({ cleanup: { navigated: false, stateReset: true, purged: true } });
    expect(report?.cleanup.errors).toEqual(['navigate: boom']);
    broken.dispose();
  });

  it('a local step that hangs does not hold back the ones after it', async () => {
    const api = await serve((_req, res) => json(res, 200, revokedBody));
    const hanging = makeClient(api.baseUrl);
    const keyStore = { getKey: () => hanging.keyStore.getKey(), forgetKey: () => new Promise<void>(() => undefined) };
    const client = makeClient(api.baseUrl, { keyStore, stepTimeoutMs: 100 });
    await client.ready;
    await client.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    const report = await client.store.dispatch(performLogout()).unwrap();
    expect(report.cleanup).toMatchObject({ keyForgotten: false, announced: true, navigated: true });
    expect(report.cleanup.errors).toEqual(['forget key: no answer after 100 ms']);
    expect(client.navigate).toHaveBeenCalledWith('/');
    hanging.dispose();
    client.dispose();
  });

  it('a second logout while one runs joins it: one request, same report, never rejected', async () => {
    const api = await serve((_req, res) => setTimeout(() => json(res, 200, revokedBody), 50));
    const client = await signedInClient(api.baseUrl);
    const [first, second] = await Promise.all([
      client.store.dispatch(performLogout()),
      client.store.dispatch(performLogout({ reason: 'session-ended' })),
    ]);
    expect(first.meta.requestStatus).toBe('fulfilled');
    expect(second.meta.requestStatus).toBe('fulfilled');
    expect(second.payload).toBe(first.payload);
    expect(client.navigate).toHaveBeenCalledOnce();
    expect(api.requests.filter((r) => r.path === '/auth/logout')).toHaveLength(1);
    client.dispose();
  });
});
