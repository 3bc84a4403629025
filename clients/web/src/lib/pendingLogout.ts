import type { LogoutScope } from './crossTab.js';

/**
 * Remembers, without any secret, that a logout could not reach the server. The refresh cookie is
 * HttpOnly, so script cannot delete it: the only way to end that server session is to present
 * the cookie to `POST /auth/logout` once the server answers again. The marker says so; the app
 * retries on start-up and before the next sign-in replaces the cookie.
 */
export interface PendingLogout {
  mark(scope: LogoutScope): void;
  get(): LogoutScope | null;
  clear(): void;
}

export const PENDING_LOGOUT_KEY = 'cleanexit.pendingLogout';

export function createPendingLogout(
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null = globalThis.localStorage ?? null,
): PendingLogout {
  let memory: LogoutScope | null = null;
  return {
    mark(scope) {
      memory = scope;
      storage?.setItem(PENDING_LOGOUT_KEY, scope);
    },
    get() {
      const stored = storage ? storage.getItem(PENDING_LOGOUT_KEY) : memory;
      return stored === 'current' || stored === 'all' ? stored : null;
    },
    clear() {
      memory = null;
      storage?.removeItem(PENDING_LOGOUT_KEY);
    },
  };
}
