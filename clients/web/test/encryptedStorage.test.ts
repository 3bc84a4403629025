import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import {
  createEncryptedStorage,
  createIndexedDbKeyStore,
  createMemoryBackingStore,
  createMemoryKeyStore,
} from '../src/lib';

const SLOT = 'persist:cleanexit.auth';
const SECRET = JSON.stringify({ user: '"alice"', sessionId: '"sid-42"' });

describe('encrypted storage', () => {
  it('round-trips, and what reaches the backing store is AES-GCM ciphertext', async () => {
    const backing = createMemoryBackingStore();
    const storage = createEncryptedStorage(backing, createIndexedDbKeyStore(new IDBFactory()));
    await storage.setItem(SLOT, SECRET);
    const raw = backing.getItem(SLOT) ?? '';
    expect(raw).toMatch(/^cx1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
    expect(raw).not.toContain('alice');
    expect(raw).not.toContain('sid-42');
    expect(await storage.getItem(SLOT)).toBe(SECRET);
  });

  it('uses a fresh IV for every write', async () => {
    const backing = createMemoryBackingStore();
    const storage = createEncryptedStorage(backing, createMemoryKeyStore());
    await storage.setItem(SLOT, SECRET);
    const first = backing.getItem(SLOT);
    await storage.setItem(SLOT, SECRET);
    expect(backing.getItem(SLOT)).not.toBe(first);
  });

  it('a copied localStorage is useless without the key: it reads as nothing', async () => {
    const victim = createMemoryBackingStore();
    await createEncryptedStorage(victim, createMemoryKeyStore()).setItem(SLOT, SECRET);
    const copy = createMemoryBackingStore();
    copy.setItem(SLOT, victim.getItem(SLOT) ?? '');
    const elsewhere = createEncryptedStorage(copy, createMemoryKeyStore());
    expect(await elsewhere.getItem(SLOT)).toBeNull();
    expect(copy.keys()).toEqual([]); // unreadable data is dropped
  });

  it('binds each ciphertext to its slot (moved to another key, it does not decrypt)', async () => {
    const backing = createMemoryBackingStore();
    const storage = createEncryptedStorage(backing, createMemoryKeyStore());
    await storage.setItem(SLOT, SECRET);
    backing.setItem('persist:other', backing.getItem(SLOT) ?? '');
    expect(await storage.getItem('persist:other')).toBeNull();
  });

  it('rejects tampered ciphertext and plaintext left by an older version', async () => {
    const backing = createMemoryBackingStore();
    const storage = createEncryptedStorage(backing, createMemoryKeyStore());
    await storage.setItem(SLOT, SECRET);
    const raw = backing.getItem(SLOT) ?? '';
    backing.setItem(SLOT, raw.slice(0, -4) + (raw.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
    expect(await storage.getItem(SLOT)).toBeNull();
    backing.setItem(SLOT, SECRET);
    expect(await storage.getItem(SLOT)).toBeNull();
  });

  it('keeps the key in IndexedDB, non-extractable, shared by every page of the origin', async () => {
    const idb = new IDBFactory();
    const first = createIndexedDbKeyStore(idb);
    const key = await first.getKey();
    expect(key.extractable).toBe(false);
    expect(key.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 });
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();

    const backing = createMemoryBackingStore();
    await createEncryptedStorage(backing, first).setItem(SLOT, SECRET);
    const secondPage = createEncryptedStorage(backing, createIndexedDbKeyStore(idb));
    expect(await secondPage.getItem(SLOT)).toBe(SECRET);
  });

  it('two pages creating the key at once end up with the same one', async () => {
    const idb = new IDBFactory();
    const [a, b] = await Promise.all([createIndexedDbKeyStore(idb).getKey(), createIndexedDbKeyStore(idb).getKey()]);
    const backing = createMemoryBackingStore();
    await createEncryptedStorage(backing, { getKey: async () => a, forgetKey: async () => undefined }).setItem(SLOT, SECRET);
    const readWithB = createEncryptedStorage(backing, { getKey: async () => b, forgetKey: async () => undefined });
    expect(await readWithB.getItem(SLOT)).toBe(SECRET);
  });

  it('forgetting the key shreds everything sealed with it', async () => {
    const idb = new IDBFactory();
    const keys = createIndexedDbKeyStore(idb);
    const backing = createMemoryBackingStore();
    const storage = createEncryptedStorage(backing, keys);
    await storage.setItem(SLOT, SECRET);
    await keys.forgetKey();
    expect(await createEncryptedStorage(backing, createIndexedDbKeyStore(idb)).getItem(SLOT)).toBeNull();
  });

  it('runs operations in order: a remove issued after a write is never overtaken by it', async () => {
    const backing = createMemoryBackingStore();
    const storage = createEncryptedStorage(backing, createMemoryKeyStore());
    void storage.setItem(SLOT, SECRET); // not awaited, as redux-persist does
    await storage.removeItem(SLOT);
    await storage.settled();
    expect(backing.keys()).toEqual([]);
  });
});
