// Sign-in as a person does it: Debian's Chromium on the server-rendered pages of a real
// `portcullis serve`, codes delivered over SMTP to a local sink. One server, one SMTP sink and one
// browser per file; every test has its own browser context (cookies), its own people, and sets
// the settings it relies on first.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { codeIn, tempDir, uniqueName, useEnvironment } from './harness.mjs';

const PASSWORD = 'Tr1cky-Horse-Battery';
const MFA_OFF = { emailOtp: false, mfa: { prompt: 'NEVER', noDeviceAction: 'ALLOW' } };

let env;
let ctx; // this test's browser context and page

useEnvironment({ set: (s) => ({ env, ctx } = s) });

// ------------------------------------------------------------------------------------------------
// Helpers: what a person does and sees

/** The path and query of the page's URL ("/portal?tab=accounts"). */
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
  await page.getByRole('button', { name: button }).click();
  await loaded;
}

/** /start → username → /signin/password (checks that it shows whom it is signing in). */
async function enterUsername(page, userName) {
  await page.goto('/start');
  assert.equal(await page.title(), 'Sign in · Portcullis');
  await page.locator('#username').fill(userName);
  await submit(page, 'Next');
  assert.equal(where(page), '/signin/password');
  assert.equal(await text(page, 'p.who strong'), userName);
}

/** The whole first factor; returns the path the browser ends on. */
async function signIn(page, userName, password) {
  await enterUsername(page, userName);
  await page.locator('#password').fill(password);
  await submit(page, 'Sign in');
  return where(page);
}

async function person(userName, { givenName, familyName, password = PASSWORD } = {}) {
  const email = `${userName}@example.com`.toLowerCase();
  const userId = await env.admin.createUser({ userName, email, givenName, familyName });
  if (password) await env.admin.setPassword(userId, password);
  return { userId, userName, email };
}

/** Chooses a new password on /signin/new-password and submits it. */
async function choosePassword(page, password, confirm = password) {
  await page.locator('#new_password').fill(password);
  await page.locator('#confirm').fill(confirm);
  await submit(page, 'Set password');
}

/** Asserts the portal's header and tabs for someone called `displayName`. */
async function assertPortal(page, displayName, userName) {
  assert.equal(new URL(page.url()).pathname, '/portal');
  assert.equal(await page.title(), 'Portal · Portcullis');
  assert.equal(await text(page, 'header .user .name'), displayName);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  const tabs = page.locator('nav.tabs a');
  assert.deepEqual(await tabs.allInnerTexts(), ['Accounts', 'Applications']);
  assert.match(await text(page, 'p.session'), new RegExp(`^Signed in as ${userName} until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\.$`));
}

/** Asserts that a message is a real SMTP delivery from Portcullis to `email`. */
function assertDelivered(mail, email, subject) {
  assert.deepEqual(mail.envelope.rcptTo, [email]);
  assert.equal(mail.envelope.mailFrom, 'portcullis@example.com');
  assert.equal(mail.transmissionType, 'ESMTP', 'the client said EHLO');
  assert.deepEqual(mail.to, [email]);
  assert.deepEqual(mail.from, ['portcullis@example.com']);
  assert.equal(mail.subject, subject);
  assert.equal(mail.contentType.value, 'text/plain');
  assert.equal(mail.contentType.params.charset.toLowerCase(), 'utf-8');
  assert.match(mail.messageId, /@example\.com>$/, 'Message-ID uses the sender domain');
}

// ------------------------------------------------------------------------------------------------

