import { createAsyncThunk } from '@reduxjs/toolkit';
import { ApiError, type ApiResponse, describe, type Json } from './apiClient';
import { logout } from './authSlice';
import type { LogoutScope } from './crossTab';
import type { AuthDispatch, CleanexitExtra, ThunkConfig } from './types';

/** What the server did with the logout request. Never contains token text. */
export interface ServerReport {
  /**
   * `revoked`: 2xx, the server ended the session. `rejected`: 400/401/403, it accepted no
   * credential (already revoked or expired: nothing left to end). `error`: any other status
   * (5xx, 503 fail-closed). `timeout` / `unreachable`: no answer. `skipped`: not asked.
   */
  outcome: 'revoked' | 'rejected' | 'error' | 'timeout' | 'unreachable' | 'skipped';
  status: number | null;
  detail: string | null;
  revoked: Json | null;
}

export interface CleanupReport {
  stateReset: boolean;
  purged: boolean;
  keyForgotten: boolean;
  announced: boolean;
  navigated: boolean;
  errors: string[];
}

export type LogoutReason = 'user' | 'other-tab' | 'session-ended';

export interface LogoutReport {
  scope: LogoutScope;
  reason: LogoutReason;
  server: ServerReport;
  cleanup: CleanupReport;
  /** The server was not reached: the cookie session is ended on the next start-up or sign-in. */
  pendingRetry: boolean;
}

export interface LogoutOptions {
  scope?: LogoutScope;
  reason?: LogoutReason;
}

export const LOGIN_PATH = '/';

/**
 * Full logout. (1) `POST /auth/logout` through the API client, whose interceptors add the access
 * token and the CSRF header; every failure is caught and reported, never thrown. Then, whatever
 * happened: (2) `logout` resets the slice, (3) persisted state is flushed, purged and its key
 * forgotten, (4) other tabs are told, (5) navigation to `/`. The thunk never rejects.
 *
 * The redirect lives here rather than in a component: it must come after the purge has finished
 * (a component reacting to `status === 'signedOut'` would leave while the purge is still running,
 * and a reload at that moment could read the old state back), it must happen in tabs whose
 * signed-in view is not mounted, and it has to be testable without a DOM. It is injected
 * (`extra.navigate`), so any router fits.
 */
export const performLogout = createAsyncThunk<LogoutReport, LogoutOptions | undefined, ThunkConfig>(
  'auth/performLogout',
  (options, { dispatch, extra }) => {
    // A burst of 401s (or a double click) joins the logout already running: one server call,
    // one cleanup, and every caller gets the same report.
    extra.logoutInFlight ??= runLogout(dispatch, extra, options).finally(() => {
      extra.logoutInFlight = null;
    });
    return extra.logoutInFlight;
  },
);

async function runLogout(
  dispatch: AuthDispatch,
  extra: CleanexitExtra,
  options: LogoutOptions | undefined,
): Promise<LogoutReport> {
  const scope = options?.scope ?? 'current';
  const server = await revokeOnServer(extra, scope);
  const pendingRetry = !reachedServer(server);
  if (pendingRetry) safely(() => extra.pending.mark(scope));
  else safely(() => extra.pending.clear());
  // The server has spoken: the refresh cookie is revoked (or was dead already). Its
  // script-visible CSRF twin goes too, whether or not the server's response cleared both.
  if (server.outcome === 'revoked' || server.status === 400 || server.status === 401) {
    safely(() => extra.api.forgetCookieSession());
  }
  const cleanup = await forgetLocally(dispatch, extra, { announce: scope });
  const report: LogoutReport = { scope, reason: options?.reason ?? 'user', server, cleanup, pendingRetry };
  safely(() => extra.onLogoutReport(report));
  return report;
}

/**
 * The client half alone, for a session that ended elsewhere: another tab logged out (its
 * message arrives here), or the server refused our refresh cookie.
 */
export const forgetSession = createAsyncThunk<
  LogoutReport,
  { reason: LogoutReason; scope?: LogoutScope },
  ThunkConfig
>('auth/forgetSession', async ({ reason, scope = 'current' }, { dispatch, extra }) => {
  const cleanup = await forgetLocally(dispatch, extra, { announce: null });
  const server: ServerReport = { outcome: 'skipped', status: null, detail: null, revoked: null };
  const report: LogoutReport = { scope, reason, server, cleanup, pendingRetry: false };
  safely(() => extra.onLogoutReport(report));
  return report;
});

