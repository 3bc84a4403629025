import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

/** The app's own data, persisted by the app's own persistReducer (plain localStorage). */
export const notesSlice = createSlice({
  name: 'notes',
  initialState: [] as string[],
  reducers: {
    noteAdded: (state, { payload }: PayloadAction<string>) => void state.push(payload),
  },
});

export const { noteAdded } = notesSlice.actions;
