// A line-oriented Playwright driver for the pytest browser tests (tests/web/).
//
// pytest starts one `node e2e/driver.mjs` per test session; it launches Debian's Chromium once
// and then executes commands read as JSON lines on stdin, answering each with one JSON line on
// stdout: {"id": 1, "action": "goto", "args": {...}} -> {"id": 1, "result": ...} or
// {"id": 1, "error": "..."}. The scenarios themselves are written in Python, so pytest can stop
// and restart the real server and replay stolen tokens from outside the browser between steps.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const executablePath = process.env.CLEANEXIT_CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const TIMEOUT_MS = Number(process.env.CLEANEXIT_E2E_TIMEOUT_MS || 10_000);

const browser = await chromium.launch({ executablePath, headless: true, args: ARGS, timeout: 30_000 });
const contexts = new Map();
const pages = new Map();
let nextId = 1;

function context(id) {
  const found = contexts.get(id);
  if (!found) throw new Error(`no context ${id}`);
  return found;
}

function page(id) {
  const found = pages.get(id);
  if (!found) throw new Error(`no page ${id}`);
  return found;
}

const byTestId = (testid) => `[data-testid="${testid}"]`;
const target = (args) => args.selector ?? byTestId(args.testid);

const actions = {
  version: () => ({ browser: browser.version() }),

  async newContext({ initScript, clock = false, viewport = { width: 1280, height: 860 } } = {}) {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    ctx.setDefaultTimeout(TIMEOUT_MS);
    if (initScript) await ctx.addInitScript({ content: initScript });
    // Playwright's controllable clock: time flows as usual until a test pauses it (a laptop
    // that sleeps: no timer of the page runs, while the server's clock goes on).
    if (clock) await ctx.clock.install();
    const id = `c${nextId++}`;
    contexts.set(id, ctx);
    return id;
  },

  async newPage({ context: ctxId }) {
    const p = await context(ctxId).newPage();
    const id = `p${nextId++}`;
    const log = { requests: [], console: [], bearers: [] };
    p.on('request', (r) => {
      log.requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
      // What a network-level thief (or injected script wrapping fetch) sees go by.
      const authorization = r.headers()['authorization'];
      if (authorization) log.bearers.push(authorization);
    });
    p.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => log.console.push(`pageerror: ${e.message}`));
    pages.set(id, Object.assign(p, { cleanexitLog: log }));
    return id;
  },

  async goto({ page: id, url }) {
    await page(id).goto(url, { waitUntil: 'load' });
    return page(id).url();
  },
  async reload({ page: id }) {
    await page(id).reload({ waitUntil: 'load' });
    return page(id).url();
  },
  url: ({ page: id }) => page(id).url(),
  async bringToFront({ page: id }) {
    await page(id).bringToFront();
  },

  async click(args) {
    await page(args.page).locator(target(args)).first().click();
  },
  async fill(args) {
    await page(args.page).locator(target(args)).fill(args.value);
  },
  async waitFor(args) {
    await page(args.page).locator(target(args)).first().waitFor({ state: args.state ?? 'visible', timeout: args.timeout ?? TIMEOUT_MS });
  },
  async waitForUrl({ page: id, url, timeout }) {
    await page(id).waitForURL(url, { timeout: timeout ?? TIMEOUT_MS });
    return page(id).url();
  },
  // Polls from outside the page: Playwright's own waitForFunction evaluates a string predicate
  // with eval() inside the page, which the demo's CSP (script-src 'self') rightly forbids.
  async waitForFunction({ page: id, expression, timeout }) {
    const deadline = Date.now() + (timeout ?? TIMEOUT_MS);
    for (;;) {
      const value = await page(id).evaluate(expression);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${expression}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  async text(args) {
    return page(args.page).locator(target(args)).first().innerText();
  },
  async count(args) {
    return page(args.page).locator(target(args)).count();
  },
  async attr(args) {
    return page(args.page).locator(target(args)).first().getAttribute(args.name);
  },
  async evaluate({ page: id, expression }) {
    return page(id).evaluate(expression);
  },

  /** Everything the origin keeps on the client side, for "no auth data left" assertions. */
  async storage({ page: id }) {
    const p = page(id);
    const inPage = await p.evaluate(async () => {
      const dump = (s) => Object.fromEntries(Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i))]));
      const databases = indexedDB.databases ? await indexedDB.databases() : [];
      const idb = {};
      for (const { name } of databases) {
        idb[name] = await new Promise((resolve) => {
          const open = indexedDB.open(name);
          open.onerror = () => resolve({ error: String(open.error) });
          open.onsuccess = async () => {
            const db = open.result;
            const stores = {};
            for (const storeName of db.objectStoreNames) {
              stores[storeName] = await new Promise((done) => {
                const all = db.transaction(storeName).objectStore(storeName).getAll();
                all.onsuccess = () =>
                  done(all.result.map((v) => (v instanceof CryptoKey ? { cryptoKey: true, extractable: v.extractable, algorithm: v.algorithm.name } : v)));
                all.onerror = () => done({ error: String(all.error) });
              });
            }
            db.close();
            resolve(stores);
          };
        });
      }
      return { localStorage: dump(localStorage), sessionStorage: dump(sessionStorage), indexedDB: idb, documentCookie: document.cookie };
    });
    const cookies = (await p.context().cookies()).map(({ name, value, path, httpOnly, secure, sameSite }) => ({ name, value, path, httpOnly, secure, sameSite }));
    return { url: p.url(), ...inPage, cookies };
  },

  async pauseClock({ page: id }) {
    // pauseAt only moves forward: take the page's own time (it can be ahead of ours when the
    // machine is busy) and pause a little after it.
    const now = await page(id).evaluate(() => Date.now());
    await page(id).clock.pauseAt(Math.max(now, Date.now()) + 250);
  },
  async resumeClock({ page: id }) {
    await page(id).clock.resume();
  },

  async screenshot({ page: id, path, fullPage = true }) {
    await page(id).screenshot({ path, fullPage, animations: 'disabled' });
    return path;
  },
  log: ({ page: id }) => page(id).cleanexitLog,
  clearLog({ page: id }) {
    const log = page(id).cleanexitLog;
    log.requests.length = 0;
    log.console.length = 0;
    log.bearers.length = 0;
  },

  async closeContext({ context: ctxId }) {
    const ctx = context(ctxId);
    for (const [pid, p] of pages) if (p.context() === ctx) pages.delete(pid);
    contexts.delete(ctxId);
    await ctx.close();
  },
  async quit() {
    await browser.close();
    setImmediate(() => process.exit(0));
  },
};

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

reply({ id: 0, result: { ready: true, browser: browser.version() } });

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let request;
    try {
      request = JSON.parse(line);
      const action = actions[request.action];
      if (!action) throw new Error(`unknown action ${request.action}`);
      const result = await action(request.args ?? {});
      reply({ id: request.id, result: result ?? null });
    } catch (error) {
      reply({ id: request?.id ?? null, error: error instanceof Error ? error.message : String(error) });
    }
  });
});
lines.on('close', async () => {
  await queue;
  await browser.close().catch(() => undefined);
  process.exit(0);
});
