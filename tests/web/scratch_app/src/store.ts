// A new user's app: the "add cleanexit to your React + Redux app" lines of docs/web.md, as they
// read there, type-checked against the packed tarball by tests/web/test_package.py.
import { combineReducers, configureStore, createSlice } from '@reduxjs/toolkit';
import axios from 'axios';
import { persistReducer, persistStore } from 'redux-persist';
import storage from 'redux-persist/lib/storage';
import { createCleanexit, resetOnLogout } from '@cleanexit/web';

const todos = createSlice({ name: 'todos', initialState: [] as string[], reducers: {} });

export const cleanexit = createCleanexit({ baseUrl: '', redirectTo: '/' });
const rootReducer = resetOnLogout(combineReducers({ auth: cleanexit.reducer, todos: todos.reducer }));
const persistedReducer = persistReducer({ key: 'app', storage, blacklist: ['auth'] }, rootReducer);
export const store = configureStore({
  reducer: persistedReducer,
  middleware: (getDefault) =>
    getDefault({ serializableCheck: { ignoredActions: cleanexit.ignoredActions } }).concat(cleanexit.middleware),
});
export const persistor = persistStore(store);
export const http = axios.create({ baseURL: '/api' });
cleanexit.axios(http); // bearer, refresh once on `expired`, retry once
export const apiFetch = cleanexit.fetch;

export type RootState = ReturnType<typeof store.getState>;
// The app's state keeps its types through createCleanexit, resetOnLogout and persistReducer.
type IsAny<T> = 0 extends 1 & T ? true : false;
export const stateIsTyped: IsAny<RootState> = false;
export const userIsTyped: IsAny<RootState['auth']['user']> = false;
export type AppDispatch = typeof store.dispatch;
