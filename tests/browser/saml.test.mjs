// SAML in Debian's Chromium: a tiny service provider inside the test (a node http server on
// 127.0.0.1) whose page links to SP-initiated sign-in (an AuthnRequest by HTTP-Redirect: the XML,
// deflate-raw, base64, url-encoded). The person clicks it, signs in on our pages, and the
// auto-posting form (a script file, as the CSP demands) lands on the SP's ACS with a
// SAMLResponse that the test decodes and checks. Then the person launches the application from
// the portal's Applications tab and the ACS receives an unsolicited Response; the same launch
// link on another site's page is confirmed on our page first.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { deflateRawSync } from 'node:zlib';
import { test } from 'node:test';

import { uniqueName, useEnvironment } from './harness.mjs';

const PASSWORD = 'Tr1cky-Horse-Battery';
const MFA_OFF = { emailOtp: false, mfa: { prompt: 'NEVER', noDeviceAction: 'ALLOW' } };
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

let env;
let ctx;
let sp; // the service provider below

/**
 * The service provider: `GET /` is a page whose link starts SP-initiated sign-in (each load a
 * fresh AuthnRequest, its ID kept in `requests`); `POST /acs` records each posted form in `posts`
 * (decoded) and answers a small page.
 */
function startServiceProvider(idpBase) {
  const requests = [];
  const posts = [];
  const waiters = new Set();
  let origin;
  const entityId = () => `${origin}/saml/metadata`;
  const acs = () => `${origin}/acs`;

  const authnRequest = () => {
    const id = `_sp${randomBytes(16).toString('hex')}`;
    requests.push(id);
    const instant = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const xml =
      '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ' +
      'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ' +
      `ID="${id}" Version="2.0" IssueInstant="${instant}" Destination="${idpBase}/saml/sso" ` +
      `AssertionConsumerServiceURL="${acs()}" ` +
      'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">' +
      `<saml:Issuer>${entityId()}</saml:Issuer>` +
      `<samlp:NameIDPolicy Format="${EMAIL_FORMAT}" AllowCreate="true"/>` +
      '</samlp:AuthnRequest>';
    const message = deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');
    return `${idpBase}/saml/sso?SAMLRequest=${encodeURIComponent(message)}&RelayState=${encodeURIComponent('/after-sign-in')}`;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<!doctype html><title>Test SP</title><h1>Test SP</h1>' +
          `<a id="login" href="${authnRequest().replace(/&/g, '&amp;')}">Sign in with Portcullis</a>`,
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/link') {
      // Another site's page linking to `to` (our launch link, say).
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<!doctype html><title>Elsewhere</title>' +
          `<a id="go" href="${url.searchParams.get('to').replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">Go</a>`,
      );
      return;
    }
    if (req.method === 'POST' && url.pathname === '/acs') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const b64 = form.get('SAMLResponse');
        posts.push({
          contentType: req.headers['content-type'],
          relayState: form.get('RelayState'),
          xml: b64 ? Buffer.from(b64, 'base64').toString('utf8') : null,
        });
        for (const w of [...waiters]) w();
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Signed in to the SP</title><h1>Welcome</h1>');
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      origin = `http://127.0.0.1:${server.address().port}`;
      resolve({
        origin,
        entityId: entityId(),
        acs: acs(),
        requests,
        posts,
        /** The `n`th post to the ACS (1-based), waiting up to 15 s for it. */
        waitForPost(n) {
          return new Promise((res, rej) => {
            const check = () => {
              if (posts.length < n) return false;
              waiters.delete(check);
              clearTimeout(timer);
              res(posts[n - 1]);
              return true;
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`the ACS received ${posts.length} posts, expected ${n}`));
            }, 15_000);
            if (!check()) waiters.add(check);
          });
        },
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

/** The value of attribute `name` on the first element whose local name is `element`. */
function attr(xml, element, name) {
  const tag = new RegExp(`<(?:\\w+:)?${element}\\b[^>]*>`).exec(xml);
  assert.ok(tag, `no <${element}> in ${xml}`);
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag[0]);
  return m ? m[1] : null;
}

/** The text of the first element whose local name is `element`. */
function textOf(xml, element) {
  const m = new RegExp(`<(?:\\w+:)?${element}\\b[^>]*>([^<]*)</(?:\\w+:)?${element}>`).exec(xml);
  assert.ok(m, `no <${element}> in ${xml}`);
  return m[1];
}

