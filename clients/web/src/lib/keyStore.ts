/**
 * Where the at-rest encryption key lives: an AES-GCM `CryptoKey` generated non-extractable and
 * stored as an object in IndexedDB (structured clone keeps it opaque). Script in this origin can
 * use it, but nobody can read its bytes, so a copy of localStorage taken elsewhere (a shared
 * machine, a backup, a disk image) cannot be decrypted (ASVS 5 V14.3).
 */

export interface KeyStore {
  /** The current key, created on first use. */
  getKey(): Promise<CryptoKey>;
  /** Deletes the key: everything encrypted under it becomes unreadable (crypto-shredding). */
  forgetKey(): Promise<void>;
}

const DB_NAME = 'cleanexit';
const STORE = 'keys';
const KEY_ID = 'persist-v1';

export function generateStorageKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

// `indexedDB` is looked up on first use, not at creation: a module that creates the store is
// also evaluated on a server (Next.js), where there is none.
export function createIndexedDbKeyStore(factory?: IDBFactory): KeyStore {
  const idb = () => factory ?? indexedDB;
  let cached: Promise<CryptoKey> | null = null;

  async function loadOrCreate(): Promise<CryptoKey> {
    const db = await open(idb());
    try {
      const existing = await get(db);
      if (existing) return existing;
      const fresh = await generateStorageKey();
      // `add` fails if another tab created a key meanwhile: then everyone uses that one.
      return (await add(db, fresh)) ? fresh : ((await get(db)) ?? fresh);
    } finally {
      db.close();
    }
  }

  return {
    getKey() {
      cached ??= loadOrCreate().catch((error: unknown) => {
        cached = null;
        throw error;
      });
      return cached;
    },
    async forgetKey() {
      cached = null;
      const db = await open(idb());
      try {
        await run(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(KEY_ID));
      } finally {
        db.close();
      }
    },
  };
}

/** A key that lives and dies with the page: for tests and for browsers without IndexedDB. */
export function createMemoryKeyStore(): KeyStore {
  let key: Promise<CryptoKey> | null = null;
  return {
    getKey: () => (key ??= generateStorageKey()),
    forgetKey: async () => {
      key = null;
    },
  };
}

function open(idb: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = idb.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB open failed'));
    request.onblocked = () => reject(new Error('IndexedDB open blocked'));
  });
}

async function get(db: IDBDatabase): Promise<CryptoKey | undefined> {
  const value = await run(db.transaction(STORE, 'readonly').objectStore(STORE).get(KEY_ID));
  return value instanceof CryptoKey ? value : undefined;
}

async function add(db: IDBDatabase, key: CryptoKey): Promise<boolean> {
  try {
    await run(db.transaction(STORE, 'readwrite').objectStore(STORE).add(key, KEY_ID));
    return true;
  } catch (error) {
    if (error instanceof DOMException && error.name === 'ConstraintError') return false;
    throw error;
  }
}

function run<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = (event) => {
      event.preventDefault(); // keep a failed `add` from aborting noisily; we report it instead
      reject(request.error ?? new Error('IndexedDB request failed'));
    };
  });
}
