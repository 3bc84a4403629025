// A real OpenID Provider for cleanexit's resource-server tests (issue 11): panva's
// oidc-provider (OpenID Certified), configured from the JSON file named on the command line.
//
// It signs users in through its own endpoints (authorization code + PKCE, its development
// login and consent pages), issues JWT access tokens (RFC 9068) for one resource server, and
// sends OpenID Connect Back-Channel Logout tokens itself when a session ends at
// /session/end. Every back-channel call it makes is also written to stdout as one JSON line
// ({"event": "backchannel", ...}), so a test can replay the OP's own token; nothing in this
// file signs a token for the test.
//
// Its outgoing requests are SSRF-guarded (no loopback or private addresses). The tests run
// everything on 127.0.0.1, so the `fetch` hook below lets through exactly the origins the
// test names ("allow") and refuses every other URL: the guard is narrowed for the test, and
// cleanexit is not weakened in any way.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const allowed = new Set(config.allow);

function say(event) {
  process.stdout.write(`${JSON.stringify({ at: Date.now() / 1000, ...event })}\n`);
}

async function fetchForTest(url, options) {
  const { origin } = new URL(url);
  if (!allowed.has(origin)) {
    throw new Error(`outgoing request to ${origin} refused: not one of the test's servers`);
  }
  // fetch_request.js attaches an SSRF-checking dispatcher that refuses 127.0.0.1; the
  // allow-list above replaces it for these loopback origins only.
  const { dispatcher, ...rest } = options;
  const body = rest.body instanceof URLSearchParams ? rest.body : null;
  const started = Date.now() / 1000;
  const response = await globalThis.fetch(url, rest);
  if (body && body.has('logout_token')) {
    say({
      event: 'backchannel',
      url,
      status: response.status,
      started,
      logout_token: body.get('logout_token'),
    });
  }
  return response;
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: config.keys },
  cookies: { keys: [config.cookie_key] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders:read',
        audience: config.resource,
        accessTokenTTL: config.access_ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: config.access_alg } },
      }),
    },
  },
  // The access token names its session (sid), as Keycloak's and Entra ID's do: a back-channel
  // logout of that session then stops exactly its tokens.
  extraTokenClaims: async (ctx, token) => (token.sid ? { sid: token.sid } : undefined),
  fetch: fetchForTest,
});

provider.on('backchannel.error', (ctx, error, client) => {
  say({ event: 'backchannel.error', client: client.clientId, error: String(error) });
});
provider.on('server_error', (ctx, error) => say({ event: 'server_error', error: String(error) }));

const server = provider.listen(config.port, '127.0.0.1', () => say({ event: 'ready' }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
