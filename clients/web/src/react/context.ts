import { createContext, useContext } from 'react';
import type { Cleanexit } from '../lib/index.js';

export interface CleanexitContextValue {
  cleanexit: Cleanexit;
  /** `start()` has finished: the persisted profile is decrypted and a session restored if any. */
  started: boolean;
}

export const CleanexitContext = createContext<CleanexitContextValue | null>(null);

export function useCleanexit(): CleanexitContextValue {
  const value = useContext(CleanexitContext);
  if (!value) throw new Error('cleanexit: wrap your app in <CleanexitProvider cleanexit={...}>');
  return value;
}
