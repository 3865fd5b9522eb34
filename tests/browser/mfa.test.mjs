// Second factors as a person uses them: an authenticator app (TOTP) whose codes are computed here
// by an independent RFC 6238 implementation (node:crypto, checked against the RFC's own test
// vectors), and security keys / passkeys (WebAuthn) played by Chromium's virtual authenticators
// over the DevTools protocol. One server, one SMTP sink and one browser per file; every test has
// its own browser context, its own people, and sets the settings it relies on first.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';

import { uniqueName, useEnvironment } from './harness.mjs';

const PASSWORD = 'Tr1cky-Horse-Battery';
const BOTH = ['AUTHENTICATOR_APP', 'WEBAUTHN'];
const requireMfa = (allowedTypes) => ({
  emailOtp: false,
  mfa: { prompt: 'EVERY_SIGN_IN', allowedTypes, noDeviceAction: 'REQUIRE_REGISTRATION' },
});

/** A CTAP2 platform authenticator that verifies its user and answers at once. */
const GOOD_KEY = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

let env;
let ctx; // this test's browser context and page

useEnvironment({ set: (s) => ({ env, ctx } = s) });

// ------------------------------------------------------------------------------------------------
// An authenticator app: RFC 4648 base32, RFC 4226 HOTP, RFC 6238 TOTP (HMAC-SHA-1, 30 s steps).

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text) {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

const STEP = 30;
const stepAt = (ms = Date.now()) => Math.floor(ms / 1000 / STEP);
const totpAt = (key, step, digits = 6) => hotp(key, step, digits);

// The implementation checked against RFC 6238 appendix B (SHA-1 rows) before any test uses it.
{
  const rfc = Buffer.from('12345678901234567890', 'ascii');
  for (const [time, code] of [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ]) {
    assert.equal(totpAt(rfc, Math.floor(time / STEP), 8), code, `RFC 6238 vector at T=${time}`);
  }
  assert.deepEqual(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), rfc, 'RFC 4648 base32');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until the 30-second step is later than `step`; returns the new step. */
async function stepAfter(step) {
  for (;;) {
    const now = Date.now();
    const current = stepAt(now);
    if (current > step) return current;
    await sleep((current + 1) * STEP * 1000 - now + 50);
  }
}

/** A six-digit code that is no valid code of `key` within a step either side of `step`. */
function wrongCode(key, step) {
  const valid = new Set([step - 1, step, step + 1].map((s) => totpAt(key, s)));
  let n = Number(totpAt(key, step));
  let code;
  do {
    n = (n + 111111) % 1000000;
    code = String(n).padStart(6, '0');
  } while (valid.has(code));
  return code;
}

// ------------------------------------------------------------------------------------------------
// Helpers: what a person does and sees

/** The path and query of the page's URL. */
function where(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

/** Clicks a form's submit button and waits for the page the browser ends on (after redirects). */
async function submit(page, button) {
  const loaded = page.waitForEvent('load');
  await page.getByRole('button', { name: button, exact: true }).click();
  await loaded;
}

/**
 * Clicks a button driven by /static/webauthn.js and waits for the page its form post ends on
 * (`endsOn`: path and query).
 */
async function ceremony(page, selector, endsOn) {
  await Promise.all([
    page.waitForURL((u) => u.pathname + u.search === endsOn, { timeout: 20_000 }),
    page.locator(selector).click(),
  ]);
  await page.waitForLoadState('load');
}

/** The first factor: /start → username → password; returns the path the browser ends on. */
async function signIn(page, userName, password = PASSWORD) {
  await page.goto('/start');
  await page.locator('#username').fill(userName);
  await submit(page, 'Next');
  assert.equal(where(page), '/signin/password');
  await page.locator('#password').fill(password);
  await submit(page, 'Sign in');
  return where(page);
}

async function signOut(page) {
  await submit(page, 'Sign out');
  assert.equal(where(page), '/start?signed_out=1');
}

async function person(prefix) {
  const userName = uniqueName(prefix);
  const email = `${userName}@example.com`.toLowerCase();
  const userId = await env.admin.createUser({ userName, email });
  await env.admin.setPassword(userId, PASSWORD);
  return { userId, userName, email };
}

async function devicesOf(who) {
  return (await env.admin.expect(200, 'GET', `users/${who.userId}/mfa-devices`)).devices;
}

async function sessionsOf(who) {
  return (await env.admin.expect(200, 'GET', `users/${who.userId}/sessions`)).sessions;
}

/** On the portal, signed in as `who`. */
async function assertPortal(page, who) {
  assert.equal(new URL(page.url()).pathname, '/portal');
  assert.equal(await page.title(), 'Portal · Portcullis');
  assert.equal(await text(page, 'header .user .name'), who.userName);
}

/** Not signed in: the portal answers with a redirect to sign-in. */
async function assertSignedOut(context) {
  const r = await context.request.get('/portal', { maxRedirects: 0 });
  assert.equal(r.status(), 303, 'the portal is closed');
}

/** The only session of `who` and its amr, which must include every one of `expected`. */
async function assertSessionAmr(who, expected) {
  const sessions = await sessionsOf(who);
  assert.equal(sessions.length, 1, `one session: ${JSON.stringify(sessions)}`);
  for (const m of expected) {
    assert.ok(sessions[0].amr.includes(m), `amr ${JSON.stringify(sessions[0].amr)} has "${m}"`);
  }
  return sessions[0].amr;
}

/** A DevTools session with the WebAuthn virtual environment on. */
async function virtualWebauthn(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  return {
    cdp,
    async add(options = GOOD_KEY) {
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options });
      return authenticatorId;
    },
    remove: (authenticatorId) => cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId }),
    async credentials(authenticatorId) {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
  };
}

