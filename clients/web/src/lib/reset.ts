import type { Action, Reducer } from '@reduxjs/toolkit';
import { logout } from './authSlice.js';

export interface ResetOptions<S> {
  /** Top-level slices that outlive a session (a theme, a language): kept as they are. */
  keep?: readonly (keyof S & string)[];
}

/**
 * Wraps the app's root reducer so that cleanexit's `logout` action (dispatched by
 * `performLogout` and by a logout heard from another tab) returns every slice to its initial
 * state, except those listed in `keep`. redux-persist's `_persist` markers are carried over, so
 * the app's persisted slices keep persisting after the next sign-in; their stored copies are
 * purged by `performLogout` itself (it purges every `persistReducer` of the store).
 *
 * ```ts
 * const root = resetOnLogout(combineReducers({ auth: cleanexit.reducer, cart, todos }));
 * ```
 */
export function resetOnLogout<S, A extends Action, P = S>(reducer: Reducer<S, A, P>, options: ResetOptions<S> = {}): Reducer<S, A, P> {
  return (state, action) => {
    if (state === undefined || action.type !== logout.type) return reducer(state, action);
    const fresh = reducer(undefined, action);
    const kept = Object.fromEntries((options.keep ?? []).map((key) => [key, (state as Record<string, unknown>)[key]]));
    return { ...(keepPersistMarkers(state, fresh) as object), ...kept } as S;
  };
}

/** `fresh` with every `_persist` marker of `old` put back where it was (nested persists included). */
function keepPersistMarkers(old: unknown, fresh: unknown): unknown {
  if (!isPlainObject(old) || !isPlainObject(fresh)) return fresh;
  const out: Record<string, unknown> = { ...fresh };
  for (const [key, value] of Object.entries(old)) {
    if (key === '_persist') out[key] = value;
    else if (isPlainObject(value) && key in fresh) out[key] = keepPersistMarkers(value, fresh[key]);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
