// @vitest-environment happy-dom
import { combineReducers, configureStore, createSlice } from '@reduxjs/toolkit';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { Provider } from 'react-redux';
import { persistStore } from 'redux-persist';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCleanexit, createMemoryBackingStore, createMemoryKeyStore, createPendingLogout, type LogoutReport, resetOnLogout, signIn } from '../src/lib';
import { CleanexitProvider, LogoutButton, RequireAuth, useAuth, useLogout } from '../src/react';

// The bindings are tested against a scripted fetch: the network paths of performLogout are
// tested against a real HTTP server (performLogout.test.ts) and a real browser (tests/web).
const TOKEN = { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 600, session_id: 'sid-1', csrf_token: 'csrf-1' };
const REVOKED = { scope: 'current', session_id: 'sid-1', revoked: { sessions: ['sid-1'], access_token: true, refresh_tokens: 1, user_cutoff: null } };

function setup({ logoutDelay = 0 } = {}) {
  const calls: string[] = [];
  let releaseLogout = () => undefined as void;
  const logoutGate = new Promise<void>((resolve) => (releaseLogout = resolve));
  const fetch = vi.fn(async (url: RequestInfo | URL) => {
    const path = new URL(String(url)).pathname;
    calls.push(path);
    if (path === '/auth/logout') {
      if (logoutDelay) await logoutGate;
      return Response.json(REVOKED);
    }
    if (path === '/auth/login' || path === '/auth/refresh') return Response.json(TOKEN);
    return Response.json({ sub: 'alice' });
  }) as unknown as typeof globalThis.fetch;
  const navigate = vi.fn();
  const cleanexit = createCleanexit({
    baseUrl: 'http://api.test',
    fetch,
    navigate,
    backing: createMemoryBackingStore(),
    keyStore: createMemoryKeyStore(),
    pending: createPendingLogout(null),
    readCookie: () => null,
    deleteCookie: () => undefined,
    channel: { BroadcastChannel: undefined, window: undefined },
    locks: null,
    silentRefresh: false,
  });
  const cart = createSlice({ name: 'cart', initialState: { items: [] as string[] }, reducers: { add: (s, a: { payload: string }) => void s.items.push(a.payload) } });
  const store = configureStore({
    reducer: resetOnLogout(combineReducers({ auth: cleanexit.reducer, cart: cart.reducer })),
    middleware: (gdm) => gdm({ serializableCheck: { ignoredActions: cleanexit.ignoredActions } }).concat(cleanexit.middleware),
  });
  persistStore(store);
  return { cleanexit, store, navigate, calls, add: cart.actions.add, releaseLogout };
}

function Profile() {
  const auth = useAuth();
  return <p data-testid="who">{auth.isSignedIn ? `signed in as ${auth.user} (${auth.sessionId})` : auth.status}</p>;
}

function app(env: ReturnType<typeof setup>, children: React.ReactNode, navigate?: (to: string) => void) {
  return render(
    <Provider store={env.store}>
      <CleanexitProvider cleanexit={env.cleanexit} {...(navigate ? { navigate } : {})}>
        {children}
      </CleanexitProvider>
    </Provider>,
  );
}

afterEach(() => cleanup());

describe('React bindings', () => {
  it('useAuth follows sign-in; RequireAuth shows its children only to a signed-in user', async () => {
    const env = setup();
    app(env, <><Profile /><RequireAuth fallback={<p>wait</p>}><p>secret page</p></RequireAuth></>);
    await waitFor(() => expect(env.navigate).toHaveBeenCalledWith('/')); // started, signed out: sent away
    expect(screen.queryByText('secret page')).toBeNull();
    await act(() => env.store.dispatch(signIn({ username: 'alice', password: 'pw' })));
    expect(screen.getByTestId('who').textContent).toBe('signed in as alice (sid-1)');
    expect(screen.getByText('secret page')).toBeTruthy();
  });

  it('LogoutButton runs performLogout: server, state, every other slice, then navigation to /', async () => {
    const env = setup({ logoutDelay: 1 });
    const reports: LogoutReport[] = [];
    const navigate = vi.fn();
    app(env, <><Profile /><LogoutButton onReport={(r) => reports.push(r)}>Sign out</LogoutButton></>, navigate);
    await act(() => env.store.dispatch(signIn({ username: 'alice', password: 'pw' })));
    act(() => void env.store.dispatch(env.add('book')));

    const button = screen.getByRole('button', { name: 'Sign out' }) as HTMLButtonElement;
    fireEvent.click(button);
    await waitFor(() => expect(button.disabled).toBe(true)); // pending while the server answers
    expect(button.getAttribute('aria-busy')).toBe('true');
    fireEvent.click(button); // a double click does not start a second logout
    env.releaseLogout();
    await waitFor(() => expect(reports).toHaveLength(1));

    expect(reports[0]?.server.outcome).toBe('revoked');
    expect(env.calls.filter((p) => p === '/auth/logout')).toHaveLength(1);
    expect(screen.getByTestId('who').textContent).toBe('signedOut');
    expect(env.store.getState().cart.items).toEqual([]); // resetOnLogout: the app's slices too
    expect(navigate).toHaveBeenCalledExactlyOnceWith('/'); // the Provider's navigate replaced the default
    expect(env.navigate).not.toHaveBeenCalled();
    expect(button.disabled).toBe(false);
  });

  it('RequireAuth does not navigate while a logout runs: performLogout does, after the purge', async () => {
    const env = setup({ logoutDelay: 1 });
    app(env, <RequireAuth><p>secret page</p></RequireAuth>);
    await waitFor(() => expect(env.navigate).toHaveBeenCalledTimes(1));
    await act(() => env.store.dispatch(signIn({ username: 'alice', password: 'pw' })));
    env.navigate.mockClear();
    const { performLogout } = await import('../src/lib');
    const done = env.store.dispatch(performLogout());
    env.releaseLogout();
    await act(() => done);
    expect(env.navigate).toHaveBeenCalledExactlyOnceWith('/'); // once: from the thunk alone
    expect(screen.queryByText('secret page')).toBeNull();
  });

  it('useLogout returns the report and the pending state', async () => {
    const env = setup();
    let control: ReturnType<typeof useLogout> | null = null;
    function Probe() {
      control = useLogout();
      return <span data-testid="pending">{String(control.pending)}</span>;
    }
    app(env, <Probe />);
    await act(() => env.store.dispatch(signIn({ username: 'alice', password: 'pw' })));
    let report: LogoutReport | undefined;
    await act(async () => {
      report = await control!.logout({ scope: 'all' });
    });
    expect(report?.scope).toBe('all');
    expect(control!.report).toEqual(report);
    expect(screen.getByTestId('pending').textContent).toBe('false');
  });

  it('hooks outside the provider say how to fix it', () => {
    const env = setup();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(() => render(<Provider store={env.store}><Profile /></Provider>)).toThrow(/CleanexitProvider/);
    spy.mockRestore();
  });
});
