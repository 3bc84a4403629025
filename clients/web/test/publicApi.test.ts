import { describe, expect, it } from 'vitest';
import * as core from '../src/lib';
import * as react from '../src/react';

// The published surface (semver: a name removed or renamed here is a breaking change and goes
// in CHANGELOG.md). Adding a name means adding it here, on purpose.
describe('public API', () => {
  it('@cleanexit/web', () => {
    expect(Object.keys(core).sort()).toEqual([
      'ApiError', 'CSRF_COOKIE', 'LOGIN_PATH', 'PENDING_LOGOUT_KEY', 'PERSISTED_AUTH_FIELDS',
      'PERSIST_ACTIONS', 'PERSIST_KEY', 'attachAxios', 'authSlice', 'bearerRefusal',
      'createApiClient', 'createAuthFetch', 'createCleanexit', 'createCleanexitClient',
      'createEncryptedStorage', 'createIndexedDbKeyStore', 'createLogoutChannel',
      'createMemoryBackingStore', 'createMemoryKeyStore', 'createPeerRefreshes',
      'createPendingLogout', 'finishPendingLogout', 'forgetSession', 'initialAuthState', 'isApiUrl',
      'logout', 'navigateWithHistory', 'parseBearerError', 'performLogout', 'readDocumentCookie',
      'resetOnLogout', 'restoreSession', 'selectAccessToken', 'selectAuth', 'selectIsSignedIn',
      'signIn',
    ]);
  });

  it('@cleanexit/web/react', () => {
    expect(Object.keys(react).sort()).toEqual([
      'CleanexitProvider', 'LogoutButton', 'RequireAuth', 'useAuth', 'useCleanexit', 'useLogout',
    ]);
  });
});
