import { CSRF_COOKIE, type CookieReader, deleteDocumentCookie, readDocumentCookie } from './cookies.js';

/**
 * A small fetch wrapper with request/response interceptors. The default request interceptors
 * add the in-memory access token (`Authorization: Bearer`) and, on `/auth/*` routes, the
 * double-submit CSRF header the cookie-authenticated endpoints require (docs/api.md).
 * Transport failures become an `ApiError` with a `kind`; HTTP errors are returned, not thrown,
 * so callers decide what a 401 means.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: Json;
  /** `false` to send no access token even when one is held (cookie-only calls). */
  bearer: boolean;
  timeoutMs: number;
}

export interface ApiResponse {
  status: number;
  ok: boolean;
  body: { [key: string]: Json } | null;
  /** The RFC 6750 `error_description` of a `WWW-Authenticate: Bearer` challenge, if any. */
  bearerError: string | null;
  request: ApiRequest;
}

export type ApiErrorKind = 'timeout' | 'network';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export type RequestInterceptor = (request: ApiRequest) => void;
export type ResponseInterceptor = (response: ApiResponse) => void;

export interface ApiClientOptions {
  /** Origin of the API; `''` (same origin) in the browser. */
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  getAccessToken: () => string | null;
  /** The CSRF value when no cookie of this page holds it (an API on another origin). */
  getCsrfToken?: () => string | null;
  /**
   * `fetch` credentials: `same-origin` by default; `include` for an API on another origin of the
   * same site, so the refresh cookie (SameSite=Strict, Path=/auth) travels with `/auth/*` calls.
   */
  credentials?: RequestCredentials;
  readCookie?: CookieReader;
  deleteCookie?: (name: string) => void;
}

export interface RequestOptions {
  body?: Json;
  bearer?: boolean;
  timeoutMs?: number;
}

export interface ApiClient {
  request(method: ApiRequest['method'], path: string, options?: RequestOptions): Promise<ApiResponse>;
  readonly requestInterceptors: RequestInterceptor[];
  readonly responseInterceptors: ResponseInterceptor[];
  /** Whether the script-visible half of a cookie session (the CSRF cookie) is present. */
  hasCookieSession(): boolean;
  /** Deletes the CSRF cookie (the HttpOnly refresh cookie is out of script's reach). */
  forgetCookieSession(): void;
}

export function bearerInterceptor(getAccessToken: () => string | null): RequestInterceptor {
  return (request) => {
    const token = request.bearer ? getAccessToken() : null;
    if (token) request.headers['Authorization'] = `Bearer ${token}`;
  };
}

export function csrfInterceptor(readCookie: CookieReader, fallback: () => string | null = () => null): RequestInterceptor {
  return (request) => {
    if (!request.path.startsWith('/auth/')) return;
    const csrf = readCookie(CSRF_COOKIE) ?? fallback();
    if (csrf) request.headers['X-CSRF-Token'] = csrf;
  };
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const baseUrl = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const readCookie = options.readCookie ?? readDocumentCookie;
  const getCsrf = options.getCsrfToken ?? (() => null);
  const credentials = options.credentials ?? 'same-origin';
  const requestInterceptors = [bearerInterceptor(options.getAccessToken), csrfInterceptor(readCookie, getCsrf)];
  const responseInterceptors: ResponseInterceptor[] = [];

  async function request(
    method: ApiRequest['method'],
    path: string,
    { body, bearer = true, timeoutMs = options.timeoutMs ?? 5000 }: RequestOptions = {},
  ): Promise<ApiResponse> {
    const req: ApiRequest = { method, path, headers: { Accept: 'application/json' }, bearer, timeoutMs };
    if (body !== undefined) {
      req.body = body;
      req.headers['Content-Type'] = 'application/json';
    }
    for (const intercept of requestInterceptors) intercept(req);
    const response = await send(doFetch, baseUrl, req, credentials);
    for (const intercept of responseInterceptors) intercept(response);
    return response;
  }

  return {
    request,
    requestInterceptors,
    responseInterceptors,
    hasCookieSession: () => (readCookie(CSRF_COOKIE) ?? getCsrf()) !== null,
    forgetCookieSession: () => (options.deleteCookie ?? deleteDocumentCookie)(CSRF_COOKIE),
  };
}

/** Sends one request; the timeout covers the body as well as the headers. */
async function send(
  doFetch: typeof fetch,
  baseUrl: string,
  req: ApiRequest,
  credentials: RequestCredentials,
): Promise<ApiResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  try {
    const raw = await doFetch(baseUrl + req.path, {
      method: req.method,
      headers: req.headers,
      body: req.body === undefined ? null : JSON.stringify(req.body),
      // The refresh cookie is scoped to /auth and SameSite=Strict: `same-origin` unless the app
      // configured an API on another origin of its site (then `include`, CORS with credentials).
      credentials,
      cache: 'no-store',
      signal: controller.signal,
    });
    return {
      status: raw.status,
      ok: raw.ok,
      body: await readJson(raw),
      bearerError: parseBearerError(raw.headers.get('WWW-Authenticate')),
      request: req,
    };
  } catch (error) {
    if (timedOut) throw new ApiError('timeout', `${req.method} ${req.path} timed out after ${req.timeoutMs} ms`);
    throw new ApiError('network', `${req.method} ${req.path} failed: ${describe(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

async function readJson(response: Response): Promise<ApiResponse['body']> {
  const text = await response.text();
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as { [key: string]: Json })
      : null;
  } catch {
    return null;
  }
}

/** `Bearer error="invalid_token", error_description="revoked"` -> `"revoked"` (RFC 6750 §3). */
export function parseBearerError(header: string | null): string | null {
  if (!header || !/^\s*Bearer\b/i.test(header)) return null;
  const description = /error_description="([^"]*)"/i.exec(header);
  if (description?.[1] !== undefined) return description[1];
  const code = /error="([^"]*)"/i.exec(header);
  return code?.[1] ?? null;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
