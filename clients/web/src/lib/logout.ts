import { createAsyncThunk } from '@reduxjs/toolkit';
import { ApiError, type ApiResponse, describe, type Json } from './apiClient.js';
import { logout } from './authSlice.js';
import type { LogoutScope } from './crossTab.js';
import { type AuthDispatch, type CleanexitExtra, type ThunkConfig, withExtra } from './types.js';

/** What the server did with the logout request. Never contains token text. */
export interface ServerReport {
  /**
   * `revoked`: 2xx, the server ended the session now (the only case to say so).
   * `already-ended`: 401 `revoked: session ended`: the credentials were authentic, the session
   * was over already (another tab, an admin, a logout everywhere). `rejected`: any other
   * 400/401/403: the server recognised nothing, so nothing was confirmed revoked. `error`: any
   * other status (5xx, 503 fail-closed). `timeout` / `unreachable`: no answer. `skipped`: not
   * asked.
   */
  outcome: 'revoked' | 'already-ended' | 'rejected' | 'error' | 'timeout' | 'unreachable' | 'skipped';
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

/**
 * `refresh-raced`: a refresh lost a race to a party that is not one of this browser's tabs, so
 * the session was ended on the server with this browser's credentials (possible theft).
 * `refresh-reused`: the server saw the refresh token presented twice and ended the session.
 */
export type LogoutReason = 'user' | 'other-tab' | 'session-ended' | 'refresh-raced' | 'refresh-reused';

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

/** The default `redirectTo` of `createCleanexit` (the seed's "back to /"). */
export const LOGIN_PATH = '/';

/**
 * Full logout. (1) One `POST /auth/logout` carrying every credential this browser holds: the
 * access token (even expired: an authentic one still names the session), the refresh cookie and
 * the CSRF header the interceptors add; every failure is caught and reported, never thrown. No
 * cookie is forgotten before the server has answered. Then, whatever happened: (2) `logout` resets the slice, (3) persisted state is flushed, purged and its key
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
  withExtra((options, { dispatch, extra }) => {
    // A burst of 401s (or a double click) joins the logout already running: one server call,
    // one cleanup, and every caller gets the same report.
    extra.logoutInFlight ??= runLogout(dispatch, extra, options).finally(() => {
      extra.logoutInFlight = null;
    });
    return extra.logoutInFlight;
  }),
);

async function runLogout(
  dispatch: AuthDispatch,
  extra: CleanexitExtra,
  options: LogoutOptions | undefined,
): Promise<LogoutReport> {
  const scope = options?.scope ?? 'current';
  const server = await askServer(extra, scope);
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
>('auth/forgetSession', withExtra(async ({ reason, scope = 'current' }, { dispatch, extra }) => {
  // The server ended the whole session on a reused refresh token: every tab shares that
  // cookie, so every tab is told. Other endings are noticed by each tab on its own.
  const announce = reason === 'refresh-reused' ? scope : null;
  const cleanup = await forgetLocally(dispatch, extra, { announce });
  const server: ServerReport = { outcome: 'skipped', status: null, detail: null, revoked: null };
  const report: LogoutReport = { scope, reason, server, cleanup, pendingRetry: false };
  safely(() => extra.onLogoutReport(report));
  return report;
}));

export type PendingOutcome = 'none' | 'revoked' | 'already-ended' | 'rejected' | 'nothing-to-revoke' | 'failed';

/** Ends the server session a failed logout left behind, using the refresh cookie alone. */
export const finishPendingLogout = createAsyncThunk<PendingOutcome, void, ThunkConfig>(
  'auth/finishPendingLogout',
  withExtra(async (_arg, { extra }) => {
    const scope = extra.pending.get();
    if (!scope) return 'none';
    if (!extra.api.hasCookieSession()) {
      extra.pending.clear();
      return 'nothing-to-revoke';
    }
    // Cookie alone: an access token held now belongs to a newer session, not the one to end.
    const server = await askServer(extra, scope, false);
    if (!reachedServer(server)) return 'failed';
    extra.pending.clear();
    safely(() => extra.api.forgetCookieSession());
    return server.outcome === 'revoked' || server.outcome === 'already-ended' ? server.outcome : 'rejected';
  }),
);

/**
 * Everything in one request: bearer (if held, expired or not), refresh cookie (sent by the
 * browser) and `X-CSRF-Token`. Any credential that identifies the session ends it (issue 9), so
 * there is no second, cookie-only attempt: a 401 means the server recognised none of them.
 */
async function askServer(extra: CleanexitExtra, scope: LogoutScope, bearer = true): Promise<ServerReport> {
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

/** `error_description`s that say the credentials were authentic but the session was over. */
const SESSION_OVER = new Set(['revoked: session ended', 'revoked: logged out everywhere']);

function fromResponse(response: ApiResponse): ServerReport {
  const { status, body } = response;
  const description = typeof body?.['error_description'] === 'string' ? body['error_description'] : null;
  const code = typeof body?.['error'] === 'string' ? body['error'] : null;
  if (response.ok) return { outcome: 'revoked', status, detail: null, revoked: body?.['revoked'] ?? null };
  const said = response.bearerError ?? description;
  if (status === 401 && said !== null && SESSION_OVER.has(said)) {
    return { outcome: 'already-ended', status, detail: said, revoked: null };
  }
  const detail = [code, description ?? response.bearerError].filter(Boolean).join(': ') || null;
  const outcome = status === 400 || status === 401 || status === 403 ? 'rejected' : 'error';
  return { outcome, status, detail, revoked: null };
}

function reachedServer(server: ServerReport): boolean {
  return server.outcome !== 'error' && server.outcome !== 'timeout' && server.outcome !== 'unreachable';
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
  const navigated = await step('navigate', () => extra.navigate(extra.redirectTo));
  return { stateReset, purged, keyForgotten, announced, navigated, errors };
}

function safely(run: () => void): void {
  try {
    run();
  } catch {
    /* reporting must never break the logout */
  }
}
