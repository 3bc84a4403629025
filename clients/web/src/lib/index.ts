export { ApiError, createApiClient, parseBearerError } from './apiClient.js';
export type { ApiClient, ApiClientOptions, ApiRequest, ApiResponse, Json, RequestInterceptor, ResponseInterceptor } from './apiClient.js';
export {
  authSlice,
  initialAuthState,
  logout,
  PERSISTED_AUTH_FIELDS,
  selectAccessToken,
  selectAuth,
  selectIsSignedIn,
} from './authSlice.js';
export type { AuthState, AuthStatus, TokenPayload } from './authSlice.js';
export { CSRF_COOKIE, readDocumentCookie } from './cookies.js';
export { createLogoutChannel } from './crossTab.js';
export type { LogoutChannel, LogoutMessage, LogoutScope, RefreshedMessage } from './crossTab.js';
export { createEncryptedStorage, createMemoryBackingStore } from './encryptedStorage.js';
export type { BackingStore, EncryptedStorage } from './encryptedStorage.js';
export { createIndexedDbKeyStore, createMemoryKeyStore } from './keyStore.js';
export type { KeyStore } from './keyStore.js';
export { finishPendingLogout, forgetSession, LOGIN_PATH, performLogout } from './logout.js';
export type { CleanupReport, LogoutOptions, LogoutReason, LogoutReport, ServerReport } from './logout.js';
export { type Navigate, navigateWithHistory } from './navigation.js';
export { createPeerRefreshes } from './peerRefresh.js';
export type { PeerRefreshes } from './peerRefresh.js';
export { createPendingLogout, PENDING_LOGOUT_KEY, type PendingLogout } from './pendingLogout.js';
export { restoreSession, signIn } from './session.js';
export type { Credentials, RestoreResult, SignInResult } from './session.js';
export { type Cleanexit, type CleanexitOptions, createCleanexit, PERSIST_ACTIONS, PERSIST_KEY } from './cleanexit.js';
export { type AxiosLike, attachAxios, bearerRefusal, createAuthFetch, type HttpAuth, isApiUrl } from './httpAdapters.js';
export { resetOnLogout, type ResetOptions } from './reset.js';
export { createCleanexitClient } from './store.js';
export type { CleanexitClient, CleanexitDispatch, CleanexitState, CleanexitStore } from './store.js';
export type { AuthDispatch, AuthRootState } from './types.js';
