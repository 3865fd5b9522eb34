// The consent page in Debian's Chromium: a client that registered itself through the SSO-OIDC
// API (as the AWS CLI does, and as an attacker can) sends a signed-in person to /authorize; the
// person sees who asks and for what, and only "Allow" sends a code to the loopback callback. The
// answer is remembered, listed under Connected apps and withdrawn there. Every page is
// checked with axe-core.

import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { assertAccessible, uniqueName, useEnvironment } from './harness.mjs';

const PASSWORD = 'Tr1cky-Horse-Battery';
const MFA_OFF = { emailOtp: false, mfa: { prompt: 'NEVER', noDeviceAction: 'ALLOW' } };

let env;
let ctx;
let cli; // the loopback callback: { port, hits: URL[], close() }

/** What the AWS CLI listens on during `aws sso login`: a loopback callback. */
function startCallback() {
  const hits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    // Only the callback counts (the browser also asks for a favicon).
    if (url.pathname === '/oauth/callback') hits.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>CLI</title><h1>You can close this window</h1></html>');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        hits,
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

useEnvironment({
  extra: () => startCallback(),
  set: (s) => ({ env, ctx, extra: cli } = s),
});

async function registerClient(name) {
  const resp = await fetch(`${env.base}/client/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      clientName: name,
      clientType: 'public',
      scopes: ['sso:account:access'],
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1/oauth/callback'],
    }),
  });
  assert.equal(resp.status, 200);
  return resp.json();
}

function authorizeUrl(reg) {
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: reg.clientId,
    redirect_uri: `http://127.0.0.1:${cli.port}/oauth/callback`,
    state: 'st-123',
    code_challenge_method: 'S256',
    scopes: 'sso:account:access',
    code_challenge: challenge,
  });
  return `/authorize?${q}`;
}

async function signIn(page, userName) {
  await page.goto('/start');
  await page.locator('#username').fill(userName);
  let loaded = page.waitForEvent('load');
  await page.getByRole('button', { name: 'Next' }).click();
  await loaded;
  await page.locator('#password').fill(PASSWORD);
  loaded = page.waitForEvent('load');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await loaded;
  assert.equal(new URL(page.url()).pathname, '/portal');
}

async function person() {
  await env.admin.settings(MFA_OFF);
  const userName = uniqueName('cora');
  const id = await env.admin.createUser({ userName, email: `${userName}@example.com` });
  await env.admin.setPassword(id, PASSWORD);
  return userName;
}

test('a self-registered client asks first; Allow sends the code, Deny does not', async () => {
  const userName = await person();
  const { page } = ctx;
  await signIn(page, userName);
  await assertAccessible(page, 'the portal');

  const reg = await registerClient('Sneaky CLI');
  cli.hits.length = 0;
  await page.goto(authorizeUrl(reg));
  // The consent page: who asks, what it gets, where the answer goes.
  assert.equal(new URL(page.url()).pathname, '/authorize');
  assert.equal(cli.hits.length, 0, 'nothing reached the callback');
  const heading = page.getByRole('heading', { level: 1 });
  assert.match(await heading.innerText(), /Allow Sneaky CLI to act as you\?/);
  const body = await page.locator('main').innerText();
  assert.match(body, /registered itself; your administrator has not\s+reviewed it/);
  assert.match(body, /will be able to access your AWS accounts/);
  assert.match(body, /sso:account:access/);
  assert.match(body, new RegExp(`http://127\\.0\\.0\\.1:${cli.port}`));
  assert.match(body, new RegExp(reg.clientId));
  await assertAccessible(page, 'the consent page');
  // Keyboard first: the Allow button is reachable and labelled.
  const allow = page.getByRole('button', { name: 'Allow' });
  const deny = page.getByRole('button', { name: 'Deny' });
  assert.equal(await allow.isVisible(), true);
  assert.equal(await deny.isVisible(), true);

  // Deny: the client hears access_denied and gets no code.
  let arrived = page.waitForURL((u) => u.port === String(cli.port));
  await deny.click();
  await arrived;
  assert.equal(cli.hits.length, 1);
  assert.equal(cli.hits[0].searchParams.get('error'), 'access_denied');
  assert.equal(cli.hits[0].searchParams.get('code'), null);

  // Allow: the code arrives at the loopback callback.
  await page.goto(authorizeUrl(reg));
  arrived = page.waitForURL((u) => u.port === String(cli.port));
  await page.getByRole('button', { name: 'Allow' }).click();
  await arrived;
  assert.equal(cli.hits.length, 2);
  assert.ok(cli.hits[1].searchParams.get('code'), 'a code');
  assert.equal(cli.hits[1].searchParams.get('state'), 'st-123');

  // Remembered: the next request goes straight to the callback.
  arrived = page.waitForURL((u) => u.port === String(cli.port));
  await page.goto(authorizeUrl(reg));
  await arrived;
  assert.ok(cli.hits[2].searchParams.get('code'));

  // Connected apps lists it; withdrawing it asks again next time.
  await page.goto('/portal/connected');
  await assertAccessible(page, 'the connected applications page');
  const entry = page.locator('article.connected-app', { hasText: 'Sneaky CLI' });
  assert.equal(await entry.count(), 1);
  let loaded = page.waitForEvent('load');
  await entry.getByRole('button', { name: 'Withdraw access' }).click();
  await loaded;
  assert.match(await page.getByRole('status').innerText(), /Access was withdrawn/);
  assert.equal(await page.locator('article.connected-app', { hasText: 'Sneaky CLI' }).count(), 0);
  await assertAccessible(page, 'the connected applications page, emptied');
  await page.goto(authorizeUrl(reg));
  assert.equal(new URL(page.url()).pathname, '/authorize', 'asked again');
  assert.equal(cli.hits.length, 3);
});
