import { createRoot } from 'react-dom/client';
import { Provider } from 'react-redux';
import { performLogout, type LogoutReport, signIn } from '@cleanexit/web';
import { CleanexitProvider, LogoutButton, RequireAuth, useAuth, useLogout } from '@cleanexit/web/react';
import { cleanexit, store, type RootState } from './store.js';

function Account() {
  const { user, sessionId, status } = useAuth();
  const { logout, pending } = useLogout();
  const everywhere = async (): Promise<LogoutReport> => logout({ scope: 'all' });
  return (
    <section>
      <p>{status}: {user ?? '-'} ({sessionId ?? '-'})</p>
      <button disabled={pending} onClick={() => void everywhere()}>Log out everywhere</button>
      <LogoutButton onReport={(report) => console.log(report.server.outcome)}>Log out</LogoutButton>
    </section>
  );
}

export async function signInAndOut(): Promise<string> {
  const result = await store.dispatch(signIn({ username: 'alice', password: 'pw' })).unwrap();
  if (!result.ok) return result.error;
  const user: string | null = (store.getState() as RootState).auth.user;
  const report = await store.dispatch(performLogout()).unwrap();
  return `${user}: ${report.server.outcome}, pending retry: ${report.pendingRetry}`;
}

createRoot(document.getElementById('root')!).render(
  <Provider store={store}>
    <CleanexitProvider cleanexit={cleanexit} navigate={(to) => window.location.assign(to)}>
      <RequireAuth fallback={<p>Loading…</p>}>
        <Account />
      </RequireAuth>
    </CleanexitProvider>
  </Provider>,
);
