import { createAsyncThunk } from '@reduxjs/toolkit';
import { ApiError, type ApiResponse, describe } from './apiClient.js';
import { restoreStalled, restoreStarted, signedIn, signInFailed, signInStarted, tokenRefreshed } from './authSlice.js';
import { finishPendingLogout, forgetSession, performLogout } from './logout.js';
import { type AuthDispatch, type CleanexitExtra, type ThunkConfig, withExtra } from './types.js';

export interface Credentials {
  username: string;
  password: string;
}

export type SignInResult = { ok: true } | { ok: false; error: string };

/**
 * `POST /auth/login` in cookie mode: the refresh token goes to an HttpOnly cookie the script
 * never sees, the access token stays in memory (the slice, which persists neither).
 */
export const signIn = createAsyncThunk<SignInResult, Credentials, ThunkConfig>(
  'auth/signIn',
  withExtra(async ({ username, password }, { dispatch, extra }) => {
    dispatch(signInStarted());
    // A logout that never reached the server left its session behind; the sign-in is about to
    // replace the cookie that can end it, so try now (best effort, see pendingLogout.ts).
    await dispatch(finishPendingLogout());
    let response: ApiResponse;
    try {
      response = await extra.api.request('POST', '/auth/login', {
        body: { username, password, refresh_in_cookie: true },
        bearer: false,
      });
    } catch (error) {
      return failed(dispatch, `Cannot reach the server (${describe(error)})`);
    }
    const token = readToken(response, extra);
    if (!token) return failed(dispatch, errorText(response, 'Sign-in failed'));
    extra.pending.clear();
    dispatch(signedIn({ ...token, user: username }));
    return { ok: true };
  }),
);

/**
 * `possible-theft`: the refresh cookie was used by someone else. Either the server saw it twice
 * and ended the session, or this tab lost a race to a party that is not one of its sibling tabs
 * and ended the session on the server with what it holds; local state is forgotten either way.
 */
export type RestoreResult = 'nothing-to-restore' | 'restored' | 'session-ended' | 'possible-theft' | 'stalled';

/**
 * After a reload (or before the access token expires): trade the refresh cookie for a new access
 * token. The request runs under a Web Lock so tabs refresh one after another: refresh tokens
 * are single use, and two tabs racing with the same cookie would make one of them lose.
 */
export const restoreSession = createAsyncThunk<RestoreResult, { silent?: boolean } | undefined, ThunkConfig>(
  'auth/restoreSession',
  withExtra((options, { dispatch, getState, extra }) => {
    if (!getState().auth.sessionId) return Promise.resolve<RestoreResult>('nothing-to-restore');
    // One refresh at a time per page: five calls that expired together (or the start-up
    // restore and a silent refresh) join the one running, and all see its result.
    extra.refreshInFlight ??= runRestore(dispatch, extra, options).finally(() => {
      extra.refreshInFlight = null;
    });
    return extra.refreshInFlight;
  }),
);

async function runRestore(
  dispatch: AuthDispatch,
  extra: CleanexitExtra,
  options: { silent?: boolean } | undefined,
): Promise<RestoreResult> {
  if (!options?.silent) dispatch(restoreStarted());
  const since = extra.now();
  const first = await refresh(extra);
  if (first.kind === 'token') return restored(dispatch, extra, first.token);
  if (first.kind === 'no-answer') return stalled(dispatch, first.why);
  const { response } = first;
  if (response.status >= 400 && response.status < 500) {
    const reason = refusalReason(response);
    if (reason === 'reused') {
      await dispatch(forgetSession({ reason: 'refresh-reused' }));
      return 'possible-theft';
    }
    if (reason === 'race') return resolveRace(dispatch, extra, since);
    // invalid_grant / csrf_failed / 401: the server holds no live session for this browser.
    await dispatch(forgetSession({ reason: 'session-ended' }));
    return 'session-ended';
  }
  return stalled(dispatch, errorText(response, 'Server error while restoring the session'));
}

