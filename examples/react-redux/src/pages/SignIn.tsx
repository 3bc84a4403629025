import { type FormEvent, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Navigate } from 'react-router';
import { useAuth } from '@cleanexit/web/react';
import type { AppDispatch, RootState } from '../app/store';
import { login } from '../features/auth/authThunks';

const SAID: Record<string, string> = {
  revoked: 'The server ended this session: a copied token no longer works.',
  'already-ended': 'The server had already ended this session.',
  rejected: 'The server did not recognise this browser’s credentials; nothing was confirmed revoked.',
  error: 'Logged out on this device, but the server answered with an error; it will be retried.',
  timeout: 'Logged out on this device, but the server did not answer; it will be retried.',
  unreachable: 'Logged out on this device, but the server could not be reached; it will be retried.',
  skipped: 'Logged out (the session ended in another tab or on the server).',
};

export function SignIn() {
  const dispatch = useDispatch<AppDispatch>();
  const { isSignedIn, status, error } = useAuth();
  const notice = useSelector((state: RootState) => state.notice);
  const [username, setUsername] = useState('alice');
  const [password, setPassword] = useState('');
  if (isSignedIn) return <Navigate to="/dashboard" replace />;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void dispatch(login(username, password));
    setPassword('');
  };
  return (
    <section className="card">
      {notice && (
        <p className={`notice ${notice.outcome}`} data-testid="notice" data-outcome={notice.outcome} data-reason={notice.reason}>
          {SAID[notice.outcome]}
        </p>
      )}
      <h2>Sign in</h2>
      <form onSubmit={submit} data-testid="signin-form">
        <label>User <input data-testid="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" /></label>
        <label>Password <input data-testid="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" /></label>
        <button className="primary" data-testid="signin" disabled={status === 'signingIn'}>Sign in</button>
        {error && <p className="error">{error}</p>}
      </form>
      <p className="hint">Demo users: alice or bob, password “correct horse battery staple”.</p>
    </section>
  );
}