/** The rows of /portal/mfa-devices as [name, kind, lastUsed]. */
async function deviceRows(page) {
  const rows = page.locator('#mfa-devices tr.device');
  const out = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const cells = rows.nth(i).locator('td');
    out.push([
      (await cells.nth(0).innerText()).trim(),
      (await cells.nth(1).innerText()).trim(),
      (await cells.nth(3).innerText()).trim(),
    ]);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------

test('an authenticator app: registered at sign-in, then asked for; a used code is refused', async () => {
  await env.admin.settings(requireMfa(BOTH));
  const who = await person('tom');
  const { page, context } = ctx;

  // The password leads to registering a device: the QR code, the key by hand, both kinds.
  assert.equal(await signIn(page, who.userName), '/signin/mfa/register');
  assert.equal(await page.title(), 'Set up MFA · Portcullis');
  assert.equal(await page.locator('h1').innerText(), 'Set up multi-factor authentication');
  assert.equal(await text(page, 'p.who strong'), who.userName);
  const qr = await page.locator('img.qr').getAttribute('src');
  assert.match(qr, /^data:image\/svg\+xml;base64,/);
  const svg = Buffer.from(qr.slice(qr.indexOf(',') + 1), 'base64').toString('utf8');
  assert.match(svg, /^<\?xml [^>]*\?><svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  // The browser draws it: decoded, at least 200 pixels wide.
  const drawn = await page.locator('img.qr').evaluate(async (img) => {
    await img.decode();
    return img.naturalWidth;
  });
  assert.ok(drawn >= 200, `the QR code is drawn (${drawn} px)`);
  const secret = await text(page, '#totp-secret');
  assert.match(secret, /^[A-Z2-7]{32}$/, 'a 160-bit secret in base32');
  const uri = new URL(await text(page, '#totp-uri'));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.searchParams.get('secret'), secret, 'the setup link carries the same key');
  assert.equal(uri.searchParams.get('issuer'), 'Portcullis');
  for (const [k, v] of [['algorithm', 'SHA1'], ['digits', '6'], ['period', '30']]) {
    if (uri.searchParams.has(k)) assert.equal(uri.searchParams.get(k), v, k);
  }
  assert.equal(
    await text(page, '#webauthn-register'),
    'Register a security key or passkey',
    'security keys are allowed too',
  );
  const key = base32Decode(secret);
  assert.equal(key.length, 20);
  await assertSignedOut(context);

  // A wrong code is refused and the same key stays on the page.
  await page.locator('#code').fill(wrongCode(key, stepAt()));
  await submit(page, 'Verify and continue');
  assert.equal(where(page), '/signin/mfa/register/totp', 'the form is shown again (401)');
  assert.equal(await text(page, '[role=alert]'), 'That code is not right. 4 tries left.');
  assert.equal(await text(page, '#totp-secret'), secret);

  // The right code registers the app and signs in.
  await page.locator('#name').fill('My phone');
  const registeredStep = stepAt();
  const registrationCode = totpAt(key, registeredStep);
  await page.locator('#code').fill(registrationCode);
  await submit(page, 'Verify and continue');
  await assertPortal(page, who);
  await assertSessionAmr(who, ['pwd', 'otp', 'mfa']);
  let devices = await devicesOf(who);
  assert.equal(devices.length, 1);
  assert.equal(devices[0].kind, 'AUTHENTICATOR_APP');
  assert.equal(devices[0].name, 'My phone');
  await signOut(page);
  assert.equal((await sessionsOf(who)).length, 0, 'signing out ended the session');

  // The next sign-in asks for a code from the app (no security key is registered).
  assert.equal(await signIn(page, who.userName), '/signin/mfa');
  assert.equal(await page.title(), "Verify it's you · Portcullis");
  assert.equal(await page.locator('h1').innerText(), "Verify it's you");
  assert.equal(await text(page, 'p.who strong'), who.userName);
  assert.equal(await page.locator('label[for=code]').innerText(), 'Code from your authenticator app');
  assert.equal(await page.locator('#webauthn-signin').count(), 0);

  // The code that registered the app was used: it is refused, however correct.
  assert.ok(stepAt() <= registeredStep + 1, 'still within the one step of skew (test timing)');
  await page.locator('#code').fill(registrationCode);
  await submit(page, 'Verify');
  assert.equal(where(page), '/signin/mfa/totp', 'the form is shown again (401)');
  assert.equal(
    await text(page, '[role=alert]'),
    'That code was already used. Wait for the next code from your app. 4 tries left.',
  );
  await assertSignedOut(context);

  // The app's next code (a later 30-second step) is accepted.
  const signInStep = await stepAfter(registeredStep);
  const signInCode = totpAt(key, signInStep);
  await page.locator('#code').fill(signInCode);
  await submit(page, 'Verify');
  await assertPortal(page, who);
  const amr = await assertSessionAmr(who, ['otp', 'mfa']);
  assert.ok(amr.includes('pwd'), `amr ${JSON.stringify(amr)}`);
  devices = await devicesOf(who);
  assert.ok(devices[0].lastUsedAt, 'the app was last used just now');
  await signOut(page);

  // Replaying the code that just signed in is refused, as is a wrong one; still signed out.
  assert.equal(await signIn(page, who.userName), '/signin/mfa');
  assert.ok(stepAt() <= signInStep + 1, 'still within the one step of skew (test timing)');
  await page.locator('#code').fill(signInCode);
  await submit(page, 'Verify');
  assert.equal(
    await text(page, '[role=alert]'),
    'That code was already used. Wait for the next code from your app. 4 tries left.',
  );
  await page.locator('#code').fill(wrongCode(key, stepAt()));
  await submit(page, 'Verify');
  assert.equal(await text(page, '[role=alert]'), 'That code is not right. 3 tries left.');
  assert.equal(where(page), '/signin/mfa/totp');
  await assertSignedOut(context);
  assert.equal((await sessionsOf(who)).length, 0, 'no session from a refused code');
});

test('a security key through a virtual authenticator: registered, used, added, renamed, removed', async () => {
  await env.admin.settings(requireMfa(['WEBAUTHN']));
  const who = await person('kim');
  const { page, context } = ctx;
  const webauthn = await virtualWebauthn(context, page);
  const first = await webauthn.add();

  // Registration: only security keys are allowed, so there is no authenticator-app form.
  assert.equal(await signIn(page, who.userName), '/signin/mfa/register');
  assert.equal(await page.locator('#totp-secret').count(), 0);
  assert.equal(await page.locator('#code').count(), 0);
  assert.equal(await text(page, '#webauthn-register'), 'Register a security key or passkey');
  await ceremony(page, '#webauthn-register', '/portal');
  await assertPortal(page, who);
  await assertSessionAmr(who, ['pwd', 'hwk', 'mfa']);

  const [cred, ...more] = await webauthn.credentials(first);
  assert.equal(more.length, 0, 'the authenticator holds one credential');
  assert.equal(cred.rpId, 'localhost');
  let devices = await devicesOf(who);
  assert.equal(devices.length, 1);
  assert.equal(devices[0].kind, 'WEBAUTHN');
  assert.equal(devices[0].name, 'Security key');
  const firstDevice = devices[0].deviceId;
  await signOut(page);

  // The next sign-in asks for the key (and only for it), and the same authenticator answers.
  assert.equal(await signIn(page, who.userName), '/signin/mfa');
  assert.equal(await page.locator('#code').count(), 0, 'no authenticator app to ask for');
  assert.equal(await text(page, '#webauthn-signin'), 'Use a security key or passkey');
  await assertSignedOut(context);
  await ceremony(page, '#webauthn-signin', '/portal');
  await assertPortal(page, who);
  const amr = await assertSessionAmr(who, ['hwk', 'mfa']);
  assert.ok(!amr.includes('otp'), `amr ${JSON.stringify(amr)}`);
  devices = await devicesOf(who);
  assert.ok(devices[0].lastUsedAt, 'the key was last used just now');
  const [used] = await webauthn.credentials(first);
  assert.ok(used.signCount > cred.signCount, 'the authenticator signed again');

  // The MFA devices page lists the key.
  await page.goto('/portal/mfa-devices');
  assert.equal(await page.title(), 'MFA devices · Portcullis');
  assert.equal(await page.locator('#mfa-devices h1').innerText(), 'MFA devices');
  assert.equal(await page.locator('#add-totp').count(), 0, 'authenticator apps are not allowed');
  assert.equal(await text(page, '#webauthn-register'), 'Add a security key or passkey');
  let rows = await deviceRows(page);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0].slice(0, 2), ['Security key', 'Security key or passkey']);
  assert.notEqual(rows[0][2], 'Never');

  // The same authenticator cannot be registered twice (it holds an excluded credential).
  await page.locator('#webauthn-register').click();
  const refused = page.locator('#webauthn-error');
  await refused.waitFor({ timeout: 15_000 });
  assert.ok((await refused.innerText()).trim().length > 0, 'an error is shown');
  assert.equal(where(page), '/portal/mfa-devices');
  assert.equal((await devicesOf(who)).length, 1);

  // Another authenticator is added as a second key.
  await webauthn.remove(first);
  const second = await webauthn.add();
  const webauthnName = page.locator('#webauthn-name');
  if (await webauthnName.count()) await webauthnName.fill('Second key');
  await ceremony(page, '#webauthn-register', '/portal/mfa-devices?added=1');
  assert.equal(await text(page, '#mfa-devices [role=status]'), 'The device was added.');
  rows = await deviceRows(page);
  assert.equal(rows.length, 2, `two keys: ${JSON.stringify(rows)}`);
  assert.ok(rows.every((r) => r[1] === 'Security key or passkey'));
  assert.equal((await webauthn.credentials(second)).length, 1);
  devices = await devicesOf(who);
  assert.equal(devices.length, 2);
  assert.ok(devices.every((d) => d.kind === 'WEBAUTHN'));
  const secondDevice = devices.find((d) => d.deviceId !== firstDevice).deviceId;

  // Rename the second key.
  const secondRow = page.locator(`#device-${secondDevice}`);
  await secondRow.locator(`#name-${secondDevice}`).fill('Blue key');
  const renamed = page.waitForEvent('load');
  await secondRow.getByRole('button', { name: 'Rename' }).click();
  await renamed;
  assert.equal(where(page), '/portal/mfa-devices?renamed=1');
  assert.equal(await text(page, '#mfa-devices [role=status]'), 'The device was renamed.');
  assert.equal(await text(page, `#device-${secondDevice} td:first-child`), 'Blue key');
  devices = await devicesOf(who);
  assert.equal(devices.find((d) => d.deviceId === secondDevice).name, 'Blue key');

  // Remove the first key (whose authenticator is gone).
  const removed = page.waitForEvent('load');
  await page.locator(`#device-${firstDevice}`).getByRole('button', { name: 'Remove' }).click();
  await removed;
  assert.equal(where(page), '/portal/mfa-devices?removed=1');
  assert.equal(await text(page, '#mfa-devices [role=status]'), 'The device was removed.');
  rows = await deviceRows(page);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0].slice(0, 2), ['Blue key', 'Security key or passkey']);
  devices = await devicesOf(who);
  assert.deepEqual(
    devices.map((d) => [d.deviceId, d.name]),
    [[secondDevice, 'Blue key']],
  );

  // The remaining key signs in.
  await signOut(page);
  assert.equal(await signIn(page, who.userName), '/signin/mfa');
  await ceremony(page, '#webauthn-signin', '/portal');
  await assertPortal(page, who);
  await assertSessionAmr(who, ['hwk', 'mfa']);
  assert.ok((await devicesOf(who))[0].lastUsedAt);
});

