import { type ReactNode, useEffect, useMemo, useState } from 'react';
import type { Cleanexit, Navigate } from '../lib/index.js';
import { CleanexitContext } from './context.js';

export interface CleanexitProviderProps {
  cleanexit: Cleanexit;
  /**
   * Navigation from your router, used after logout (replaces the one given to
   * `createCleanexit`): `(to) => navigate(to, { replace: true })` with React Router's
   * `useNavigate()`, `(to) => router.push(to)` with Next.js.
   */
  navigate?: Navigate;
  children?: ReactNode;
}

/**
 * Goes inside react-redux's `<Provider store={store}>`. On mount it runs `cleanexit.start()`
 * once: the persisted profile is decrypted, a logout the server never heard is finished, and
 * the session is restored from the refresh cookie.
 */
export function CleanexitProvider({ cleanexit, navigate, children }: CleanexitProviderProps) {
  const [started, setStarted] = useState(false);
  useEffect(() => {
    if (navigate) cleanexit.setNavigate(navigate);
  }, [cleanexit, navigate]);
  useEffect(() => {
    let live = true;
    void cleanexit.start().finally(() => live && setStarted(true));
    return () => {
      live = false;
    };
  }, [cleanexit]);
  const value = useMemo(() => ({ cleanexit, started }), [cleanexit, started]);
  return <CleanexitContext.Provider value={value}>{children}</CleanexitContext.Provider>;
}
