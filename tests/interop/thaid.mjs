// A ThaID-style upstream OpenID provider built on oidc-provider (panva's certified Node.js
// OpenID Provider), started by tests/interop/test_thaid_upstream.py. It plays DOPA's ThaID:
// scopes named after the claims they release (pid, name, given_name, ..., ial), `ial` a string,
// one confidential client (ours) with PKCE required, and an in-memory list of people.
//
//   node thaid.mjs <client_id> <client_secret> <redirect_uri> [claims-in-id-token]
//     -> prints {"issuer": "http://127.0.0.1:<port>"} on one line once it listens
//
// People log in through oidc-provider's development interaction pages (devInteractions): the
// login form takes any login name as the account id, and a consent form follows. Unknown
// login names have no account. With `claims-in-id-token`, the people's claims also come in
// the ID token; otherwise (oidc-provider's default, conformIdTokenClaims) only in userinfo.
import http from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri, mode] = process.argv.slice(2);
if (!clientId || !clientSecret || !redirectUri) {
  process.stderr.write('usage: node thaid.mjs <client_id> <client_secret> <redirect_uri>\n');
  process.exit(2);
}

function person(pid, th, en, extra) {
  return {
    pid,
    title: th.title,
    given_name: th.given,
    family_name: th.family,
    name: `${th.title}${th.given} ${th.family}`,
    title_en: en.title,
    given_name_en: en.given,
    family_name_en: en.family,
    name_en: `${en.title} ${en.given} ${en.family}`,
    ial: '2.3',
    ...extra,
  };
}

// Test people only: fictional names; the citizen IDs are valid-check-digit test numbers.
const PEOPLE = {
  // A new person to us.
  somsri: person('1345951597671',
    { title: 'นาง', given: 'สมศรี', family: 'ใจดี' },
    { title: 'Mrs.', given: 'Somsri', family: 'Jaidee' },
    {
      birthdate: '1985-04-12',
      gender: 'female',
      address: { formatted: '99 ถนนพหลโยธิน แขวงสามเสนใน เขตพญาไท กรุงเทพมหานคร 10400' },
    }),
  // The same citizen ID as the sandbox persona "malee": logging in links to her person.
  malee: person('1234567890121',
    { title: 'นางสาว', given: 'มาลี', family: 'ศรีสุข' },
    { title: 'Ms.', given: 'Malee', family: 'Srisuk' },
    { birthdate: '1992-08-30', gender: 'female' }),
  // ThaID without a citizen ID: must not become a person.
  nopid: (({ pid, ...rest }) => rest)(person('6000000000000',
    { title: 'นาย', given: 'ไร้', family: 'เลข' },
    { title: 'Mr.', given: 'Rai', family: 'Lek' }, {})),
};

const SCOPES = ['pid', 'name', 'given_name', 'family_name', 'name_en', 'given_name_en',
  'family_name_en', 'title', 'title_en', 'birthdate', 'gender', 'address', 'ial'];

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'thaid-test-1', alg: 'RS256', use: 'sig' };

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  // ThaID names each scope after the one claim it releases.
  claims: Object.fromEntries([['openid', ['sub']], ...SCOPES.map((s) => [s, [s]])]),
  scopes: ['openid', ...SCOPES],
  conformIdTokenClaims: mode !== 'claims-in-id-token',
  pkce: { required: () => true },
  jwks: { keys: [signingKey] },
  cookies: { keys: ['thaid-test-cookie-key-not-secret'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = PEOPLE[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
