import { type FormEvent, useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { useAuth } from '@cleanexit/web/react';
import { getMe, type Me } from '../app/api';
import type { AppDispatch, RootState } from '../app/store';
import { LogoutButton } from '../features/auth/LogoutButton';
import { noteAdded } from '../features/notes/notesSlice';

export function Dashboard() {
  const dispatch = useDispatch<AppDispatch>();
  const { user, sessionId } = useAuth();
  const notes = useSelector((state: RootState) => state.notes);
  const [me, setMe] = useState<Me | null>(null);
  const [burst, setBurst] = useState<string | null>(null);
  const [draft, setDraft] = useState('');

  useEffect(() => {
    getMe().then(setMe, () => setMe(null));
  }, []);

  // Five calls at once: if the access token has expired, the axios adapter refreshes it once
  // and retries each call once.
  const loadFive = async () => {
    setBurst('…');
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => getMe()));
    setBurst(`${results.filter((r) => r.status === 'fulfilled').length}/5 ok`);
  };
  const addNote = (event: FormEvent) => {
    event.preventDefault();
    if (draft.trim()) dispatch(noteAdded(draft.trim()));
    setDraft('');
  };

  return (
    <section className="card" data-testid="dashboard">
      <h2>Signed in as <span data-testid="profile-user">{me ? me.sub : '…'}</span></h2>
      <p className="muted">User {user} · session <code>{sessionId}</code></p>
      <p>
        <button data-testid="load-five" onClick={() => void loadFive()}>GET /me ×5 in parallel</button>{' '}
        <span data-testid="burst">{burst}</span>
      </p>
      <form onSubmit={addNote}>
        <input data-testid="note" value={draft} placeholder="A note (persisted by the app)" onChange={(e) => setDraft(e.target.value)} />
        <button data-testid="add-note">Add</button>
      </form>
      <ul data-testid="notes">{notes.map((note, i) => <li key={i}>{note}</li>)}</ul>
      <p className="actions">
        <LogoutButton />
        <LogoutButton scope="all" />
      </p>
    </section>
  );
}
