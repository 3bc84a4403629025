// The seed's store.ts: configureStore + persistReducer + persistor, with cleanexit added.
import { combineReducers, configureStore } from '@reduxjs/toolkit';
import { persistReducer, persistStore } from 'redux-persist';
// The ES module build: Vite's bundler would take lib/storage's CommonJS default for a namespace.
import storage from 'redux-persist/es/storage';
import { createCleanexit, resetOnLogout } from '@cleanexit/web';
import { noticeSlice } from '../features/auth/noticeSlice';
import { notesSlice } from '../features/notes/notesSlice';

// The API's origin: '' when `cleanexit serve` serves this app too; `VITE_CLEANEXIT_API` at build
// time for an API on another origin of the same site (the server lists this app's origin in
// CLEANEXIT_CORS_ORIGINS).
export const API_BASE: string = import.meta.env.VITE_CLEANEXIT_API ?? '';

export const cleanexit = createCleanexit({
  baseUrl: API_BASE,
  redirectTo: '/', // the seed's mini task: back to the sign-in page after logout
});

// Every slice but `notice` is back to its initial state after logout (resetOnLogout), and every
// persisted one is purged from storage (performLogout purges each persistReducer of the store).
const rootReducer = resetOnLogout(
  combineReducers({ auth: cleanexit.reducer, notes: notesSlice.reducer, notice: noticeSlice.reducer }),
  { keep: ['notice'] },
);

// The app's own persist config; `auth` is left to cleanexit, which persists it encrypted.
const persistedReducer = persistReducer({ key: 'example', storage, whitelist: ['notes'] }, rootReducer);

export const store = configureStore({
  reducer: persistedReducer,
  middleware: (getDefault) =>
    getDefault({ serializableCheck: { ignoredActions: cleanexit.ignoredActions } }).concat(cleanexit.middleware),
});

export const persistor = persistStore(store);

export type RootState = ReturnType<typeof store.getState>;
export type AppDispatch = typeof store.dispatch;
