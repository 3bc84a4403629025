import { configureStore } from '@reduxjs/toolkit';
import { persistStore } from 'redux-persist';
import { type CleanexitOptions, createCleanexit } from './cleanexit.js';

/**
 * A store with only `auth`, wired: what the demo page uses, and the shortest way to try the
 * package. An app with its own store uses `createCleanexit()` instead (docs/web.md).
 */
export function createCleanexitClient(options: CleanexitOptions = {}) {
  const cleanexit = createCleanexit(options);
  const store = configureStore({
    reducer: { auth: cleanexit.reducer },
    middleware: (getDefault) =>
      getDefault({ serializableCheck: { ignoredActions: cleanexit.ignoredActions } }).concat(cleanexit.middleware),
  });
  const persistor = persistStore(store);
  return {
    cleanexit,
    store,
    persistor,
    api: cleanexit.api,
    storage: cleanexit.storage,
    ready: cleanexit.ready,
    dispose: cleanexit.dispose,
  };
}

export type CleanexitClient = ReturnType<typeof createCleanexitClient>;
export type CleanexitStore = CleanexitClient['store'];
export type CleanexitState = ReturnType<CleanexitStore['getState']>;
export type CleanexitDispatch = CleanexitStore['dispatch'];
