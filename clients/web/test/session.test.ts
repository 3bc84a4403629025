import { afterEach, describe, expect, it } from 'vitest';
import { createPendingLogout, finishPendingLogout, restoreSession, signIn } from '../src/lib';
import { ACCESS_TOKEN, type FakeApi, json, makeClient, persisted, SESSION_ID, startFakeApi, tokenBody } from './helpers';

const servers: FakeApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(handler: Parameters<typeof startFakeApi>[0]) {
  const api = await startFakeApi(handler);
  servers.push(api);
  return api;
}

describe('signIn', () => {
  it('asks for the refresh token in a cookie and keeps the access token in memory only', async () => {
    const api = await serve((_req, res) => json(res, 200, tokenBody()));
    const client = makeClient(api.baseUrl);
    await client.ready;
    await client.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    expect(api.requests[0]).toMatchObject({
      path: '/auth/login',
      body: { username: 'alice', password: 'pw', refresh_in_cookie: true },
    });
    expect(api.requests[0]?.headers['authorization']).toBeUndefined();
    expect(client.store.getState().auth).toMatchObject({ status: 'signedIn', user: 'alice', accessToken: ACCESS_TOKEN });
    await persisted(client);
    const stored = await client.storage.getItem('persist:cleanexit.auth');
    expect(stored).toContain(SESSION_ID);
    expect(stored).not.toContain(ACCESS_TOKEN);
    client.dispose();
  });

  it('reports wrong credentials without signing in', async () => {
    const api = await serve((_req, res) =>
      json(res, 401, { error: 'invalid_credentials', error_description: 'wrong username or password' }),
    );
    const client = makeClient(api.baseUrl);
    const result = await client.store.dispatch(signIn({ username: 'alice', password: 'nope' })).unwrap();
    expect(result).toEqual({ ok: false, error: 'wrong username or password' });
    expect(client.store.getState().auth).toMatchObject({ status: 'signedOut', accessToken: null });
    client.dispose();
  });

  it('first ends a session a failed logout left behind, with the cookie alone', async () => {
    const api = await serve((req, res) => json(res, 200, req.path === '/auth/logout' ? { revoked: {} } : tokenBody()));
    const pending = createPendingLogout(null);
    pending.mark('all');
    const client = makeClient(api.baseUrl, { pending, readCookie: () => 'csrf-old' });
    await client.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    expect(api.requests.map((r) => r.path)).toEqual(['/auth/logout', '/auth/login']);
    expect(api.requests[0]?.body).toEqual({ scope: 'all' });
    expect(api.requests[0]?.headers['x-csrf-token']).toBe('csrf-old');
    expect(api.requests[0]?.headers['authorization']).toBeUndefined();
    expect(pending.get()).toBeNull();
    client.dispose();
  });
});

describe('restoreSession (reload)', () => {
  async function reloadedClient(answer: Parameters<typeof startFakeApi>[0]) {
    const api = await serve(answer);
    const client = makeClient(api.baseUrl);
    await client.ready;
    // The state a reload rehydrates: profile and session id, no access token.
    const { signedIn } = await import('../src/lib/authSlice');
    client.store.dispatch(signedIn({ user: 'alice', sessionId: SESSION_ID, accessToken: 'old', expiresIn: 1, receivedAt: 0 }));
    await persisted(client);
    return { api, client };
  }

  it('200: trades the refresh cookie (+ CSRF header) for a new access token', async () => {
    const { api, client } = await reloadedClient((_req, res) => json(res, 200, tokenBody('new.access.token')));
    expect(await client.store.dispatch(restoreSession()).unwrap()).toBe('restored');
    expect(api.requests[0]).toMatchObject({ method: 'POST', path: '/auth/refresh' });
    expect(client.store.getState().auth).toMatchObject({ status: 'signedIn', accessToken: 'new.access.token' });
    client.dispose();
  });

  it('400 invalid_grant: the server holds no session, so the client forgets it', async () => {
    const { client } = await reloadedClient((_req, res) => json(res, 400, { error: 'invalid_grant' }));
    expect(await client.store.dispatch(restoreSession()).unwrap()).toBe('session-ended');
    expect(client.store.getState().auth.sessionId).toBeNull();
    expect(await persisted(client)).toBeNull();
    expect(client.navigate).toHaveBeenCalledWith('/');
    client.dispose();
  });

  it('unreachable or 5xx: keeps the session and says so', async () => {
    const { client } = await reloadedClient((_req, res) => json(res, 503, { error: 'temporarily_unavailable' }));
    expect(await client.store.dispatch(restoreSession()).unwrap()).toBe('stalled');
    expect(client.store.getState().auth).toMatchObject({ status: 'restoring', sessionId: SESSION_ID });
    expect(client.store.getState().auth.error).toContain('HTTP 503');
    client.dispose();
  });

  it('does nothing when no session was persisted', async () => {
    const api = await serve((_req, res) => json(res, 200, tokenBody()));
    const client = makeClient(api.baseUrl);
    await client.ready;
    expect(await client.store.dispatch(restoreSession()).unwrap()).toBe('nothing-to-restore');
    expect(api.requests).toEqual([]);
    client.dispose();
  });
});

