/**
 * Tells the other tabs of this origin that the session ended, so they forget it too. All tabs of
 * a browser share the refresh cookie, so one tab's logout ends the session under all of them.
 * BroadcastChannel where it exists; otherwise a `storage` event, which browsers fire in every
 * *other* tab of the origin when localStorage changes. The message carries no secret, and the
 * fallback removes its item at once, so storage holds nothing afterwards.
 *
 * The same channel says "I refreshed": a tab whose refresh lost a race (the server's
 * `error_reason: "race"`) learns that the winner was one of its own tabs, whose new refresh
 * cookie is already in the shared cookie jar, rather than a thief (issue 9, finding 4).
 */

export type LogoutScope = 'current' | 'all';

export interface LogoutMessage {
  type: 'cleanexit:logout';
  scope: LogoutScope;
  at: number;
}

/** Another tab rotated the shared refresh cookie. No secret, not even the session id. */
export interface RefreshedMessage {
  type: 'cleanexit:refreshed';
  at: number;
}

type ChannelMessage = LogoutMessage | RefreshedMessage;

export interface LogoutChannel {
  announce(scope: LogoutScope): void;
  announceRefreshed(): void;
  close(): void;
}

export interface ChannelOptions {
  name?: string;
  onLogout: (message: LogoutMessage) => void;
  onRefreshed?: (message: RefreshedMessage) => void;
  /** Injection points for tests; default to the browser globals. */
  BroadcastChannel?: typeof BroadcastChannel | undefined;
  window?: Pick<Window, 'addEventListener' | 'removeEventListener'> | undefined;
  localStorage?: Pick<Storage, 'setItem' | 'removeItem'> | undefined;
}

export const CHANNEL_NAME = 'cleanexit';

export function createLogoutChannel(options: ChannelOptions): LogoutChannel {
  const name = options.name ?? CHANNEL_NAME;
  const deliver = (data: unknown) => {
    if (isLogoutMessage(data)) options.onLogout(data);
    else if (isRefreshedMessage(data)) options.onRefreshed?.(data);
  };
  const Channel = 'BroadcastChannel' in options ? options.BroadcastChannel : globalThis.BroadcastChannel;
  if (Channel) return broadcastChannel(new Channel(name), deliver);
  const win = 'window' in options ? options.window : globalThis.window;
  const storage = 'localStorage' in options ? options.localStorage : globalThis.localStorage;
  if (win && storage) return storageEventChannel(name, win, storage, deliver);
  return { announce: () => undefined, announceRefreshed: () => undefined, close: () => undefined };
}

function broadcastChannel(channel: BroadcastChannel, deliver: (data: unknown) => void): LogoutChannel {
  channel.onmessage = (event: MessageEvent<unknown>) => deliver(event.data);
  return {
    announce: (scope) => channel.postMessage(logoutMessage(scope)),
    announceRefreshed: () => channel.postMessage(refreshedMessage()),
    close: () => channel.close(),
  };
}

function storageEventChannel(
  key: string,
  win: NonNullable<ChannelOptions['window']>,
  storage: NonNullable<ChannelOptions['localStorage']>,
  deliver: (data: unknown) => void,
): LogoutChannel {
  const listener = (event: Event) => {
    const { key: changed, newValue } = event as StorageEvent;
    if (changed !== key || !newValue) return;
    try {
      deliver(JSON.parse(newValue));
    } catch {
      /* not ours */
    }
  };
  win.addEventListener('storage', listener);
  const post = (message: ChannelMessage) => {
    // Removed at once: the next announcement is again a change (absent -> present) and fires.
    storage.setItem(key, JSON.stringify(message));
    storage.removeItem(key);
  };
  return {
    announce: (scope) => post(logoutMessage(scope)),
    announceRefreshed: () => post(refreshedMessage()),
    close: () => win.removeEventListener('storage', listener),
  };
}

function logoutMessage(scope: LogoutScope): LogoutMessage {
  return { type: 'cleanexit:logout', scope, at: Date.now() };
}

function refreshedMessage(): RefreshedMessage {
  return { type: 'cleanexit:refreshed', at: Date.now() };
}

function isRefreshedMessage(data: unknown): data is RefreshedMessage {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'cleanexit:refreshed';
}

function isLogoutMessage(data: unknown): data is LogoutMessage {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { type?: unknown }).type === 'cleanexit:logout' &&
    ((data as { scope?: unknown }).scope === 'current' || (data as { scope?: unknown }).scope === 'all')
  );
}
