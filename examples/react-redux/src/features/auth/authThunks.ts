// The seed's authThunks: `performLogout` calls the server, then — whatever the server said —
// resets the state (dispatch(logout())), purges the persisted state (persistor.purge()), forgets
// the encryption key, tells the other tabs, and navigates to `/`. It never rejects: the report
// says what the server did (`server.outcome === 'revoked'` is the only "the server ended it").
import { performLogout as cleanexitLogout, signIn } from '@cleanexit/web';

export const login = (username: string, password: string) => signIn({ username, password });
export const performLogout = (scope: 'current' | 'all' = 'current') => cleanexitLogout({ scope });
