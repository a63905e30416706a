// A FAPI 2.0 relying party built on openid-client, driven by tests/interop/test_openid_client_fapi2.py.
// Python plays the person's browser and hands this script a JSON file with the agency's setup:
//   {"issuer", "client_id", "redirect_uri", "signing_jwk", "encryption_jwk", "dpop_jwk"}
// (private JWKs, P-256: private_key_jwt signing, ECDH-ES decryption, the DPoP key).
//
//   node fapi2_rp.mjs start  <setup.json>
//     -> {"url", "state", "code_verifier", "nonce", "discovery": {...}}
//        the request is pushed (PAR, authenticated by private_key_jwt, with a DPoP proof) and
//        the URL carries only client_id and request_uri
//   node fapi2_rp.mjs finish <setup.json> <callback_url> <state> <code_verifier> <nonce>
//     -> {"token", "id_token_header", "claims", "userinfo", "refresh", ...}
//        the code is redeemed with private_key_jwt and DPoP; the ID token arrives encrypted
//        (ECDH-ES+A256KW) and openid-client decrypts and validates it; userinfo and the refresh
//        use the DPoP-bound tokens
//
// Output is one JSON document on stdout; tokens are never printed. On failure the script exits 1
// and writes the error and the HTTP exchanges (token values redacted) to stderr.
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { exchanges, recordingFetch, run } from './rp_common.mjs';

const SCOPE = 'openid profile offline_access';

async function importKey(jwk, algorithm, usages) {
  const { d, x, y, crv, kty } = jwk;
  return crypto.subtle.importKey('jwk', { kty, crv, x, y, d }, algorithm, false, usages);
}

async function keyPair(jwk) {
  const { x, y, crv, kty } = jwk;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  return {
    privateKey: await importKey(jwk, algorithm, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y }, algorithm, true,
                                             ['verify']),
  };
}

async function setup(path) {
  const s = JSON.parse(readFileSync(path, 'utf8'));
  const signing = await importKey(s.signing_jwk, { name: 'ECDSA', namedCurve: 'P-256' },
                                  ['sign']);
  const config = await client.discovery(
    new URL(s.issuer),
    s.client_id,
    { id_token_signed_response_alg: 'ES256' },
    client.PrivateKeyJwt({ key: signing, kid: s.signing_jwk.kid }),
    { execute: [client.allowInsecureRequests], [client.customFetch]: recordingFetch },
  );
  config[client.customFetch] = recordingFetch;
  const decryption = await importKey(s.encryption_jwk, { name: 'ECDH', namedCurve: 'P-256' },
                                     ['deriveBits']);
  client.enableDecryptingResponses(config, ['A256GCM', 'A256CBC-HS512'],
                                   { key: decryption, alg: 'ECDH-ES+A256KW',
                                     kid: s.encryption_jwk.kid });
  const dpop = client.getDPoPHandle(config, await keyPair(s.dpop_jwk));
  return { s, config, dpop };
}

function discoverySummary(config) {
  const m = config.serverMetadata();
  return {
    issuer: m.issuer,
    pushed_authorization_request_endpoint: m.pushed_authorization_request_endpoint ?? null,
    dpop_signing_alg_values_supported: m.dpop_signing_alg_values_supported ?? null,
    id_token_encryption_alg_values_supported: m.id_token_encryption_alg_values_supported ?? null,
  };
}

function tokenSummary(tokens) {
  return {
    token_type: tokens.token_type,
    scope: tokens.scope ?? null,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    has_id_token: typeof tokens.id_token === 'string',
  };
}

async function start([path]) {
  const { s, config, dpop } = await setup(path);
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: s.redirect_uri,
    scope: SCOPE,
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }, { DPoP: dpop });
  return { url: url.href, state, code_verifier: codeVerifier, nonce,
           query_keys: [...url.searchParams.keys()].sort(),
           discovery: discoverySummary(config) };
}

async function finish([path, callbackUrl, state, codeVerifier, nonce]) {
  const { config, dpop } = await setup(path);
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce,
    idTokenExpected: true,
  }, undefined, { DPoP: dpop });
  const out = { token: tokenSummary(tokens) };
  out.id_token_header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url'));
  out.claims = tokens.claims();
  out.userinfo = await client.fetchUserInfo(config, tokens.access_token, out.claims.sub,
                                            { DPoP: dpop });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined,
                                                   { DPoP: dpop });
  out.refresh = { ...tokenSummary(refreshed),
                  claims: refreshed.id_token ? refreshed.claims() : null };
  const again = await client.fetchUserInfo(config, refreshed.access_token, out.claims.sub,
                                           { DPoP: dpop });
  out.userinfo_after_refresh = { sub: again.sub };
  out.exchanges = exchanges.map(({ method, url, status, dpop: withProof }) => (
    { method, url, status, dpop: withProof }));
  return out;
}

await run('fapi2_rp.mjs', { start: [start, 1], finish: [finish, 5] },
  'usage: node fapi2_rp.mjs start <setup.json>\n'
    + '       node fapi2_rp.mjs finish <setup.json> <callback_url> <state> <code_verifier> <nonce>\n');
