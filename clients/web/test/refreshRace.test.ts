import { afterEach, describe, expect, it } from 'vitest';
import { createPendingLogout, type LogoutReport, restoreSession, signIn } from '../src/lib';
import { ACCESS_TOKEN, type FakeApi, json, makeClient, persisted, type RecordedRequest, startFakeApi, tokenBody } from './helpers';

/**
 * A refresh refused because someone else rotated the cookie first (issue 9, finding 4): the tab
 * adopts what a sibling tab got, or ends the session on the server with its old credentials; it
 * never just forgets a credential that could prove theft.
 */

const servers: FakeApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const revokedBody = { scope: 'current', session_id: 'sid-0123456789', revoked: { sessions: ['sid-0123456789'] } };
const refused = (reason?: string) => ({
  error: 'invalid_grant',
  error_description: 'refresh token was just rotated by a concurrent request',
  ...(reason ? { error_reason: reason } : {}),
});

async function serve(handler: (req: RecordedRequest, res: Parameters<typeof json>[0], n: number) => void) {
  let refreshes = 0;
  const api = await startFakeApi((req, res) => {
    if (req.path === '/auth/login') return json(res, 200, tokenBody());
    const n = req.path === '/auth/refresh' ? ++refreshes : 0;
    handler(req, res, n);
  });
  servers.push(api);
  return api;
}

async function tab(baseUrl: string, options: Parameters<typeof makeClient>[1] = {}) {
  const client = makeClient(baseUrl, { readCookie: () => 'csrf-1', refreshRaceWaitMs: 300, ...options });
  await client.ready;
  await client.store.dispatch(signIn({ username: 'alice', password: 'pw' })).unwrap();
  return client;
}

const logouts = (api: FakeApi) => api.requests.filter((r) => r.path === '/auth/logout');

describe('restoreSession after a refresh refused as a race', () => {
  it('finding4: no sibling tab won: ends the session on the server with bearer, cookie and CSRF, then forgets', async () => {
    const api = await serve((req, res) =>
      req.path === '/auth/refresh' ? json(res, 400, refused('race')) : json(res, 200, revokedBody),
    );
    const client = await tab(api.baseUrl);
    const started = Date.now();
    expect(await client.store.dispatch(restoreSession({ silent: true })).unwrap()).toBe('possible-theft');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290); // it waited for a sibling first
    const [logout] = logouts(api);
    expect(logouts(api)).toHaveLength(1);
    expect(logout?.headers['authorization']).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(logout?.headers['x-csrf-token']).toBe('csrf-1');
    const report = client.reports.mock.calls[0]?.[0] as LogoutReport;
    expect(report).toMatchObject({ reason: 'refresh-raced', server: { outcome: 'revoked' }, pendingRetry: false });
    expect(client.store.getState().auth.status).toBe('signedOut');
    expect(await persisted(client)).toBeNull();
    client.dispose();
  });

  it('finding4: a sibling tab won: adopts its cookie (one more refresh), no logout', async () => {
    let sibling: Awaited<ReturnType<typeof tab>> | null = null;
    const api = await serve((_req, res, n) => {
      if (n === 1) {
        json(res, 400, refused('race')); // this tab lost...
        setTimeout(() => void sibling?.store.dispatch(restoreSession({ silent: true })), 50); // ...to its sibling
      } else json(res, 200, tokenBody(`access-${n}`));
    });
    const client = await tab(api.baseUrl, { refreshRaceWaitMs: 3000 });
    sibling = await tab(api.baseUrl, { channel: { name: client.channelName } });
    expect(await client.store.dispatch(restoreSession({ silent: true })).unwrap()).toBe('restored');
    expect(client.store.getState().auth).toMatchObject({ status: 'signedIn', accessToken: 'access-3' });
    expect(logouts(api)).toEqual([]);
    expect(client.reports).not.toHaveBeenCalled();
    client.dispose();
    sibling.dispose();
  });

  it('finding4: the server cannot be reached for the logout: forgets locally, the cookie stays for the retry', async () => {
    const pending = createPendingLogout(null);
    const api = await serve((req, res) =>
      req.path === '/auth/refresh' ? json(res, 400, refused('race')) : json(res, 503, { error: 'temporarily_unavailable' }),
    );
    const client = await tab(api.baseUrl, { pending });
    expect(await client.store.dispatch(restoreSession({ silent: true })).unwrap()).toBe('possible-theft');
    const report = client.reports.mock.calls[0]?.[0] as LogoutReport;
    expect(report).toMatchObject({ reason: 'refresh-raced', server: { outcome: 'error' }, pendingRetry: true });
    expect(pending.get()).toBe('current'); // the HttpOnly cookie ends it once the server answers
    expect(client.cookiesDeleted).toEqual([]);
    client.dispose();
  });

  it('finding4: reused: the server ended the session; forgets, tells the other tabs, no logout call', async () => {
    const api = await serve((_req, res) => json(res, 400, refused('reused')));
    const client = await tab(api.baseUrl);
    const otherTab = new BroadcastChannel(client.channelName);
    const heard = new Promise((resolve) => (otherTab.onmessage = (event) => resolve(event.data)));
    expect(await client.store.dispatch(restoreSession({ silent: true })).unwrap()).toBe('possible-theft');
    expect(logouts(api)).toEqual([]);
    expect(client.reports.mock.calls[0]?.[0]).toMatchObject({ reason: 'refresh-reused', server: { outcome: 'skipped' } });
    await expect(heard).resolves.toMatchObject({ type: 'cleanexit:logout' });
    expect(client.store.getState().auth.status).toBe('signedOut');
    otherTab.close();
    client.dispose();
  });

  it('finding4: a refusal without error_reason is invalid: forgets, no logout call, no theft claimed', async () => {
    const api = await serve((_req, res) => json(res, 400, refused()));
    const client = await tab(api.baseUrl);
    expect(await client.store.dispatch(restoreSession({ silent: true })).unwrap()).toBe('session-ended');
    expect(logouts(api)).toEqual([]);
    expect(client.reports.mock.calls[0]?.[0]).toMatchObject({ reason: 'session-ended' });
    client.dispose();
  });
});