test('password sign-in shows the portal with accounts and applications; sign out ends it', async () => {
  await env.admin.settings(MFA_OFF);
  const who = await person(uniqueName('ada'), { givenName: 'Ada', familyName: 'Lovelace' });

  // An account with a role held there, and an application, assigned to this person.
  const accountId = String(100000000000 + Math.floor(Math.random() * 899999999999));
  const accountName = `Analytics ${accountId.slice(-4)}`;
  await env.admin.expect(201, 'POST', 'accounts', {
    accountId,
    name: accountName,
    email: 'analytics-ops@example.com',
  });
  const role = `DataReader-${accountId.slice(-6)}`;
  const ps = await env.admin.expect(201, 'POST', 'permission-sets', { name: role });
  await env.admin.expect(201, 'POST', 'assignments', {
    accountId,
    permissionSetId: ps.permissionSetId,
    principalType: 'USER',
    principalId: who.userId,
  });
  const appName = `Payroll Reports ${accountId.slice(-4)}`;
  const app = await env.admin.expect(201, 'POST', 'applications', {
    name: appName,
    kind: 'OIDC',
    description: 'Monthly payroll and expense reports',
    oidc: { redirectUris: ['https://payroll.example.com/callback'] },
  });
  const appId = app.applicationId;
  assert.ok(appId, `applicationId in ${JSON.stringify(app)}`);
  await env.admin.expect(201, 'POST', `applications/${appId}/assignments`, {
    principalType: 'USER',
    principalId: who.userId,
  });

  const { page } = ctx;
  assert.equal(await signIn(page, who.userName, PASSWORD), '/portal');
  await assertPortal(page, 'Ada Lovelace', who.userName);

  // Accounts tab (the default): the account, its id and email, and the role held there.
  const current = page.locator('nav.tabs a[aria-current="page"]');
  assert.equal(await current.innerText(), 'Accounts');
  const account = page.locator('#accounts details.account');
  assert.equal(await account.count(), 1);
  assert.equal(await text(page, '#accounts details.account summary strong'), accountName);
  assert.equal(
    await text(page, '#accounts details.account summary .muted'),
    `${accountId} · analytics-ops@example.com`,
  );
  const roleItem = account.locator('ul.roles li');
  assert.equal(await roleItem.isVisible(), false, 'roles are folded until the account is opened');
  await account.locator('summary').click();
  assert.equal(await roleItem.isVisible(), true);
  assert.deepEqual(await roleItem.locator('.role-name').allInnerTexts(), [role]);

  // Applications tab: the assigned application with its initials and description.
  const tabLoaded = page.waitForEvent('load');
  await page.getByRole('link', { name: 'Applications' }).click();
  await tabLoaded;
  assert.equal(where(page), '/portal?tab=applications');
  assert.equal(await current.innerText(), 'Applications');
  assert.equal(await page.locator('#accounts').count(), 0);
  const apps = page.locator('#applications li.app');
  assert.equal(await apps.count(), 1);
  assert.equal(await text(page, '#applications li.app strong'), appName);
  assert.equal(await text(page, '#applications li.app .icon'), 'PR');
  assert.equal(
    await text(page, '#applications li.app .muted'),
    'Monthly payroll and expense reports',
  );
  assert.equal(await text(page, 'header .user .name'), 'Ada Lovelace');

  // A screenshot of the portal, as a person sees it (kept out of the repository).
  const shots = await tempDir('portcullis-screens-');
  try {
    const file = path.join(shots.dir, 'portal.png');
    await page.screenshot({ path: file, fullPage: true });
    const png = await readFile(file);
    assert.ok((await stat(file)).size > 1000, 'a non-trivial PNG');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
    assert.ok(png.readUInt32BE(16) > 0 && png.readUInt32BE(20) > 0, 'width and height');
  } finally {
    await shots.remove();
  }

  // Signed in, /start goes straight to the portal.
  await page.goto('/start');
  assert.equal(where(page), '/portal');

  // Sign out.
  const jar = await ctx.context.cookies();
  const session = jar.find((c) => c.name === 'portcullis_session');
  assert.ok(session && session.httpOnly, `an HttpOnly session cookie: ${JSON.stringify(jar)}`);
  await submit(page, 'Sign out');
  assert.equal(where(page), '/start?signed_out=1');
  assert.equal(await text(page, '[role=status]'), 'You have signed out.');
  await page.locator('#username').waitFor();
  const cookies = await ctx.context.cookies();
  assert.equal(cookies.find((c) => c.name === 'portcullis_session'), undefined, 'the session cookie is gone');

  // The portal now sends back to sign-in, remembering where the person was going.
  await page.goto('/portal');
  const back = new URL(page.url());
  assert.equal(back.pathname, '/start');
  assert.equal(back.searchParams.get('return_to'), '/portal');
  assert.equal(await page.locator('h1').innerText(), 'Sign in');
  assert.equal(await page.locator('input[name=return_to]').inputValue(), '/portal');
  assert.equal(await page.locator('header .user').count(), 0);
});

test('an admin one-time password forces a new password; a too-common one is refused', async () => {
  await env.admin.settings(MFA_OFF);
  const who = await person(uniqueName('gus'), { password: null });
  const oneTime = await env.admin.oneTimePassword(who.userId);
  assert.equal(typeof oneTime, 'string');

  const { page } = ctx;
  assert.equal(await signIn(page, who.userName, oneTime), '/signin/new-password');
  assert.equal(await page.title(), 'Choose a password · Portcullis');
  assert.equal(await page.locator('h1').innerText(), 'Choose a new password');
  assert.match(
    await page.locator('main').innerText(),
    /You signed in with a one-time password\. Choose the password you will use from now on\./,
  );

  // A too-common password is refused with its message, and the form is shown again.
  await choosePassword(page, 'password1');
  assert.equal(where(page), '/signin/new-password');
  assert.equal(
    await text(page, '[role=alert]'),
    'This password is too common: choose one that is harder to guess.',
  );
  assert.equal(await page.locator('#new_password').inputValue(), '', 'passwords are not echoed');

  // Two passwords that differ are refused too.
  await choosePassword(page, 'Another-Good-One-9', 'Different-One-9');
  assert.equal(await text(page, '[role=alert]'), 'The two passwords do not match.');

  await choosePassword(page, PASSWORD);
  await assertPortal(page, who.userName, who.userName);

  // From now on the new password works and the one-time password does not.
  const other = await env.newPage();
  try {
    assert.equal(await signIn(other.page, who.userName, oneTime), '/signin/password');
    assert.equal(await text(other.page, '[role=alert]'), 'Incorrect username or password.');
    assert.equal(await signIn(other.page, who.userName, PASSWORD), '/portal');
  } finally {
    await other.context.close();
  }
});

