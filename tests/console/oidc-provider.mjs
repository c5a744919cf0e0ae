// A real OpenID provider for the console's single sign-on test: node-oidc-provider (certified by
// the OpenID Foundation) with its development login and consent pages, where any login signs in.
// It prints its issuer URL, reads the console's callback URL on standard input (the console's
// port is known only once it started with this issuer), registers the client `midship` with
// that redirect URL, and prints "ready".
//
// Usage: node oidc-provider.mjs   (stdin: the redirect URL; stdout: {"issuer": …} then "ready")
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import Provider from 'oidc-provider';

export const CLIENT_ID = 'midship';
export const CLIENT_SECRET = 'a client secret only this test knows';

const server = createServer();
// Every interface, so `localhost` reaches it over IPv4 and IPv6 alike.
await new Promise((resolve) => server.listen(0, resolve));
const issuer = `http://localhost:${server.address().port}`;
console.log(JSON.stringify({ issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));

const lines = createInterface({ input: process.stdin });
const redirectUri = await new Promise((resolve) => lines.once('line', (line) => resolve(line.trim())));

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  // Every login the development page takes is an account whose username is that login.
  findAccount: (_context, accountId) => ({
    accountId,
    claims: () => ({ sub: accountId, preferred_username: accountId, email: `${accountId}@metro.example`, email_verified: true }),
  }),
  claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email', 'email_verified'] },
  // The ID token carries the profile claims (the console reads no userinfo).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});
provider.on('server_error', (_context, error) => console.error('provider error', error));
server.on('request', provider.callback());
console.log('ready');
