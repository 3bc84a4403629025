import { type ReactNode, useEffect } from 'react';
import { useCleanexit } from './context.js';
import { useAuth } from './hooks.js';

export interface RequireAuthProps {
  children?: ReactNode;
  /** Shown while the session is being restored, and while leaving. Default: nothing. */
  fallback?: ReactNode;
  /** Where a signed-out visitor is sent; default the `redirectTo` given to `createCleanexit` (`/`). */
  redirectTo?: string;
}

/**
 * A route guard: its children only for a signed-in user. A signed-out visitor is sent away with
 * the injected navigation — but never while a logout is running: `performLogout` navigates
 * itself, after the purge, and leaving earlier could interrupt the purge (docs/web.md).
 */
export function RequireAuth({ children, fallback = null, redirectTo }: RequireAuthProps) {
  const { cleanexit } = useCleanexit();
  const { status, started } = useAuth();
  const leave = started && status === 'signedOut';
  useEffect(() => {
    if (leave && !cleanexit.isLoggingOut()) void cleanexit.navigate(redirectTo ?? cleanexit.redirectTo);
  }, [leave, cleanexit, redirectTo]);
  return <>{started && status === 'signedIn' ? children : fallback}</>;
}