export type PendingOutcome = 'none' | 'revoked' | 'rejected' | 'nothing-to-revoke' | 'failed';

/** Ends the server session a failed logout left behind, using the refresh cookie alone. */
export const finishPendingLogout = createAsyncThunk<PendingOutcome, void, ThunkConfig>(
  'auth/finishPendingLogout',
  async (_arg, { extra }) => {
    const scope = extra.pending.get();
    if (!scope) return 'none';
    if (!extra.api.hasCookieSession()) {
      extra.pending.clear();
      return 'nothing-to-revoke';
    }
    const server = await askServer(extra, scope, false);
    if (!reachedServer(server)) return 'failed';
    extra.pending.clear();
    safely(() => extra.api.forgetCookieSession());
    return server.outcome === 'revoked' ? 'revoked' : 'rejected';
  },
);

async function revokeOnServer(extra: CleanexitExtra, scope: LogoutScope): Promise<ServerReport> {
  const first = await askServer(extra, scope, true);
  // An expired access token does not mean the session is over: its refresh cookie may still be
  // live. Ask again with the cookie (+ CSRF header) alone before calling it done.
  if (first.outcome === 'rejected' && first.status === 401 && extra.api.hasCookieSession()) {
    const second = await askServer(extra, scope, false);
    if (second.outcome !== 'rejected') return second;
  }
  return first;
}

async function askServer(extra: CleanexitExtra, scope: LogoutScope, bearer: boolean): Promise<ServerReport> {
  try {
    const response = await extra.api.request('POST', '/auth/logout', {
      body: { scope },
      bearer,
      timeoutMs: extra.logoutTimeoutMs,
    });
    return fromResponse(response);
  } catch (error) {
    const outcome = error instanceof ApiError && error.kind === 'timeout' ? 'timeout' : 'unreachable';
    return { outcome, status: null, detail: describe(error), revoked: null };
  }
}

function fromResponse(response: ApiResponse): ServerReport {
  const { status, body } = response;
  const detail = typeof body?.['error'] === 'string' ? body['error'] : response.bearerError;
  if (response.ok) return { outcome: 'revoked', status, detail: null, revoked: body?.['revoked'] ?? null };
  const outcome = status === 400 || status === 401 || status === 403 ? 'rejected' : 'error';
  return { outcome, status, detail, revoked: null };
}

function reachedServer(server: ServerReport): boolean {
  return server.outcome === 'revoked' || server.outcome === 'rejected' || server.outcome === 'skipped';
}

/** Steps 2-5. Each runs even if the one before it failed; failures are collected, not thrown. */
async function forgetLocally(
  dispatch: AuthDispatch,
  extra: CleanexitExtra,
  { announce }: { announce: LogoutScope | null },
): Promise<CleanupReport> {
  const errors: string[] = [];
  const step = async (name: string, run: () => unknown): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A step that hangs (IndexedDB blocked while Clear-Site-Data wipes it, say) must not hold
    // back the steps after it: each gets a deadline, and missing it is reported as a failure.
    const deadline = new Promise<never>((_, reject) => {
      const ms = extra.stepTimeoutMs;
      timer = setTimeout(() => reject(new Error(`no answer after ${ms} ms`)), ms);
    });
    try {
      await Promise.race([Promise.resolve().then(run), deadline]);
      return true;
    } catch (error) {
      errors.push(`${name}: ${describe(error)}`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
  const stateReset = await step('reset', () => dispatch(logout()));
  // Flush first: a write of the old state still queued or in flight must land *before* the
  // purge, or it would put the old state back after it. The purge also makes redux-persist
  // ignore any later REHYDRATE, so nothing read earlier can come back.
  const purged = await step('purge', async () => {
    await extra.persistor.flush();
    await extra.persistor.purge();
    await extra.persistor.flush();
  });
  // Crypto-shredding: a stale copy written by a tab that has not heard the news yet is
  // undecryptable, because the key it was sealed with is gone.
  const keyForgotten = await step('forget key', () => extra.keyStore.forgetKey());
  const announced = announce ? await step('announce', () => extra.channel.announce(announce)) : false;
  const navigated = await step('navigate', () => extra.navigate(LOGIN_PATH));
  return { stateReset, purged, keyForgotten, announced, navigated, errors };
}

function safely(run: () => void): void {
  try {
    run();
  } catch {
    /* reporting must never break the logout */
  }
}
