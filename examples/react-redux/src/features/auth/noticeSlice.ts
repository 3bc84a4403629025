import { createSlice } from '@reduxjs/toolkit';
import { forgetSession, type LogoutReport, performLogout } from '@cleanexit/web';

/** What the last logout did, worded from what the server answered (never assumed). */
export interface Notice {
  outcome: LogoutReport['server']['outcome'];
  reason: LogoutReport['reason'];
  pendingRetry: boolean;
}

const fromReport = (report: LogoutReport): Notice => ({
  outcome: report.server.outcome,
  reason: report.reason,
  pendingRetry: report.pendingRetry,
});

export const noticeSlice = createSlice({
  name: 'notice',
  initialState: null as Notice | null,
  reducers: {
    noticeCleared: () => null,
  },
  // This tab's logout, and one heard from another tab or noticed at a refused call.
  extraReducers: (builder) => {
    builder.addCase(performLogout.fulfilled, (_state, { payload }) => fromReport(payload));
    builder.addCase(forgetSession.fulfilled, (_state, { payload }) => fromReport(payload));
  },
});

export const { noticeCleared } = noticeSlice.actions;
