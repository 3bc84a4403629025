export { ApiError, createApiClient, parseBearerError } from './apiClient';
export type { ApiClient, ApiResponse, ApiClientOptions, RequestInterceptor, ResponseInterceptor } from './apiClient';
export {
  authSlice,
  initialAuthState,
  logout,
  PERSISTED_AUTH_FIELDS,
  selectAccessToken,
  selectAuth,
  selectIsSignedIn,
} from './authSlice';
export type { AuthState, AuthStatus } from './authSlice';
export { CSRF_COOKIE, readDocumentCookie } from './cookies';
export { createLogoutChannel } from './crossTab';
export type { LogoutChannel, LogoutMessage, LogoutScope, RefreshedMessage } from './crossTab';
export { createEncryptedStorage, createMemoryBackingStore } from './encryptedStorage';
export type { BackingStore, EncryptedStorage } from './encryptedStorage';
export { createIndexedDbKeyStore, createMemoryKeyStore } from './keyStore';
export type { KeyStore } from './keyStore';
export { finishPendingLogout, forgetSession, LOGIN_PATH, performLogout } from './logout';
export type { CleanupReport, LogoutOptions, LogoutReason, LogoutReport, ServerReport } from './logout';
export { navigateWithHistory } from './navigation';
export { createPeerRefreshes } from './peerRefresh';
export type { PeerRefreshes } from './peerRefresh';
export { createPendingLogout, PENDING_LOGOUT_KEY } from './pendingLogout';
export { restoreSession, signIn } from './session';
export type { RestoreResult } from './session';
export { createCleanexitClient, PERSIST_KEY } from './store';
export type { CleanexitClient, CleanexitDispatch, CleanexitOptions, CleanexitState, CleanexitStore } from './store';