/** Checks a success Response to the SP: signed, for this person, for this SP. */
function assertSuccess(xml, email) {
  assert.equal(attr(xml, 'Response', 'Destination'), sp.acs);
  assert.equal(attr(xml, 'StatusCode', 'Value'), 'urn:oasis:names:tc:SAML:2.0:status:Success');
  assert.equal(textOf(xml, 'Issuer'), `${env.base}/saml/metadata`);
  assert.equal(textOf(xml, 'Audience'), sp.entityId);
  assert.equal(textOf(xml, 'NameID'), email);
  assert.equal(attr(xml, 'NameID', 'Format'), EMAIL_FORMAT);
  assert.equal(attr(xml, 'SubjectConfirmationData', 'Recipient'), sp.acs);
  assert.match(xml, /<(?:\w+:)?Signature\b/, 'the Response is signed');
  assert.equal(textOf(xml, 'AttributeValue'), email, 'the mapped mail attribute');
}

useEnvironment({
  extra: (e) => startServiceProvider(e.base),
  set: (s) => ({ env, ctx, extra: sp } = s),
});

test('SP-initiated sign-in from an SP link, then a launch from the Applications tab', async () => {
  await env.admin.settings(MFA_OFF);
  const userName = uniqueName('hedy');
  const email = `${userName}@example.com`;
  const userId = await env.admin.createUser({ userName, email });
  await env.admin.setPassword(userId, PASSWORD);

  // The SP, registered by hand: entity id, ACS = the test server, no signed requests.
  const name = `Test SP ${userName}`;
  const app = await env.admin.expect(201, 'POST', 'applications', {
    name,
    kind: 'SAML',
    saml: {
      entityId: sp.entityId,
      acs: [{ url: sp.acs, index: 0, isDefault: true }],
      requireSignedRequests: false,
      nameIdFormat: 'emailAddress',
      attributes: [{ name: 'mail', value: '${user:email}' }],
      startUrl: `${sp.origin}/home`,
    },
  });
  await env.admin.expect(201, 'POST', `applications/${app.applicationId}/assignments`, {
    principalType: 'USER',
    principalId: userId,
  });

  const { page } = ctx;

  // 1. The SP's link → our sign-in pages → the auto-posted Response at the SP's ACS.
  await page.goto(`${sp.origin}/`);
  assert.equal(await page.title(), 'Test SP');
  let loaded = page.waitForEvent('load');
  await page.locator('#login').click();
  await loaded;
  assert.equal(new URL(page.url()).origin, env.base, 'on our pages to sign in');
  assert.equal(new URL(page.url()).pathname, '/start');
  await page.locator('#username').fill(userName);
  loaded = page.waitForEvent('load');
  await page.getByRole('button', { name: 'Next' }).click();
  await loaded;
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(sp.acs);
  assert.equal(await page.title(), 'Signed in to the SP');

  const first = await sp.waitForPost(1);
  assert.equal(first.contentType, 'application/x-www-form-urlencoded');
  assert.equal(first.relayState, '/after-sign-in');
  assert.ok(first.xml, 'a SAMLResponse was posted');
  assertSuccess(first.xml, email);
  const requestId = sp.requests.at(-1);
  assert.equal(attr(first.xml, 'Response', 'InResponseTo'), requestId);
  assert.equal(attr(first.xml, 'SubjectConfirmationData', 'InResponseTo'), requestId);

  // 2. The portal's Applications tab: the application is there; launching it posts an
  // unsolicited Response (no InResponseTo) with the start URL as RelayState.
  await page.goto('/portal?tab=applications');
  const link = page.locator('#applications li.app a', { hasText: name });
  assert.equal(await link.getAttribute('href'), `/applications/${app.applicationId}/launch`);
  await link.click();
  await page.waitForURL(sp.acs);
  const second = await sp.waitForPost(2);
  assert.ok(second.xml, 'a SAMLResponse was posted');
  assertSuccess(second.xml, email);
  assert.equal(attr(second.xml, 'Response', 'InResponseTo'), null, 'unsolicited');
  assert.equal(attr(second.xml, 'SubjectConfirmationData', 'InResponseTo'), null);
  assert.equal(second.relayState, `${sp.origin}/home`);
  assert.equal(sp.posts.length, 2);

  // 3. The same launch link on another site: Chromium sends Sec-Fetch-Site (cross-site or
  // same-site), so we ask first and nothing is posted; the confirmation link then launches.
  const launchUrl = `${env.base}/applications/${app.applicationId}/launch`;
  await page.goto(`${sp.origin}/link?to=${encodeURIComponent(launchUrl)}`);
  loaded = page.waitForEvent('load');
  await page.locator('#go').click();
  await loaded;
  assert.equal(page.url(), launchUrl, 'on our confirmation page');
  assert.match(await page.locator('main, body').first().innerText(), /Another site sent you here/);
  assert.equal(sp.posts.length, 2, 'nothing was posted to the SP');
  await page.getByRole('link', { name: 'Open the application' }).click();
  await page.waitForURL(sp.acs);
  const third = await sp.waitForPost(3);
  assertSuccess(third.xml, email);
  assert.equal(sp.posts.length, 3);
});