describe('the API client watches for a session that ended elsewhere', () => {
  it('a revoked-session 401 on an ordinary call runs the full logout', async () => {
    const api = await serve((req, res) => {
      if (req.path === '/auth/login') return json(res, 200, tokenBody());
      if (req.path === '/auth/logout') return json(res, 401, { error: 'invalid_token' });
      json(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="logged out everywhere"' });
    });
    const client = makeClient(api.baseUrl);
    await client.ready;
    await client.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    await client.api.request('GET', '/auth/sessions');
    await expect.poll(() => client.reports.mock.calls.length).toBe(1);
    expect(client.reports.mock.calls[0]?.[0]).toMatchObject({ reason: 'session-ended', server: { outcome: 'rejected' } });
    expect(client.store.getState().auth.status).toBe('signedOut');
    expect(client.navigate).toHaveBeenCalledWith('/');
    client.dispose();
  });

  it('an expired access token triggers a silent refresh instead', async () => {
    const api = await serve((req, res) => {
      if (req.path === '/auth/login') return json(res, 200, tokenBody('first'));
      if (req.path === '/auth/refresh') return json(res, 200, tokenBody('second'));
      json(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="expired"' });
    });
    const client = makeClient(api.baseUrl);
    await client.ready;
    await client.store.dispatch(signIn({ username: 'alice', password: 'pw' }));
    await client.api.request('GET', '/me');
    await expect.poll(() => client.store.getState().auth.accessToken).toBe('second');
    expect(client.reports).not.toHaveBeenCalled();
    client.dispose();
  });
});

describe('finishPendingLogout', () => {
  it('keeps the marker while the server is down, clears it once the server answers', async () => {
    let up = false;
    const api = await serve((_req, res) => (up ? json(res, 200, { revoked: {} }) : json(res, 503, { error: 'temporarily_unavailable' })));
    const pending = createPendingLogout(null);
    pending.mark('current');
    const client = makeClient(api.baseUrl, { pending, readCookie: () => 'csrf' });
    expect(await client.store.dispatch(finishPendingLogout()).unwrap()).toBe('failed');
    expect(pending.get()).toBe('current');
    up = true;
    expect(await client.store.dispatch(finishPendingLogout()).unwrap()).toBe('revoked');
    expect(pending.get()).toBeNull();
    expect(await client.store.dispatch(finishPendingLogout()).unwrap()).toBe('none');
    client.dispose();
  });

  it('without a cookie session there is nothing left to revoke', async () => {
    const api = await serve((_req, res) => json(res, 200, {}));
    const pending = createPendingLogout(null);
    pending.mark('current');
    const client = makeClient(api.baseUrl, { pending });
    expect(await client.store.dispatch(finishPendingLogout()).unwrap()).toBe('nothing-to-revoke');
    expect(api.requests).toEqual([]);
    client.dispose();
  });
});
