/**
 * The attacker: keeps a copy of the access token, as XSS, a leaked log or a copied header would,
 * and replays it with a plain fetch (no API client, no cookies), like `curl` from elsewhere.
 * It lives outside the app's store and storage: the app's logout cannot make it forget, and it
 * should not need to. Only the server can make this copy worthless.
 */
export interface ReplayResult {
  at: Date;
  status: number | null;
  detail: string;
  /** The session was already logged out when this replay was sent. */
  afterLogout: boolean;
}

export interface Attacker {
  stolen: string | null;
  stolenAt: Date | null;
  replays: ReplayResult[];
  steal(token: string): void;
  replay(afterLogout: boolean): Promise<ReplayResult>;
  forgetAll(): void;
}

export function createAttacker(onChange: () => void): Attacker {
  const attacker: Attacker = {
    stolen: null,
    stolenAt: null,
    replays: [],
    steal(token) {
      attacker.stolen = token;
      attacker.stolenAt = new Date();
      attacker.replays = [];
      onChange();
    },
    async replay(afterLogout) {
      const token = attacker.stolen;
      if (!token) throw new Error('nothing stolen yet');
      const result = await send(token, afterLogout);
      attacker.replays = [result, ...attacker.replays].slice(0, 8);
      onChange();
      return result;
    },
    forgetAll() {
      attacker.stolen = null;
      attacker.stolenAt = null;
      attacker.replays = [];
      onChange();
    },
  };
  return attacker;
}

async function send(token: string, afterLogout: boolean): Promise<ReplayResult> {
  const at = new Date();
  try {
    const response = await fetch('/me', {
      headers: { Authorization: `Bearer ${token}` },
      credentials: 'omit',
      cache: 'no-store',
    });
    const challenge = response.headers.get('WWW-Authenticate') ?? '';
    const description = /error_description="([^"]*)"/.exec(challenge)?.[1];
    const detail = response.ok ? 'token accepted: the attacker reads /me' : (description ?? response.statusText);
    return { at, status: response.status, detail, afterLogout };
  } catch (error) {
    return { at, status: null, detail: `no answer (${error instanceof Error ? error.message : String(error)})`, afterLogout };
  }
}
