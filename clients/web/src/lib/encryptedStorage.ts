import type { KeyStore } from './keyStore.js';

/**
 * A redux-persist storage engine that encrypts every value with AES-GCM before it reaches the
 * backing store (localStorage in the browser). Each value gets a fresh 96-bit IV and is bound to
 * its storage key as additional data, so a ciphertext cannot be replayed into another slot.
 * Operations run one after another: a `removeItem` (purge) issued after a `setItem` can never be
 * overtaken by the slower, asynchronous encryption of that earlier write.
 */

export interface BackingStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface PersistStorage {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

export interface EncryptedStorage extends PersistStorage {
  /** Resolves once every operation queued so far has finished. */
  settled(): Promise<void>;
}

const PREFIX = 'cx1.';

export function createEncryptedStorage(backing: BackingStore, keys: KeyStore): EncryptedStorage {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = queue.then(operation);
    queue = result.catch(() => undefined);
    return result;
  };

  return {
    getItem: (key) =>
      serial(async () => {
        const stored = backing.getItem(key);
        if (stored === null) return null;
        const plain = await decrypt(stored, key, keys).catch(() => null);
        // Unreadable (other key, tampered, pre-encryption format): it is worth nothing, drop it.
        if (plain === null) backing.removeItem(key);
        return plain;
      }),
    setItem: (key, value) =>
      serial(async () => backing.setItem(key, await encrypt(value, key, keys))),
    removeItem: (key) => serial(async () => backing.removeItem(key)),
    settled: () => serial(async () => undefined),
  };
}

async function encrypt(plain: string, slot: string, keys: KeyStore): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encode(slot) },
    await keys.getKey(),
    encode(plain),
  );
  return `${PREFIX}${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

async function decrypt(stored: string, slot: string, keys: KeyStore): Promise<string | null> {
  if (!stored.startsWith(PREFIX)) return null;
  const [iv, sealed] = stored.slice(PREFIX.length).split('.');
  if (!iv || !sealed) return null;
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64(iv), additionalData: encode(slot) },
    await keys.getKey(),
    fromBase64(sealed),
  );
  return new TextDecoder().decode(plain);
}

function encode(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** An in-memory backing store with the `Storage` subset redux-persist needs (tests, fallbacks). */
export function createMemoryBackingStore(): BackingStore & { keys(): string[] } {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
    keys: () => [...items.keys()],
  };
}
