import { createAsyncThunk } from '@reduxjs/toolkit';
import { ApiError, type ApiResponse, describe } from './apiClient';
import { restoreStalled, restoreStarted, signedIn, signInFailed, signInStarted, tokenRefreshed } from './authSlice';
import { finishPendingLogout, forgetSession } from './logout';
import type { CleanexitExtra, ThunkConfig } from './types';

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
  async ({ username, password }, { dispatch, extra }) => {
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
  },
);

export type RestoreResult = 'nothing-to-restore' | 'restored' | 'session-ended' | 'stalled';

/**
 * After a reload (or before the access token expires): trade the refresh cookie for a new access
 * token. The request runs under a Web Lock so tabs refresh one after another: refresh tokens
 * are single use, and two tabs racing with the same cookie would make one of them lose.
 */
export const restoreSession = createAsyncThunk<RestoreResult, { silent?: boolean } | undefined, ThunkConfig>(
  'auth/restoreSession',
  async (options, { dispatch, getState, extra }) => {
    if (!getState().auth.sessionId) return 'nothing-to-restore';
    if (!options?.silent) dispatch(restoreStarted());
    let response: ApiResponse;
    try {
      response = await withLock(extra, () => extra.api.request('POST', '/auth/refresh', { bearer: false }));
    } catch (error) {
      const why = error instanceof ApiError && error.kind === 'timeout' ? 'timed out' : 'unreachable';
      dispatch(restoreStalled(`Server ${why}; your session is kept and will be restored when it answers.`));
      return 'stalled';
    }
    const token = readToken(response, extra);
    if (token) {
      dispatch(tokenRefreshed(token));
      return 'restored';
    }
    if (response.status >= 400 && response.status < 500) {
      // invalid_grant / csrf_failed / 401: the server holds no live session for this browser.
      await dispatch(forgetSession({ reason: 'session-ended' }));
      return 'session-ended';
    }
    dispatch(restoreStalled(errorText(response, 'Server error while restoring the session')));
    return 'stalled';
  },
);

function withLock<T>(extra: CleanexitExtra, run: () => Promise<T>): Promise<T> {
  return extra.locks ? (extra.locks.request('cleanexit-refresh', run) as Promise<T>) : run();
}

function readToken(response: ApiResponse, extra: CleanexitExtra) {
  const body = response.body;
  if (!response.ok || !body) return null;
  const { access_token: accessToken, session_id: sessionId, expires_in: expiresIn } = body;
  if (typeof accessToken !== 'string' || typeof sessionId !== 'string') return null;
  return {
    accessToken,
    sessionId,
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
