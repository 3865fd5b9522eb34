// The portal's Accounts tab in Debian's Chromium: the filter box (a script file, as the CSP
// demands), an account's roles, the Access keys page, and the Management console link, which
// lands on a tiny local "console" that receives the signed sign-in token.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { uniqueName, useEnvironment } from './harness.mjs';

const PASSWORD = 'Tr1cky-Horse-Battery';
const MFA_OFF = { emailOtp: false, mfa: { prompt: 'NEVER', noDeviceAction: 'ALLOW' } };

let env;
let ctx;
let consoleServer; // { url, hits: URL[], close() }

/** A local HTTP server standing in for an account's console: records every request's URL. */
function startConsole() {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(new URL(req.url, 'http://127.0.0.1'));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Test console</title><h1>Test console</h1>');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/console?team=ops`,
        origin: `http://127.0.0.1:${port}`,
        hits,
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

useEnvironment({
  extra: () => startConsole(),
  set: (s) => ({ env, ctx, extra: consoleServer } = s),
});

/** A random 12-digit account id. */
function accountId() {
  return String(100000000000 + Math.floor(Math.random() * 899999999999));
}

/** The JSON claims of a JWT (not verified here: the e2e suite verifies it against the JWKS). */
function claimsOf(jwt) {
  const [, payload] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
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

test('Accounts tab: filter, roles, Access keys page and the console link', async () => {
  await env.admin.settings(MFA_OFF);
  const userName = uniqueName('grace');
  const userId = await env.admin.createUser({ userName, email: `${userName}@example.com` });
  await env.admin.setPassword(userId, PASSWORD);

  // Six accounts, one of them with a console; the person holds a role in each.
  const tag = accountId().slice(-5);
  const role = `Operator-${tag}`;
  const ps = await env.admin.expect(201, 'POST', 'permission-sets', { name: role });
  const accounts = [];
  for (const name of ['Billing', 'Sandbox', 'Analytics', 'Payments', 'Staging', 'Production']) {
    const id = accountId();
    const body = { accountId: id, name: `${name} ${tag}`, email: `${name.toLowerCase()}@example.com` };
    if (name === 'Production') body.consoleUrl = consoleServer.url;
    await env.admin.expect(201, 'POST', 'accounts', body);
    await env.admin.expect(201, 'POST', 'assignments', {
      accountId: id,
      permissionSetId: ps.permissionSetId,
      principalType: 'USER',
      principalId: userId,
    });
    accounts.push({ id, name: body.name });
  }
  const production = accounts.find((a) => a.name.startsWith('Production'));

  const { page } = ctx;
  await signIn(page, userName);
  const visible = page.locator('#accounts details.account:visible');
  assert.equal(await visible.count(), 6);

  // The filter narrows the list by name, by account id, and says when nothing matches.
  const filter = page.getByLabel('Filter accounts');
  await filter.fill('prod');
  assert.equal(await visible.count(), 1);
  assert.match(await visible.locator('summary strong').innerText(), /^Production /);
  await filter.fill(accounts[1].id);
  assert.equal(await visible.count(), 1);
  assert.match(await visible.locator('summary strong').innerText(), /^Sandbox /);
  await filter.fill('no such account');
  assert.equal(await visible.count(), 0);
  assert.equal(await page.locator('#account-filter-none').isVisible(), true);
  await filter.fill('Production');
  assert.equal(await visible.count(), 1);
  assert.equal(await page.locator('#account-filter-none').isVisible(), false);

  // Expanding the account shows its role with both actions; others have no console.
  const account = visible.first();
  await account.locator('summary').click();
  const item = account.locator('ul.roles li');
  assert.equal(await item.isVisible(), true);
  assert.equal(await item.locator('.role-name').innerText(), role);
  await item.getByRole('link', { name: /Management console/ }).waitFor();
  await item.getByRole('button', { name: /Access keys/ }).waitFor();
  assert.equal(await page.locator('#accounts a.action').count(), 1, 'one console link in all');
  assert.equal(await page.locator('#accounts button.action').count(), 6, 'Access keys for every role');

  // Access keys: the three values, the expiry and the snippets.
  let loaded = page.waitForEvent('load');
  await item.getByRole('button', { name: /Access keys/ }).click();
  await loaded;
  assert.equal(
    new URL(page.url()).pathname,
    `/portal/accounts/${production.id}/roles/${role}/credentials`,
  );
  const akid = (await page.locator('#access-key-id').innerText()).trim();
  const secret = (await page.locator('#secret-access-key').innerText()).trim();
  const token = (await page.locator('#session-token').innerText()).trim();
  assert.match(akid, /^ASIA[A-Z2-7]{16}$/);
  assert.equal(secret.length, 40);
  assert.ok(token.length > 40);
  const expires = Date.parse(await page.locator('#expiration').innerText());
  assert.ok(expires > Date.now() + 50 * 60_000 && expires <= Date.now() + 61 * 60_000, 'about an hour');
  assert.match(await page.locator('#snippet-bash').innerText(), new RegExp(`export AWS_ACCESS_KEY_ID="${akid}"`));
  assert.match(await page.locator('#snippet-powershell').innerText(), new RegExp(`\\$Env:AWS_ACCESS_KEY_ID="${akid}"`));
  assert.match(await page.locator('#snippet-cmd').innerText(), new RegExp(`set AWS_ACCESS_KEY_ID=${akid}`));
  assert.match(await page.locator('#snippet-profile').innerText(), new RegExp(`^\\[${production.id}_${role}\\]`));
  assert.equal(await page.locator('#sso-start-url').innerText(), `${env.base}/start`);
  assert.match(await page.locator('#snippet-sso').innerText(), new RegExp(`AWS_ENDPOINT_URL_SSO_OIDC="${env.base}"`));

  // The console link lands on the console with a signed token for this person and role.
  loaded = page.waitForEvent('load');
  await page.getByRole('link', { name: 'Back to your accounts' }).click();
  await loaded;
  await filter.fill('Production');
  await visible.first().locator('summary').click();
  loaded = page.waitForEvent('load');
  await visible.first().getByRole('link', { name: /Management console/ }).click();
  await loaded;
  const landed = new URL(page.url());
  assert.equal(landed.origin, consoleServer.origin);
  assert.equal(landed.pathname, '/console');
  assert.equal(await page.title(), 'Test console');
  const hit = consoleServer.hits.filter((h) => h.pathname === '/console').at(-1); // not /favicon.ico
  assert.equal(hit.searchParams.get('team'), 'ops', 'the console URL keeps its own query');
  const jwt = hit.searchParams.get('token');
  assert.ok(jwt, 'the token arrived');
  const claims = claimsOf(jwt);
  assert.equal(claims.sub, userId);
  assert.equal(claims.aud, consoleServer.origin);
  assert.equal(claims.iss, env.base);
  assert.equal(claims.account_id, production.id);
  assert.equal(claims.role, role);
  assert.equal(claims.preferred_username, userName);
  assert.equal(claims.exp - claims.iat, 60);
});

test('Management console of an AWS account: a SAML sign-in posted to AWS in the chosen role', async () => {
  await env.admin.settings(MFA_OFF);
  const userName = uniqueName('hopper');
  const userId = await env.admin.createUser({ userName, email: `${userName}@example.com` });
  await env.admin.setPassword(userId, PASSWORD);
  const tag = accountId().slice(-5);
  const role = `Admin-${tag}`;
  const ps = await env.admin.expect(201, 'POST', 'permission-sets', { name: role, sessionDuration: 'PT2H' });
  const id = accountId();
  await env.admin.expect(201, 'POST', 'accounts', {
    accountId: id,
    name: `Cloud ${tag}`,
    email: 'cloud@example.com',
    consoleUrl: 'https://console.aws.amazon.com/s3/home',
    aws: {},
  });
  await env.admin.expect(201, 'POST', 'assignments', {
    accountId: id,
    permissionSetId: ps.permissionSetId,
    principalType: 'USER',
    principalId: userId,
  });

  // AWS's sign-in endpoint is not reachable from here: the navigation is intercepted and what
  // the page posted is kept.
  const { page } = ctx;
  const posted = [];
  await page.route('https://signin.aws.amazon.com/saml', async (route) => {
    posted.push(new URLSearchParams(route.request().postData() ?? ''));
    await route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><title>AWS console</title><h1>Signed in</h1>',
    });
  });
  await signIn(page, userName);
  const filter = page.getByLabel('Filter accounts');
  await filter.fill(`Cloud ${tag}`);
  const account = page.locator('#accounts details.account:visible').first();
  await account.locator('summary').click();
  const landed = page.waitForURL('https://signin.aws.amazon.com/saml');
  await account.getByRole('link', { name: /Management console/ }).click();
  await landed;
  assert.equal(await page.title(), 'AWS console');
  assert.equal(posted.length, 1, 'one POST to the AWS sign-in endpoint');
  assert.equal(posted[0].get('RelayState'), 'https://console.aws.amazon.com/s3/home');
  const xml = Buffer.from(posted[0].get('SAMLResponse'), 'base64').toString('utf8');
  assert.match(xml, /Destination="https:\/\/signin\.aws\.amazon\.com\/saml"/);
  assert.match(xml, /<saml:Audience>urn:amazon:webservices<\/saml:Audience>/);
  assert.ok(
    xml.includes(`arn:aws:iam::${id}:role/${role},arn:aws:iam::${id}:saml-provider/Portcullis`),
    'exactly the chosen role and the provider',
  );
  assert.equal((xml.match(/Attributes\/Role"/g) ?? []).length, 1);
  assert.ok(xml.includes(`>${userName}</saml:AttributeValue>`), 'the session name is the user name');
  assert.ok(xml.includes('>7200</saml:AttributeValue>'), 'the permission set\'s two hours');
  assert.match(xml, /<ds:SignatureValue>/);
});
