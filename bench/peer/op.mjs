// The reference provider for bench/token_bench.py: oidc-provider (panva's certified Node.js
// OpenID Provider) configured as close to ours as its options allow, so the two are compared
// like with like (see /work/shared/reference/bench-peer.md and bench/README.md):
//
//   - PKCE required for every client, as we require it (v9 forces it only for public clients);
//   - opaque access tokens (no resource indicator is asked for, so none becomes a JWT);
//   - one confidential client, client_secret_basic, with the grants authorization_code,
//     refresh_token and client_credentials, ID tokens signed ES256 (our default);
//   - refresh tokens issued with every code (issueRefreshToken overridden: by default it
//     wants offline_access, which needs a consent prompt) and rotated on every use, as ours
//     are (by default it rotates only public clients' tokens);
//   - token lifetimes as ours: access 600 s, code 60 s, ID token 600 s, refresh 30 days;
//   - introspection and revocation on; userinfo on (its default);
//   - its development login and consent pages (devInteractions), which a script can fill in:
//     any login name is an account, any password is accepted.
//
// Its store is the default in-memory adapter: an LRU of 1,000 entries, so under load it keeps
// almost nothing (bench output says so). The benchmark compares our in-process store with it
// and reports our PostgreSQL + Redis figures as a row of their own.
//
//   node op.mjs <client_id> <client_secret> <redirect_uri> [port]
//     -> prints {"issuer": "http://127.0.0.1:<port>"} on one line once it listens
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri, portArg] = process.argv.slice(2);
if (!clientId || !clientSecret || !redirectUri) {
  process.stderr.write('usage: node op.mjs <client_id> <client_secret> <redirect_uri> [port]\n');
  process.exit(2);
}

// One ES256 signing key, made fresh for this run: the same algorithm our ID tokens use.
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

// Fictional claims, the same for every login name (the benchmark logs in as "somchai").
const PROFILE = {
  name: 'สมชาย ใจดี', given_name: 'สมชาย', family_name: 'ใจดี', locale: 'th',
};

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope: 'openid profile offline_access',
  }],
  claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name', 'locale'] },
  scopes: ['openid', 'profile', 'offline_access'],
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    RefreshToken: 30 * 24 * 3600,
    Interaction: 600,
    Session: 8 * 3600,
    Grant: 30 * 24 * 3600,
  },
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, ...PROFILE }; } };
  },
};

const server = http.createServer();
server.listen(Number(portArg || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.closeAllConnections?.(); server.close(() => process.exit(0)); });
}
