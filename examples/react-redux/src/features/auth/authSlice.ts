// The seed's authSlice: its `logout` reducer returns the initial, unauthenticated state. It is
// cleanexit's slice (the access token lives here, in memory only; user and session id are
// persisted encrypted); the store mounts it, wrapped in its persistReducer, as `auth`.
export { authSlice, initialAuthState, logout, selectAuth, selectIsSignedIn } from '@cleanexit/web';
export type { AuthState } from '@cleanexit/web';
