import type { ButtonHTMLAttributes, MouseEvent } from 'react';
import type { LogoutOptions, LogoutReport } from '../lib/index.js';
import { useLogout } from './hooks.js';

export interface LogoutButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'onClick'> {
  /** `current` (this device, default) or `all` (log out everywhere). */
  scope?: LogoutOptions['scope'];
  /** Called with what happened: `report.server.outcome === 'revoked'` is the only "the server ended it". */
  onReport?: (report: LogoutReport) => void;
}

/** A button that runs `performLogout`; disabled (and `aria-busy`) while it runs. */
export function LogoutButton({ scope, onReport, children = 'Log out', disabled, ...rest }: LogoutButtonProps) {
  const { logout, pending } = useLogout();
  const onClick = async (event: MouseEvent<HTMLButtonElement>) => {
    event.preventDefault();
    const report = await logout(scope ? { scope } : undefined);
    onReport?.(report);
  };
  return (
    <button type="button" {...rest} disabled={disabled || pending} aria-busy={pending} onClick={(e) => void onClick(e)}>
      {children}
    </button>
  );
}
