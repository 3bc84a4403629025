import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { Provider } from 'react-redux';
import { BrowserRouter, Route, Routes, useNavigate } from 'react-router';
import { CleanexitProvider, RequireAuth, useAuth } from '@cleanexit/web/react';
import { cleanexit, store } from './app/store';
import { Dashboard } from './pages/Dashboard';
import { SignIn } from './pages/SignIn';
import './styles.css';

function App() {
  const { started, user } = useAuth();
  useEffect(() => {
    if (started) document.documentElement.dataset['ready'] = 'true';
  }, [started]);
  return (
    <>
      <header>
        <h1>cleanexit · React + Redux</h1>
        <span data-testid="status">{user ? `Signed in as ${user}` : 'Signed out'}</span>
      </header>
      <main>
        <Routes>
          <Route path="/" element={<SignIn />} />
          <Route path="/dashboard" element={<RequireAuth fallback={<p className="card">Restoring your session…</p>}><Dashboard /></RequireAuth>} />
        </Routes>
      </main>
    </>
  );
}

/** React Router's navigate, handed to cleanexit: performLogout ends with navigate('/'). */
function WithCleanexit() {
  const navigate = useNavigate();
  return (
    <CleanexitProvider cleanexit={cleanexit} navigate={(to) => navigate(to, { replace: true })}>
      <App />
    </CleanexitProvider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Provider store={store}>
      <BrowserRouter>
        <WithCleanexit />
      </BrowserRouter>
    </Provider>
  </StrictMode>,
);
