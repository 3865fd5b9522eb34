// openid-client 6 (an OpenID-certified relying party) against a real `portcullis serve`: discovery,
// authorization code + PKCE (S256) + nonce + state with the ID token's signature checked by the
// library against our JWKS, userinfo and refresh — for a confidential client (client_secret_basic)
// and a public one (no client authentication, loopback redirect on any port). One server for the
// file; every test has its own person, application and browser.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as client from 'openid-client';

import { Browser, SETTINGS, freePort, startPortcullis } from './harness.mjs';

const SCOPE = 'openid profile email';

let server;

before(async () => {
  server = await startPortcullis();
  await server.admin.settings(SETTINGS);
});

after(async () => {
  if (server) await server.stop();
});

/** Runs a test body; a failure carries the server's last log lines. */
const withLog = (fn) => async (t) => {
  try {
    await fn(t);
  } catch (e) {
    if (server && e instanceof Error) {
      e.message += `\n--- portcullis serve (last log lines) ---\n${server.logText()}`;
    }
    throw e;
  }
};

/** A Configuration from discovery, for http://localhost and with ID token signatures checked. */
function discover(clientId, auth, execute = []) {
  return client.discovery(new URL(server.base), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks, ...execute],
  });
}

/** A person, an application assigned to them, and where its code comes back. */
async function setUp(clientType) {
  const person = await server.admin.createPerson();
  let registered;
  let redirectUri;
  if (clientType === 'confidential') {
    registered = redirectUri = 'https://rp.example.test/oidc/callback';
  } else {
    // A native app: loopback redirect registered without a port, used with one (RFC 8252 §7.3).
    registered = 'http://127.0.0.1/oidc/callback';
    redirectUri = `http://127.0.0.1:${await freePort()}/oidc/callback`;
  }
  const app = await server.admin.createOidcApp(clientType, [registered]);
  assert.equal(app.clientId, app.applicationId);
  assert.equal(Boolean(app.clientSecret), clientType === 'confidential');
  await server.admin.assign(app.applicationId, person);
  const auth =
    clientType === 'confidential' ? client.ClientSecretBasic(app.clientSecret) : client.None();
  return { person, app, auth, redirectUri };
}

/** The person's browser goes to the authorization URL, signs in, and comes back with a code. */
async function authorize(config, person, redirectUri) {
  const checks = {
    pkceCodeVerifier: client.randomPKCECodeVerifier(),
    expectedState: client.randomState(),
    expectedNonce: client.randomNonce(),
    idTokenExpected: true,
  };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
  });
  const landing = await new Browser(server.base, person).visit(url.href);
  return { callback: landing.expectRedirect(redirectUri), checks };
}

test(
  'discovery: the issuer is the public URL and the endpoints are ours',
  withLog(async () => {
    const config = await discover('discovery-only', client.None());
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, server.base);
    assert.equal(meta.authorization_endpoint, `${server.base}/oauth2/authorize`);
    assert.equal(meta.token_endpoint, `${server.base}/oauth2/token`);
    assert.equal(meta.userinfo_endpoint, `${server.base}/oauth2/userinfo`);
    assert.equal(meta.jwks_uri, `${server.base}/oauth2/jwks`);
    assert.ok(meta.supportsPKCE('S256'), 'S256 among code_challenge_methods_supported');
  }),
);

for (const [clientType, method] of [
  ['confidential', 'client_secret_basic'],
  ['public', 'none'],
]) {
  test(
    `${clientType} client (${method}): code + PKCE + nonce + state, ID token signature, userinfo, refresh`,
    withLog(async () => {
      const { person, app, auth, redirectUri } = await setUp(clientType);
      const config = await discover(app.clientId, auth);
      const { callback, checks } = await authorize(config, person, redirectUri);

      const tokens = await client.authorizationCodeGrant(config, callback, checks);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.expires_in > 0);
      assert.ok(tokens.refresh_token, 'refresh_token is among the client grant types');
      const claims = tokens.claims();
      assert.equal(claims.iss, server.base);
      assert.ok([claims.aud].flat().includes(app.clientId));
      assert.equal(claims.nonce, checks.expectedNonce);

      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.sub, claims.sub);
      assert.equal(info.email, person.email);

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.ok(refreshed.refresh_token, 'a new refresh token');
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
      if (refreshed.id_token) assert.equal(refreshed.claims().sub, claims.sub);
      const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
      assert.equal(again.sub, claims.sub);
    }),
  );
}

test(
  'the library refuses an ID token whose signature does not verify against the JWKS',
  withLog(async () => {
    const { person, app, auth, redirectUri } = await setUp('confidential');
    const config = await discover(app.clientId, auth);
    let tampered = false;
    // Flip one character in the middle of the ID token's signature on its way to the client.
    config[client.customFetch] = async (url, options) => {
      const res = await fetch(url, options);
      if (new URL(url).pathname !== '/oauth2/token' || res.status !== 200) return res;
      const body = await res.json();
      const [h, p, s] = body.id_token.split('.');
      const i = Math.floor(s.length / 2);
      body.id_token = `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
      tampered = true;
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      });
    };
    const { callback, checks } = await authorize(config, person, redirectUri);
    await assert.rejects(client.authorizationCodeGrant(config, callback, checks), (e) => {
      assert.ok(tampered, `the token endpoint failed before tampering: ${e}`);
      assert.match(String(e.cause?.message), /JWT signature verification failed/, String(e));
      return true;
    });
  }),
);
