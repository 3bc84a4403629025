// The seed's logout button. `LogoutButton` dispatches performLogout and is disabled while it runs;
// the redirect to `/` is done by the thunk itself, after the purge (docs/web.md explains why).
import { LogoutButton as CleanexitLogoutButton } from '@cleanexit/web/react';

export function LogoutButton({ scope = 'current' }: { scope?: 'current' | 'all' }) {
  return (
    <CleanexitLogoutButton scope={scope} className={scope === 'all' ? 'secondary' : 'primary'} data-testid={scope === 'all' ? 'logout-all' : 'logout'}>
      {scope === 'all' ? 'Log out everywhere' : 'Log out'}
    </CleanexitLogoutButton>
  );
}