test('a security key ceremony that fails shows the error and does not sign in', async () => {
  await env.admin.settings(requireMfa(['WEBAUTHN']));
  const who = await person('lee');
  const { page, context } = ctx;
  const webauthn = await virtualWebauthn(context, page);

  // Register a key, keeping its credential (private key included) to plug it back in later.
  const good = await webauthn.add();
  assert.equal(await signIn(page, who.userName), '/signin/mfa/register');
  await ceremony(page, '#webauthn-register', '/portal');
  const [cred] = await webauthn.credentials(good);
  await signOut(page);
  await webauthn.remove(good);

  // The authenticator cannot verify its user (the person does not unlock it): Chromium rejects
  // with NotAllowedError, which webauthn.js shows; the sign-in stays at the second factor.
  // (An authenticator that never senses a touch, or none at all, would wait for the server's
  // 120-second timeout instead.)
  const unverified = await webauthn.add({ ...GOOD_KEY, isUserVerified: false });
  await webauthn.cdp.send('WebAuthn.addCredential', { authenticatorId: unverified, credential: cred });
  assert.equal(await signIn(page, who.userName), '/signin/mfa');
  const button = page.locator('#webauthn-signin');
  await button.click();
  const error = page.locator('#webauthn-error');
  await error.waitFor({ timeout: 15_000 });
  assert.equal((await error.innerText()).trim(), 'The security key request was cancelled or timed out.');
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.equal(where(page), '/signin/mfa');
  assert.equal(await button.isEnabled(), true, 'the button can be tried again');
  await assertSignedOut(context);
  assert.equal((await sessionsOf(who)).length, 0);
  await webauthn.remove(unverified);

  // A key that is not registered for this person fails the same way.
  const stranger = await webauthn.add();
  await error.evaluate((p) => {
    p.textContent = '';
  });
  await button.click();
  await page.waitForFunction(
    () => document.getElementById('webauthn-error').textContent !== '',
    null,
    { timeout: 15_000 },
  );
  assert.equal((await error.innerText()).trim(), 'The security key request was cancelled or timed out.');
  assert.equal(where(page), '/signin/mfa');
  await assertSignedOut(context);
  assert.equal((await webauthn.credentials(stranger)).length, 0);
  await webauthn.remove(stranger);

  // The registered key, plugged back in, still works from the same page.
  const back = await webauthn.add();
  await webauthn.cdp.send('WebAuthn.addCredential', { authenticatorId: back, credential: cred });
  await ceremony(page, '#webauthn-signin', '/portal');
  await assertPortal(page, who);
  await assertSessionAmr(who, ['hwk', 'mfa']);
});
