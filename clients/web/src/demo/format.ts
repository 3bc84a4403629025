export function shortId(id: string | null | undefined): string {
  return id ? `${id.slice(0, 8)}…` : '—';
}

export function clock(epochSeconds: number | null | undefined): string {
  if (!epochSeconds) return '—';
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function ago(epochSeconds: number | null | undefined, now = Date.now()): string {
  if (!epochSeconds) return '—';
  const seconds = Math.max(0, Math.round(now / 1000 - epochSeconds));
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** "HeadlessChrome/1.0 (X11; Linux x86_64)…" -> "Chrome on Linux"; unknown agents pass through. */
export function device(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser =
    /Edg\//.test(userAgent) ? 'Edge'
    : /Firefox\//.test(userAgent) ? 'Firefox'
    : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome'
    : /Safari\//.test(userAgent) ? 'Safari'
    : /^curl\//.test(userAgent) ? 'curl'
    : /python-httpx|python-urllib/i.test(userAgent) ? 'Python'
    : userAgent.split(/[ /]/)[0] ?? 'Unknown';
  const os =
    /Windows/.test(userAgent) ? 'Windows'
    : /Android/.test(userAgent) ? 'Android'
    : /iPhone|iPad/.test(userAgent) ? 'iOS'
    : /Mac OS X/.test(userAgent) ? 'macOS'
    : /Linux/.test(userAgent) ? 'Linux'
    : null;
  return os ? `${browser} on ${os}` : browser;
}

export function timeOfDay(date = new Date()): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