/**
 * The refresh cookie was rotated moments ago by someone else (issue 9, finding 4). A sibling tab
 * announces its refresh, and its new cookie is already in the jar this tab shares: try once more
 * with it. Otherwise the winner is a stranger holding a copy of the cookie: end the session on
 * the server with everything this tab holds (the server accepts the rotated cookie and the
 * authentic access token), so the stranger's tokens die too, and forget it here.
 */
async function resolveRace(dispatch: AuthDispatch, extra: CleanexitExtra, since: number): Promise<RestoreResult> {
  if (await extra.peers.waitSince(since, extra.refreshRaceWaitMs)) {
    const again = await refresh(extra);
    if (again.kind === 'token') return restored(dispatch, extra, again.token);
    if (again.kind === 'no-answer') return stalled(dispatch, again.why);
  }
  await dispatch(performLogout({ reason: 'refresh-raced' }));
  return 'possible-theft';
}

type Refreshed =
  | { kind: 'token'; token: NonNullable<ReturnType<typeof readToken>> }
  | { kind: 'refused'; response: ApiResponse }
  | { kind: 'no-answer'; why: string };

async function refresh(extra: CleanexitExtra): Promise<Refreshed> {
  let response: ApiResponse;
  try {
    response = await withLock(extra, () => extra.api.request('POST', '/auth/refresh', { bearer: false }));
  } catch (error) {
    const why = error instanceof ApiError && error.kind === 'timeout' ? 'timed out' : 'unreachable';
    return { kind: 'no-answer', why: `Server ${why}; your session is kept and will be restored when it answers.` };
  }
  const token = readToken(response, extra);
  return token ? { kind: 'token', token } : { kind: 'refused', response };
}

function restored(dispatch: AuthDispatch, extra: CleanexitExtra, token: NonNullable<ReturnType<typeof readToken>>): RestoreResult {
  dispatch(tokenRefreshed(token));
  // Sibling tabs share the cookie just rotated: a sibling whose refresh raced ours adopts it.
  try {
    extra.channel.announceRefreshed();
  } catch {
    /* telling other tabs is best effort */
  }
  return 'restored';
}

function stalled(dispatch: AuthDispatch, why: string): RestoreResult {
  dispatch(restoreStalled(why));
  return 'stalled';
}

/** The server's `error_reason` on a refused refresh; missing or unknown means `invalid`. */
function refusalReason(response: ApiResponse): 'race' | 'reused' | 'invalid' {
  const reason = response.body?.['error_reason'];
  return reason === 'race' || reason === 'reused' ? reason : 'invalid';
}

function withLock<T>(extra: CleanexitExtra, run: () => Promise<T>): Promise<T> {
  return extra.locks ? (extra.locks.request('cleanexit-refresh', run) as Promise<T>) : run();
}

function readToken(response: ApiResponse, extra: CleanexitExtra) {
  const body = response.body;
  if (!response.ok || !body) return null;
  const { access_token: accessToken, session_id: sessionId, expires_in: expiresIn, csrf_token: csrf } = body;
  if (typeof accessToken !== 'string' || typeof sessionId !== 'string') return null;
  return {
    accessToken,
    sessionId,
    // An API on another origin: its CSRF cookie is not in this page's document.cookie.
    csrfToken: typeof csrf === 'string' ? csrf : null,
    expiresIn: typeof expiresIn === 'number' ? expiresIn : 600,
    receivedAt: extra.now(),
  };
}

function errorText(response: ApiResponse, fallback: string): string {
  const description = response.body?.['error_description'];
  return typeof description === 'string' ? description : `${fallback} (HTTP ${response.status})`;
}

function failed(dispatch: (action: ReturnType<typeof signInFailed>) => unknown, error: string): SignInResult {
  dispatch(signInFailed(error));
  return { ok: false, error };
}
