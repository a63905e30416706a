// A relying party built on openid-client (panva's certified Node.js RP library), driven by
// tests/interop/test_openid_client.py. Python plays the person's browser; this script plays the
// agency's back end, in two steps:
//
//   node rp.mjs start  <issuer> <client_id> <client_secret> <redirect_uri>
//     -> {"url", "state", "code_verifier", "nonce", "discovery": {...}}
//   node rp.mjs finish <issuer> <client_id> <client_secret> <callback_url> <state> <code_verifier> <nonce>
//     -> {"discovery", "token", "id_token_header", "claims", "userinfo", "refresh", ...}
//
// Output is one JSON document on stdout. Tokens are never printed: only booleans and lengths.
// On failure the script exits 1 and writes the error, and the HTTP exchanges it made (with
// token values redacted), to stderr.
import * as client from 'openid-client';
import { recordingFetch, run } from './rp_common.mjs';

// The client registers for ES256 ID tokens (the provider's default); declaring it here makes
// openid-client reject an ID token signed with anything else.
const ID_TOKEN_ALG = 'ES256';
const SCOPE = 'openid profile email phone address offline_access';

async function discover(issuer, clientId, clientSecret) {
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { id_token_signed_response_alg: ID_TOKEN_ALG },
    client.ClientSecretBasic(clientSecret),
    {
      // The provider under test is served over plain http on 127.0.0.1. openid-client v6
      // refuses non-https endpoints unless told otherwise; this opt-out is for the test only,
      // a real agency talks to the provider over https.
      execute: [client.allowInsecureRequests],
      [client.customFetch]: recordingFetch,
    },
  );
  config[client.customFetch] = recordingFetch;
  return config;
}

function discoverySummary(config) {
  const m = config.serverMetadata();
  return {
    issuer: m.issuer,
    authorization_endpoint: m.authorization_endpoint,
    token_endpoint: m.token_endpoint,
    userinfo_endpoint: m.userinfo_endpoint,
    jwks_uri: m.jwks_uri,
    authorization_response_iss_parameter_supported:
      m.authorization_response_iss_parameter_supported ?? null,
    code_challenge_methods_supported: m.code_challenge_methods_supported ?? null,
    supportsPKCE: config.serverMetadata().supportsPKCE('S256'),
  };
}

function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

function tokenSummary(tokens) {
  return {
    token_type: tokens.token_type,
    expires_in: tokens.expires_in ?? null,
    scope: tokens.scope ?? null,
    access_token_length: tokens.access_token?.length ?? 0,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    has_id_token: typeof tokens.id_token === 'string',
  };
}

async function start([issuer, clientId, clientSecret, redirectUri]) {
  const config = await discover(issuer, clientId, clientSecret);
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    // OIDC Core 11: offline_access is honoured only together with prompt=consent.
    prompt: 'consent',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url: url.href, state, code_verifier: codeVerifier, nonce,
           discovery: discoverySummary(config) };
}

async function finish([issuer, clientId, clientSecret, callbackUrl, state, codeVerifier, nonce]) {
  const config = await discover(issuer, clientId, clientSecret);
  const out = { discovery: discoverySummary(config) };

  // Validates the authorization response (state, and iss per RFC 9207), redeems the code with
  // the PKCE verifier, and validates the ID token (signature against jwks_uri, alg, iss, aud,
  // exp, iat, nonce).
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  out.token = tokenSummary(tokens);
  out.id_token_header = jwtHeader(tokens.id_token);
  const claims = tokens.claims();
  out.claims = claims;

  // Checks the userinfo response's sub against the ID token's (OIDC Core 5.3.2).
  out.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  // Validates any ID token in the refresh response as well.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  out.refresh = {
    ...tokenSummary(refreshed),
    new_access_token: typeof refreshed.access_token === 'string'
      && refreshed.access_token !== tokens.access_token,
    new_refresh_token: typeof refreshed.refresh_token === 'string'
      && refreshed.refresh_token !== tokens.refresh_token,
    claims: refreshed.id_token ? refreshed.claims() : null,
  };
  const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  out.userinfo_after_refresh = { sub: again.sub };
  return out;
}

await run('rp.mjs', { start: [start, 4], finish: [finish, 7] },
  'usage: node rp.mjs start <issuer> <client_id> <client_secret> '
    + '<redirect_uri>\n       node rp.mjs finish <issuer> <client_id> <client_secret> '
    + '<callback_url> <state> <code_verifier> <nonce>\n');
