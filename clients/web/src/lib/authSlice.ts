import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

/**
 * `signedOut` -> `signingIn` -> `signedIn`; after a reload the persisted profile is back but the
 * access token (memory only) is not, so the app is `restoring` until `POST /auth/refresh`
 * (refresh cookie + CSRF header) hands it a new one.
 */
export type AuthStatus = 'signedOut' | 'signingIn' | 'restoring' | 'signedIn';

export interface AuthState {
  status: AuthStatus;
  /** Persisted (encrypted): who is signed in and which server session this browser holds. */
  user: string | null;
  sessionId: string | null;
  /**
   * Persisted (encrypted): the double-submit CSRF value from the last token response. Same
   * origin, the `cleanexit_csrf` cookie says the same; an API on another origin sets that cookie
   * on its own host, out of this page's `document.cookie`, so the value is kept here.
   */
  csrfToken: string | null;
  /** Memory only: never persisted, gone with the tab. */
  accessToken: string | null;
  accessTokenExpiresAt: number | null;
  error: string | null;
}

/** The fields redux-persist may write; everything else never touches storage. */
export const PERSISTED_AUTH_FIELDS = ['user', 'sessionId', 'csrfToken'] as const satisfies readonly (keyof AuthState)[];

export const initialAuthState: AuthState = Object.freeze({
  status: 'signedOut',
  user: null,
  sessionId: null,
  csrfToken: null,
  accessToken: null,
  accessTokenExpiresAt: null,
  error: null,
});

export interface TokenPayload {
  accessToken: string;
  sessionId: string;
  /** Seconds, as in the server's `expires_in`. */
  expiresIn: number;
  /** Epoch milliseconds at which the token was received. */
  receivedAt: number;
  csrfToken?: string | null;
}

export const authSlice = createSlice({
  name: 'auth',
  initialState: initialAuthState,
  reducers: {
    signInStarted: (state) => {
      state.status = 'signingIn';
      state.error = null;
    },
    signInFailed: (state, action: PayloadAction<string>) => {
      state.status = 'signedOut';
      state.error = action.payload;
    },
    signedIn: (state, action: PayloadAction<TokenPayload & { user: string }>) => {
      state.user = action.payload.user;
      applyToken(state, action.payload);
    },
    restoreStarted: (state) => {
      state.status = 'restoring';
      state.error = null;
    },
    restoreStalled: (state, action: PayloadAction<string>) => {
      state.error = action.payload;
    },
    tokenRefreshed: (state, action: PayloadAction<TokenPayload>) => applyToken(state, action.payload),
    /** Back to the initial, unauthenticated state: nothing of the session survives in memory. */
    logout: () => initialAuthState,
  },
  selectors: {
    selectAuth: (state) => state,
    selectIsSignedIn: (state) => state.status === 'signedIn',
    selectAccessToken: (state) => state.accessToken,
  },
});

function applyToken(state: AuthState, token: TokenPayload): void {
  state.status = 'signedIn';
  state.sessionId = token.sessionId;
  state.accessToken = token.accessToken;
  if (token.csrfToken) state.csrfToken = token.csrfToken;
  state.accessTokenExpiresAt = token.receivedAt + token.expiresIn * 1000;
  state.error = null;
}

export const {
  signInStarted,
  signInFailed,
  signedIn,
  restoreStarted,
  restoreStalled,
  tokenRefreshed,
  logout,
} = authSlice.actions;
export const { selectAuth, selectIsSignedIn, selectAccessToken } = authSlice.selectors;
