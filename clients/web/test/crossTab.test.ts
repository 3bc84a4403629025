import { describe, expect, it, vi } from 'vitest';
import { createLogoutChannel, createMemoryBackingStore } from '../src/lib';

describe('cross-tab logout channel', () => {
  it('BroadcastChannel: other tabs hear the logout, the sender does not', async () => {
    const name = `t-${Math.random()}`;
    const senderHeard = vi.fn();
    const sender = createLogoutChannel({ name, onLogout: senderHeard });
    const received = new Promise((resolve) => createLogoutChannel({ name, onLogout: resolve }));
    sender.announce('all');
    await expect(received).resolves.toMatchObject({ type: 'cleanexit:logout', scope: 'all' });
    expect(senderHeard).not.toHaveBeenCalled();
    sender.close();
  });

  it('falls back to the storage event when BroadcastChannel is missing, leaving storage empty', () => {
    const storage = createMemoryBackingStore();
    const written: string[] = [];
    const spyStorage = {
      setItem: (key: string, value: string) => {
        written.push(value);
        storage.setItem(key, value);
      },
      removeItem: (key: string) => storage.removeItem(key),
    };
    const senderWindow = new EventTarget();
    const otherWindow = new EventTarget();
    const heard = vi.fn();
    const sender = createLogoutChannel({
      name: 'cleanexit',
      onLogout: () => undefined,
      BroadcastChannel: undefined,
      window: senderWindow,
      localStorage: spyStorage,
    });
    createLogoutChannel({ name: 'cleanexit', onLogout: heard, BroadcastChannel: undefined, window: otherWindow, localStorage: spyStorage });

    sender.announce('current');
    expect(storage.keys()).toEqual([]);
    expect(written).toHaveLength(1);
    // What the browser does for every other tab of the origin after setItem:
    otherWindow.dispatchEvent(Object.assign(new Event('storage'), { key: 'cleanexit', newValue: written[0] }));
    expect(heard).toHaveBeenCalledExactlyOnceWith(expect.objectContaining({ type: 'cleanexit:logout', scope: 'current' }));

    // Unrelated keys and foreign payloads are ignored.
    otherWindow.dispatchEvent(Object.assign(new Event('storage'), { key: 'other', newValue: written[0] }));
    otherWindow.dispatchEvent(Object.assign(new Event('storage'), { key: 'cleanexit', newValue: '{"type":"x"}' }));
    otherWindow.dispatchEvent(Object.assign(new Event('storage'), { key: 'cleanexit', newValue: 'not json' }));
    expect(heard).toHaveBeenCalledOnce();
  });

  it('carries "refreshed" (no secret) to the other tabs, on both paths', async () => {
    const name = `t-${Math.random()}`;
    const sender = createLogoutChannel({ name, onLogout: () => undefined });
    const loggedOut = vi.fn();
    const received = new Promise((resolve) => createLogoutChannel({ name, onLogout: loggedOut, onRefreshed: resolve }));
    sender.announceRefreshed();
    const message = await received;
    expect(message).toEqual({ type: 'cleanexit:refreshed', at: expect.any(Number) });
    expect(loggedOut).not.toHaveBeenCalled();
    sender.close();

    const written: string[] = [];
    const storage = { setItem: (_k: string, v: string) => void written.push(v), removeItem: () => undefined };
    const other = new EventTarget();
    const heard = vi.fn();
    createLogoutChannel({ onLogout: () => undefined, BroadcastChannel: undefined, window: new EventTarget(), localStorage: storage }).announceRefreshed();
    createLogoutChannel({ onLogout: loggedOut, onRefreshed: heard, BroadcastChannel: undefined, window: other, localStorage: storage });
    other.dispatchEvent(Object.assign(new Event('storage'), { key: 'cleanexit', newValue: written[0] }));
    expect(heard).toHaveBeenCalledOnce();
    expect(loggedOut).not.toHaveBeenCalled();
  });
});
