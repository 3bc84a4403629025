import { parseBearerError } from './apiClient.js';

/**
 * The app's own HTTP client, made session-aware: a `fetch` wrapper and axios interceptors that
 * (1) add `Authorization: Bearer` to calls to the cleanexit API's origin only — never to a third
 * party; (2) on a 401 `expired`, refresh the access token once and retry the call once — calls
 * that expired together share one refresh (`restoreSession` runs one at a time, and a call whose
 * token was already replaced just retries); (3) on any other 401 `invalid_token` (revoked,
 * session ended, logged out everywhere), start `performLogout`: the session is over.
 */
export interface HttpAuth {
  /** `''` (the page's origin) or the API's origin and path prefix. */
  apiBase: string;
  token(): string | null;
  /** A token to retry with after `used` expired, or `null` when the session could not be renewed. */
  renew(used: string): Promise<string | null>;
  sessionEnded(): void;
}

/** What a refused bearer call says: `expired`, another RFC 6750 description, or `null` (not ours). */
export function bearerRefusal(header: string | null | undefined, body: unknown): string | null {
  const said = parseBearerError(header ?? null);
  if (said) return said;
  // An API on another origin that does not expose WWW-Authenticate: the JSON body says the same.
  if (typeof body === 'object' && body !== null) {
    const { error, error_description: description } = body as Record<string, unknown>;
    if (error === 'invalid_token') return typeof description === 'string' ? description : 'invalid_token';
  }
  return null;
}

/** Whether `url` goes to the cleanexit API (same origin and under its path prefix). */
export function isApiUrl(url: string, apiBase: string): boolean {
  const here = globalThis.location?.href;
  try {
    const base = new URL(apiBase || here || '', here);
    const target = new URL(url, base);
    const prefix = base.pathname.replace(/\/$/, '');
    return target.origin === base.origin && (apiBase === '' || target.pathname === prefix || target.pathname.startsWith(`${prefix}/`));
  } catch {
    return false;
  }
}

/** A `fetch` with the three rules above; requests elsewhere pass through untouched. */
export function createAuthFetch(auth: HttpAuth, baseFetch?: typeof fetch): typeof fetch {
  const send = (request: Request) => (baseFetch ?? globalThis.fetch)(request);
  return async (input, init) => {
    const request = new Request(input, init);
    if (!isApiUrl(request.url, auth.apiBase)) return send(request);
    const used = auth.token();
    // A copy kept for the retry: a request body can be read only once.
    const spare = request.clone();
    const response = await send(withBearer(request, used));
    if (response.status !== 401 || !used) return response;
    const refusal = bearerRefusal(response.headers.get('WWW-Authenticate'), await peekJson(response));
    if (refusal !== 'expired') {
      if (refusal) auth.sessionEnded();
      return response;
    }
    const fresh = await auth.renew(used);
    return fresh ? send(withBearer(spare, fresh)) : response;
  };
}

function withBearer(request: Request, token: string | null): Request {
  if (!token) return request;
  const headers = new Headers(request.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return new Request(request, { headers });
}

async function peekJson(response: Response): Promise<unknown> {
  try {
    return (await response.clone().json()) as unknown;
  } catch {
    return null;
  }
}

/** The part of an axios instance the adapter uses (typed structurally: axios stays optional). */
export interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: any) => any): number; eject(id: number): void };
    response: { use(onFulfilled: null | undefined, onRejected: (error: any) => any): number; eject(id: number): void };
  };
  request(config: any): Promise<any>;
}

interface Marked {
  /** The token this call was sent with, and whether it is already a retry. */
  cleanexit?: { token: string | null; retried: boolean };
  url?: string;
  baseURL?: string;
  headers?: { set?: (name: string, value: string) => unknown } & Record<string, unknown>;
}

/** Installs request and response interceptors on `instance`; returns a function removing them. */
export function attachAxios(instance: AxiosLike, auth: HttpAuth): () => void {
  const onRequest = instance.interceptors.request.use((config: Marked) => {
    if (!isApiUrl(axiosUrl(config), auth.apiBase)) return config;
    const token = auth.token();
    if (token) setHeader(config, 'Authorization', `Bearer ${token}`);
    config.cleanexit = { token, retried: config.cleanexit?.retried ?? false };
    return config;
  });
  const onResponse = instance.interceptors.response.use(undefined, async (error: unknown) => {
    const { config, response } = (error ?? {}) as { config?: Marked; response?: { status?: number; headers?: unknown; data?: unknown } };
    const used = config?.cleanexit?.token;
    if (!config || !used || response?.status !== 401) throw error;
    const refusal = bearerRefusal(header(response.headers, 'www-authenticate'), response.data);
    if (refusal !== 'expired') {
      if (refusal) auth.sessionEnded();
      throw error;
    }
    if (config.cleanexit?.retried) throw error;
    const fresh = await auth.renew(used);
    if (!fresh) throw error;
    config.cleanexit = { token: fresh, retried: true };
    return instance.request(config);
  });
  return () => {
    instance.interceptors.request.eject(onRequest);
    instance.interceptors.response.eject(onResponse);
  };
}

function axiosUrl(config: Marked): string {
  const url = config.url ?? '';
  if (/^[a-z][a-z\d+\-.]*:\/\//i.test(url) || !config.baseURL) return url;
  return `${config.baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
}

function setHeader(config: Marked, name: string, value: string): void {
  if (config.headers && typeof config.headers.set === 'function') config.headers.set(name, value);
  else config.headers = { ...config.headers, [name]: value };
}

function header(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  const getter = (headers as { get?: unknown }).get;
  const value = typeof getter === 'function' ? getter.call(headers, name) : (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}
