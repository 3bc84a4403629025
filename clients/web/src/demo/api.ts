import type { ApiClient } from '../lib';

export interface Me {
  sub: string;
  session_id: string;
  iat: number;
  exp: number;
}

export interface Device {
  session_id: string;
  created_at: number;
  last_seen: number;
  expires_at: number;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export type Loaded<T> = { ok: true; value: T } | { ok: false; error: string };

/** Thin typed calls for the demo page; the API client's interceptors do the auth. */
export function demoApi(api: ApiClient) {
  return {
    me: () => get<Me>(api, '/me', (body) => body as unknown as Me),
    sessions: () =>
      get<Device[]>(api, '/auth/sessions', (body) => (Array.isArray(body['sessions']) ? (body['sessions'] as unknown as Device[]) : [])),
    async revoke(sessionId: string): Promise<Loaded<null>> {
      return call(api, 'DELETE', `/auth/sessions/${encodeURIComponent(sessionId)}`, () => null);
    },
  };
}

function get<T>(api: ApiClient, path: string, pick: (body: Record<string, unknown>) => T): Promise<Loaded<T>> {
  return call(api, 'GET', path, pick);
}

async function call<T>(
  api: ApiClient,
  method: 'GET' | 'DELETE',
  path: string,
  pick: (body: Record<string, unknown>) => T,
): Promise<Loaded<T>> {
  try {
    const response = await api.request(method, path);
    if (response.ok) return { ok: true, value: pick(response.body ?? {}) };
    const description = response.body?.['error_description'] ?? response.bearerError ?? `HTTP ${response.status}`;
    return { ok: false, error: `${response.status}: ${String(description)}` };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
