import { useCallback, useEffect, useRef, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import {
  type AuthDispatch,
  type AuthRootState,
  type AuthStatus,
  type LogoutOptions,
  type LogoutReport,
  performLogout,
} from '../lib/index.js';
import { useCleanexit } from './context.js';

export interface AuthView {
  status: AuthStatus;
  isSignedIn: boolean;
  /** The signed-in user's name, or `null`. */
  user: string | null;
  /** The server session this browser holds (the `sid` of its tokens), or `null`. */
  sessionId: string | null;
  error: string | null;
  /** `false` until the persisted profile is read and a session restored (if there was one). */
  started: boolean;
}

/** Who is signed in. The access token is not in it: components have no use for it. */
export function useAuth(): AuthView {
  const { started } = useCleanexit();
  const status = useSelector((state: AuthRootState) => state.auth.status);
  const user = useSelector((state: AuthRootState) => state.auth.user);
  const sessionId = useSelector((state: AuthRootState) => state.auth.sessionId);
  const error = useSelector((state: AuthRootState) => state.auth.error);
  return { status, isSignedIn: status === 'signedIn', user, sessionId, error, started };
}

export interface LogoutControl {
  /** Runs `performLogout`; resolves with its report, never rejects. */
  logout: (options?: LogoutOptions) => Promise<LogoutReport>;
  pending: boolean;
  /** The last report of a logout started here. */
  report: LogoutReport | null;
}

export function useLogout(): LogoutControl {
  const dispatch = useDispatch<AuthDispatch>();
  const [pending, setPending] = useState(false);
  const [report, setReport] = useState<LogoutReport | null>(null);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const logout = useCallback(
    async (options?: LogoutOptions) => {
      setPending(true);
      try {
        const result = await dispatch(performLogout(options)).unwrap();
        if (mounted.current) setReport(result);
        return result;
      } finally {
        if (mounted.current) setPending(false);
      }
    },
    [dispatch],
  );
  return { logout, pending, report };
}
