/**
 * Tells the other tabs of this origin that the session ended, so they forget it too. All tabs of
 * a browser share the refresh cookie, so one tab's logout ends the session under all of them.
 * BroadcastChannel where it exists; otherwise a `storage` event, which browsers fire in every
 * *other* tab of the origin when localStorage changes. The message carries no secret, and the
 * fallback removes its item at once, so storage holds nothing afterwards.
 */

export type LogoutScope = 'current' | 'all';

export interface LogoutMessage {
  type: 'cleanexit:logout';
  scope: LogoutScope;
  at: number;
}

export interface LogoutChannel {
  announce(scope: LogoutScope): void;
  close(): void;
}

export interface ChannelOptions {
  name?: string;
  onLogout: (message: LogoutMessage) => void;
  /** Injection points for tests; default to the browser globals. */
  BroadcastChannel?: typeof BroadcastChannel | undefined;
  window?: Pick<Window, 'addEventListener' | 'removeEventListener'> | undefined;
  localStorage?: Pick<Storage, 'setItem' | 'removeItem'> | undefined;
}

export const CHANNEL_NAME = 'cleanexit';

export function createLogoutChannel(options: ChannelOptions): LogoutChannel {
  const name = options.name ?? CHANNEL_NAME;
  const Channel = 'BroadcastChannel' in options ? options.BroadcastChannel : globalThis.BroadcastChannel;
  if (Channel) return broadcastChannel(new Channel(name), options.onLogout);
  const win = 'window' in options ? options.window : globalThis.window;
  const storage = 'localStorage' in options ? options.localStorage : globalThis.localStorage;
  if (win && storage) return storageEventChannel(name, win, storage, options.onLogout);
  return { announce: () => undefined, close: () => undefined };
}

function broadcastChannel(channel: BroadcastChannel, onLogout: (m: LogoutMessage) => void): LogoutChannel {
  channel.onmessage = (event: MessageEvent<unknown>) => {
    if (isLogoutMessage(event.data)) onLogout(event.data);
  };
  return {
    announce: (scope) => channel.postMessage(message(scope)),
    close: () => channel.close(),
  };
}

function storageEventChannel(
  key: string,
  win: NonNullable<ChannelOptions['window']>,
  storage: NonNullable<ChannelOptions['localStorage']>,
  onLogout: (m: LogoutMessage) => void,
): LogoutChannel {
  const listener = (event: Event) => {
    const { key: changed, newValue } = event as StorageEvent;
    if (changed !== key || !newValue) return;
    try {
      const parsed: unknown = JSON.parse(newValue);
      if (isLogoutMessage(parsed)) onLogout(parsed);
    } catch {
      /* not ours */
    }
  };
  win.addEventListener('storage', listener);
  return {
    announce: (scope) => {
      // Removed at once: the next announcement is again a change (absent -> present) and fires.
      storage.setItem(key, JSON.stringify(message(scope)));
      storage.removeItem(key);
    },
    close: () => win.removeEventListener('storage', listener),
  };
}

function message(scope: LogoutScope): LogoutMessage {
  return { type: 'cleanexit:logout', scope, at: Date.now() };
}

function isLogoutMessage(data: unknown): data is LogoutMessage {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { type?: unknown }).type === 'cleanexit:logout' &&
    ((data as { scope?: unknown }).scope === 'current' || (data as { scope?: unknown }).scope === 'all')
  );
}
