import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IDBFactory } from 'fake-indexeddb';
import { vi } from 'vitest';
import {
  createCleanexitClient,
  createIndexedDbKeyStore,
  createMemoryBackingStore,
  createPendingLogout,
  PERSIST_KEY,
} from '../src/lib';

/** A real HTTP server on 127.0.0.1 playing the cleanexit API; each test scripts its answers. */
export interface FakeApi {
  baseUrl: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void;

export async function startFakeApi(handler: Handler): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: text ? (JSON.parse(text) as unknown) : null,
      };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An address where nothing listens: a port we bound, then released. */
export async function unreachableBaseUrl(): Promise<string> {
  const api = await startFakeApi(() => undefined);
  await api.close();
  return api.baseUrl;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

export const ACCESS_TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.c2lnbmF0dXJl';
export const SESSION_ID = 'sid-0123456789';

export function tokenBody(accessToken = ACCESS_TOKEN) {
  return { access_token: accessToken, token_type: 'Bearer', expires_in: 600, session_id: SESSION_ID, csrf_token: 'csrf-1' };
}

/** Answers login and refresh like the server does; everything else via `rest`. */
export function apiHandler(rest: Handler): Handler {
  return (req, res) => {
    if (req.path === '/auth/login' || req.path === '/auth/refresh') json(res, 200, tokenBody());
    else rest(req, res);
  };
}

/**
 * A client as the browser builds it, with Node stand-ins for the browser parts: a memory
 * backing store for localStorage, fake-indexeddb for the key, a spy for navigation, and a
 * real BroadcastChannel (Node has one) on a name unique to the test.
 */
export function makeClient(baseUrl: string, overrides: Partial<Parameters<typeof createCleanexitClient>[0]> = {}) {
  const backing = createMemoryBackingStore();
  const idb = new IDBFactory();
  const keyStore = createIndexedDbKeyStore(idb);
  const channelName = `cleanexit-test-${Math.random().toString(36).slice(2)}`;
  const events: string[] = [];
  const navigate = vi.fn((to: string) => {
    events.push(`navigate ${to} (persisted: ${backing.getItem(`persist:${PERSIST_KEY}`) !== null})`);
  });
  const reports = vi.fn();
  const cookiesDeleted: string[] = [];
  const client = createCleanexitClient({
    baseUrl,
    backing,
    keyStore,
    navigate,
    pending: createPendingLogout(null),
    readCookie: () => null,
    deleteCookie: (name: string) => void cookiesDeleted.push(name),
    locks: null,
    logoutTimeoutMs: 300,
    channel: { name: channelName },
    onLogoutReport: reports,
    ...overrides,
  });
  return { ...client, backing, idb, keyStore, channelName, navigate, reports, events, cookiesDeleted };
}

export async function persisted(client: ReturnType<typeof makeClient>): Promise<string | null> {
  await client.persistor.flush();
  await client.storage.settled();
  return client.backing.getItem(`persist:${PERSIST_KEY}`);
}
