import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, createApiClient, parseBearerError } from '../src/lib';
import { type FakeApi, json, startFakeApi, unreachableBaseUrl } from './helpers';

const servers: FakeApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function echo() {
  const api = await startFakeApi((_req, res) => json(res, 200, { ok: true }));
  servers.push(api);
  return api;
}

describe('API client interceptors', () => {
  it('adds the in-memory access token, and the CSRF header on /auth routes only', async () => {
    const api = await echo();
    const client = createApiClient({ baseUrl: api.baseUrl, getAccessToken: () => 'tok', readCookie: () => 'csrf-1' });
    await client.request('GET', '/me');
    await client.request('POST', '/auth/logout', { body: { scope: 'current' } });
    const [me, logout] = api.requests;
    expect(me?.headers['authorization']).toBe('Bearer tok');
    expect(me?.headers['x-csrf-token']).toBeUndefined();
    expect(logout?.headers['authorization']).toBe('Bearer tok');
    expect(logout?.headers['x-csrf-token']).toBe('csrf-1');
    expect(logout?.headers['content-type']).toBe('application/json');
  });

  it('sends no Authorization header when asked not to, or when no token is held', async () => {
    const api = await echo();
    let token: string | null = 'tok';
    const client = createApiClient({ baseUrl: api.baseUrl, getAccessToken: () => token, readCookie: () => null });
    await client.request('POST', '/auth/refresh', { bearer: false });
    token = null;
    await client.request('GET', '/me');
    expect(api.requests.map((r) => r.headers['authorization'])).toEqual([undefined, undefined]);
    expect(client.hasCookieSession()).toBe(false);
  });

  it('returns HTTP errors with the RFC 6750 description instead of throwing', async () => {
    const api = await startFakeApi((_req, res) =>
      json(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="session ended"' }),
    );
    servers.push(api);
    const client = createApiClient({ baseUrl: api.baseUrl, getAccessToken: () => 'tok' });
    const seen: number[] = [];
    client.responseInterceptors.push((response) => seen.push(response.status));
    const response = await client.request('GET', '/me');
    expect(response).toMatchObject({ status: 401, ok: false, bearerError: 'session ended', body: { error: 'invalid_token' } });
    expect(seen).toEqual([401]);
  });

  it('turns a hung request into ApiError(timeout) and a refused one into ApiError(network)', async () => {
    const hung = await startFakeApi(() => undefined);
    servers.push(hung);
    const slow = createApiClient({ baseUrl: hung.baseUrl, getAccessToken: () => null, timeoutMs: 100 });
    await expect(slow.request('GET', '/me')).rejects.toMatchObject({ name: 'ApiError', kind: 'timeout' });
    const dead = createApiClient({ baseUrl: await unreachableBaseUrl(), getAccessToken: () => null });
    const error: unknown = await dead.request('GET', '/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: 'network' });
  });

  it('parses bearer challenges', () => {
    expect(parseBearerError('Bearer error="invalid_token", error_description="revoked"')).toBe('revoked');
    expect(parseBearerError('Bearer error="invalid_token"')).toBe('invalid_token');
    expect(parseBearerError('Bearer realm="cleanexit"')).toBeNull();
    expect(parseBearerError('Basic realm="x"')).toBeNull();
    expect(parseBearerError(null)).toBeNull();
  });
});
