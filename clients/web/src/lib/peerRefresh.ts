/**
 * Remembers when another tab last announced a refresh, and lets a tab whose own refresh lost a
 * race wait a moment for such an announcement (issue 9, finding 4). Times come from the client's
 * injectable clock (`extra.now`).
 */
export interface PeerRefreshes {
  /** Another tab refreshed (its `cleanexit:refreshed` message arrived). */
  heard(): void;
  /** `true` once a refresh was heard at or after `since`, `false` after `timeoutMs` without. */
  waitSince(since: number, timeoutMs: number): Promise<boolean>;
}

export function createPeerRefreshes(now: () => number): PeerRefreshes {
  let last = Number.NEGATIVE_INFINITY;
  const waiters = new Set<() => void>();
  return {
    heard() {
      last = now();
      for (const wake of [...waiters]) wake();
    },
    waitSince(since, timeoutMs) {
      if (last >= since) return Promise.resolve(true);
      return new Promise((resolve) => {
        const settle = (heard: boolean) => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(heard);
        };
        const wake = () => settle(true);
        const timer = setTimeout(() => settle(false), timeoutMs);
        waiters.add(wake);
      });
    },
  };
}