test('first sign-in by an emailed one-time password, delivered over SMTP', async () => {
  await env.admin.settings({
    emailOtp: true,
    mfa: { prompt: 'EVERY_SIGN_IN', noDeviceAction: 'EMAIL_CODE' },
  });
  const who = await person(uniqueName('hal'), {
    givenName: 'Hal',
    familyName: 'Abelson',
    password: null,
  });

  const { page } = ctx;
  // Any password: the answer is that of any failed attempt (a name without a password cannot be
  // told from an unknown one), and a one-time password goes to the mailbox.
  assert.equal(await signIn(page, who.userName, 'anything at all'), '/signin/password');
  assert.equal(
    await text(page, '[role=alert]'),
    'Incorrect username or password. Signing in for the first time? We have emailed you a one-time password: enter it as your password.',
  );

  const mail = await env.waitForMail(who.email, 15_000);
  assertDelivered(mail, who.email, 'Your one-time password for Portcullis');
  assert.match(mail.toText, /Hal Abelson/);
  assert.match(mail.text, /^Hello Hal Abelson,/);
  assert.match(mail.text, /Your one-time password is: \d{6}\n/);
  assert.match(mail.text, /Enter it as your password/);
  assert.match(mail.text, /you will then choose a password/);
  const code = codeIn(mail.text);

  // A wrong code first: refused like a wrong password.
  await page.locator('#password').fill(code === '000000' ? '111111' : '000000');
  await submit(page, 'Sign in');
  assert.equal(where(page), '/signin/password');

  await page.locator('#password').fill(code);
  await submit(page, 'Sign in');
  assert.equal(where(page), '/signin/new-password');
  assert.match(
    await page.locator('main').innerText(),
    /Welcome! Choose the password you will use from now on\./,
  );
  await choosePassword(page, PASSWORD);
  // The emailed password proved the mailbox: no second code before the portal.
  await assertPortal(page, 'Hal Abelson', who.userName);
  assert.equal(env.smtp.mailTo(who.email).length, 1, 'exactly one message was sent');
});

test('MFA on every sign-in without a device: a verification code by SMTP', async () => {
  await env.admin.settings({
    emailOtp: false,
    mfa: { prompt: 'EVERY_SIGN_IN', noDeviceAction: 'EMAIL_CODE' },
  });
  const who = await person(uniqueName('ivy'), { givenName: 'Ivy', familyName: 'Baker' });

  const { page } = ctx;
  assert.equal(await signIn(page, who.userName, PASSWORD), '/signin/code');
  assert.equal(await page.locator('h1').innerText(), 'Verification code');
  assert.match(
    await page.locator('main').innerText(),
    /We emailed you a verification code\. Enter it below to finish signing in\./,
  );
  // Not signed in yet.
  const early = await ctx.context.request.get('/portal', { maxRedirects: 0 });
  assert.equal(early.status(), 303);

  const mail = await env.waitForMail(who.email, 15_000);
  assertDelivered(mail, who.email, 'Your Portcullis verification code');
  assert.match(mail.text, /^Hello Ivy Baker,/);
  assert.match(mail.text, /Your verification code is: \d{6}\n/);
  const code = codeIn(mail.text);

  await page.locator('#code').fill(code);
  await submit(page, 'Verify');
  await assertPortal(page, 'Ivy Baker', who.userName);

  // The session carries both factors.
  const sessions = await env.admin.expect(200, 'GET', `users/${who.userId}/sessions`);
  assert.equal(sessions.sessions.length, 1);
  assert.deepEqual(sessions.sessions[0].amr, ['pwd', 'otp', 'mfa']);
});

test('a wrong password, or an unknown user, says "Incorrect username or password."', async () => {
  await env.admin.settings(MFA_OFF);
  const who = await person(uniqueName('bea'));
  const { page } = ctx;

  assert.equal(await signIn(page, who.userName, 'not-her-password'), '/signin/password');
  assert.equal(await text(page, '[role=alert]'), 'Incorrect username or password.');
  assert.equal(await text(page, 'p.who strong'), who.userName, 'still signing in the same person');
  assert.equal(await page.locator('#password').inputValue(), '');
  assert.equal(await page.locator('header .user').count(), 0, 'not signed in');

  // An unknown user gets the very same message.
  assert.equal(await signIn(page, `${who.userName}x`, PASSWORD), '/signin/password');
  assert.equal(await text(page, '[role=alert]'), 'Incorrect username or password.');

  // The portal is still closed.
  await page.goto('/portal');
  assert.equal(new URL(page.url()).pathname, '/start');

  // And the right password works after the wrong one, from the same form.
  await enterUsername(page, who.userName);
  await page.locator('#password').fill('still-wrong');
  await submit(page, 'Sign in');
  assert.equal(await text(page, '[role=alert]'), 'Incorrect username or password.');
  await page.locator('#password').fill(PASSWORD);
  await submit(page, 'Sign in');
  await assertPortal(page, who.userName, who.userName);
});
