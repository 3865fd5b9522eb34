// The harness of the real-browser tests: an SMTP sink that speaks real SMTP (nodemailer's
// smtp-server), the `portcullis serve` binary as a child process wired to that sink, an admin API
// client, and Debian's Chromium driven by playwright-core. Everything binds 127.0.0.1.
//
// Environment:
//   PORTCULLIS_BIN  the server binary (default ../../target/debug/portcullis from this folder)
//   CHROMIUM        the browser executable (default /usr/bin/chromium)
//   PORTCULLIS_BROWSER_KEEP=1  keep the temp dirs (data dir, screenshots) after the run

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, before, beforeEach } from 'node:test';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';
import { SMTPServer } from 'smtp-server';

const here = path.dirname(fileURLToPath(import.meta.url));

export const PORTCULLIS_BIN = path.resolve(
  here,
  process.env.PORTCULLIS_BIN || '../../target/debug/portcullis',
);
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Children still running, killed on any exit of this process (even a crash). */
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** A delay that never keeps the process alive on its own (a race loser must not hold the exit). */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** A temp dir; removed by the returned cleanup unless PORTCULLIS_BROWSER_KEEP is set. */
export async function tempDir(prefix) {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    dir,
    async remove() {
      if (!process.env.PORTCULLIS_BROWSER_KEEP) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// SMTP sink

/**
 * Starts an SMTP server on 127.0.0.1 (port 0) that accepts every message and keeps it, parsed.
 * Each message: { envelope: {mailFrom, rcptTo[]}, from, to[], subject, text, raw, session }.
 */
export async function startSmtpSink() {
  const messages = [];
  const waiters = new Set();
  const consumed = new Set(); // messages handed out by waitForMail

  const server = new SMTPServer({
    name: 'sink.test',
    banner: 'Portcullis test sink',
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('error', callback);
      stream.on('end', async () => {
        if (stream.sizeExceeded) {
          callback(Object.assign(new Error('message too big'), { responseCode: 552 }));
          return;
        }
        const raw = Buffer.concat(chunks);
        try {
          const parsed = await simpleParser(raw);
          const msg = {
            envelope: {
              mailFrom: session.envelope.mailFrom && session.envelope.mailFrom.address,
              rcptTo: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            },
            heloName: session.hostNameAppearsAs,
            transmissionType: session.transmissionType, // "ESMTP" after EHLO
            from: parsed.from ? parsed.from.value.map((a) => a.address.toLowerCase()) : [],
            to: parsed.to
              ? [parsed.to]
                  .flat()
                  .flatMap((t) => t.value)
                  .map((a) => a.address.toLowerCase())
              : [],
            toText: parsed.to ? [parsed.to].flat().map((t) => t.text).join(', ') : '',
            subject: parsed.subject || '',
            text: parsed.text || '',
            contentType: parsed.headers.get('content-type'),
            messageId: parsed.messageId,
            raw: raw.toString('utf8'),
            receivedAt: Date.now(),
          };
          messages.push(msg);
          for (const w of [...waiters]) w();
          callback(null, 'Queued by the test sink');
        } catch (e) {
          callback(e);
        }
      });
    },
  });
  server.on('error', () => {
    /* a broken client connection must not crash the tests */
  });
  await new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.server.address();

  const findFor = (to) =>
    messages.find(
      (m) => !consumed.has(m) && (m.envelope.rcptTo.includes(to) || m.to.includes(to)),
    );

  return {
    port,
    messages,
    /** All messages (consumed or not) addressed to `to`. */
    mailTo(to) {
      const t = to.toLowerCase();
      return messages.filter((m) => m.envelope.rcptTo.includes(t) || m.to.includes(t));
    },
    /**
     * The oldest message to `to` that no earlier call returned, waiting up to `timeoutMs` for
     * one to arrive.
     */
    waitForMail(to, timeoutMs = 10_000) {
      const t = to.toLowerCase();
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = findFor(t);
          if (!m) return false;
          consumed.add(m);
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = messages.map((m) => `${m.envelope.rcptTo.join(',')}: ${m.subject}`);
          reject(
            new Error(
              `no mail to ${to} within ${timeoutMs} ms (the sink has: ${JSON.stringify(seen)})`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close() {
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The six-digit code after "is: " in a message text ("Your … is: 123456"). */
export function codeIn(text) {
  const at = text.indexOf('is: ');
  if (at < 0) throw new Error(`no "is: " in the message: ${text}`);
  const m = /(?<!\d)(\d{6})(?!\d)/.exec(text.slice(at + 4));
  if (!m) throw new Error(`no six-digit code in the message: ${text}`);
  return m[1];
}

// ---------------------------------------------------------------------------------------------
// The server

/**
 * Starts `portcullis serve` on a free port of 127.0.0.1 with a fresh data dir, delivering mail
 * to the SMTP sink on `smtpPort`. Resolves once it logged "Portcullis is serving" and /healthz
 * answers 200.
 */
export async function startPortcullis({ smtpPort, env: extraEnv = {} } = {}) {
  if (!existsSync(PORTCULLIS_BIN)) {
    throw new Error(
      `no portcullis binary at ${PORTCULLIS_BIN}: run \`cargo build -p portcullis\` or set PORTCULLIS_BIN`,
    );
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const data = await tempDir('portcullis-browser-');
    try {
      return await startOnce({ smtpPort, extraEnv, data });
    } catch (e) {
      lastError = e;
      await data.remove();
      // The free port may have been taken between probing and binding: try another one.
      if (!/address already in use|Address in use|os error 98/i.test(String(e.message))) break;
    }
  }
  throw lastError;
}

async function startOnce({ smtpPort, extraEnv, data }) {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const token = `pcat_browser-${randomBytes(16).toString('hex')}`;
  const env = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS__') && k !== 'RUST_LOG'),
    ),
    PORTCULLIS__LISTEN: `127.0.0.1:${port}`,
    PORTCULLIS__PUBLIC_URL: base,
    PORTCULLIS__DATA_DIR: path.join(data.dir, 'data'),
    PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN: token,
    PORTCULLIS__LOG__FORMAT: 'json',
    ...(smtpPort
      ? {
          PORTCULLIS__DELIVERY__SMTP__HOST: '127.0.0.1',
          PORTCULLIS__DELIVERY__SMTP__PORT: String(smtpPort),
          PORTCULLIS__DELIVERY__SMTP__SECURITY: 'none',
          PORTCULLIS__DELIVERY__SMTP__FROM: 'portcullis@example.com',
        }
      : {}),
    ...extraEnv,
  };
  const child = spawn(PORTCULLIS_BIN, ['serve'], {
    env,
    cwd: data.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const log = []; // every line it wrote, for failure messages
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );

  let readyResolve;
  const ready = new Promise((r) => (readyResolve = r));
  const onLine = (line) => {
    log.push(line);
    if (log.length > 2000) log.shift();
    try {
      const v = JSON.parse(line);
      if (v && v.fields && v.fields.message === 'Portcullis is serving') readyResolve(v);
    } catch {
      /* not JSON: a plain error line */
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await data.remove();
  };

  const outcome = await Promise.race([
    ready.then((v) => ({ ready: v })),
    exited.then((e) => ({ exited: e })),
    sleep(60_000).then(() => ({ timeout: true })),
  ]);
  if (!outcome.ready) {
    await stop();
    const why = outcome.exited
      ? `exited (${outcome.exited.code ?? outcome.exited.signal})`
      : 'did not log "Portcullis is serving" within 60 s';
    throw new Error(`portcullis serve ${why}:\n${log.join('\n')}`);
  }
  if (outcome.ready.fields.port !== port) {
    await stop();
    throw new Error(`portcullis serves on ${outcome.ready.fields.port}, asked for ${port}`);
  }
  const health = await fetch(`${base}/healthz`);
  if (health.status !== 200) {
    await stop();
    throw new Error(`GET /healthz answered ${health.status}`);
  }

  return {
    base,
    port,
    token,
    dataDir: env.PORTCULLIS__DATA_DIR,
    log,
    /** The server's log lines so far, joined (for assertion messages). */
    logText: () => log.join('\n'),
    admin: adminClient(base, token),
    stop,
  };
}

/**
 * The admin API: `admin.call(method, path, body)` → {status, body}; plus helpers that assert
 * their expected status and return what the tests need.
 */
export function adminClient(base, token) {
  const call = async (method, p, body) => {
    const res = await fetch(`${base}/admin/v1/${p.replace(/^\//, '')}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed };
  };
  const expect = async (status, method, p, body) => {
    const a = await call(method, p, body);
    if (a.status !== status) {
      throw new Error(
        `${method} /admin/v1/${p} answered ${a.status}, expected ${status}: ${JSON.stringify(a.body)}`,
      );
    }
    return a.body;
  };
  return {
    call,
    expect,
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b),
    put: (p, b) => call('PUT', p, b),
    patch: (p, b) => call('PATCH', p, b),
    delete: (p, b) => call('DELETE', p, b),
    /** PUT /settings, expecting 200. */
    settings: (s) => expect(200, 'PUT', 'settings', s),
    /** Creates a person; returns the userId. */
    async createUser({ userName, email, givenName, familyName, displayName }) {
      const b = await expect(201, 'POST', 'users', {
        userName,
        email,
        ...(givenName ? { givenName } : {}),
        ...(familyName ? { familyName } : {}),
        ...(displayName ? { displayName } : {}),
      });
      return b.userId;
    },
    setPassword: (userId, password) =>
      expect(204, 'PUT', `users/${userId}/password`, { password, temporary: false }),
    async oneTimePassword(userId) {
      const b = await expect(200, 'POST', `users/${userId}/one-time-password`, {
        delivery: 'RETURN',
      });
      return b.oneTimePassword;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The browser

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set CHROMIUM`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

// ---------------------------------------------------------------------------------------------
// Everything together

/**
 * The SMTP sink, the server wired to it and the browser. `teardown()` always stops all three
 * (whatever failed) and is safe to call twice.
 */
export async function startEnvironment() {
  const env = { smtp: null, server: null, browser: null };
  let tornDown = false;
  env.teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    const errors = [];
    for (const step of [
      () => env.browser && env.browser.close(),
      () => env.server && env.server.stop(),
      () => env.smtp && env.smtp.close(),
    ]) {
      try {
        await step();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  };
  try {
    env.smtp = await startSmtpSink();
    env.server = await startPortcullis({ smtpPort: env.smtp.port });
    env.browser = await launchBrowser();
  } catch (e) {
    await env.teardown().catch(() => {});
    throw e;
  }
  env.base = env.server.base;
  env.admin = env.server.admin;
  env.waitForMail = (to, timeoutMs) => env.smtp.waitForMail(to, timeoutMs);
  /** A fresh browser context (its own cookies) with a page whose relative URLs hit the server. */
  env.newPage = async () => {
    const context = await env.browser.newContext({ baseURL: env.base });
    context.setDefaultTimeout(15_000);
    context.setDefaultNavigationTimeout(15_000);
    const page = await context.newPage();
    return { context, page };
  };
  return env;
}

// ---------------------------------------------------------------------------------------------
// Accessibility

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * The WCAG 2 A/AA violations axe-core finds on the page as it stands. The source is evaluated
 * through the DevTools protocol, which our Content Security Policy (no inline script) does not
 * govern; the page itself is not changed for the check.
 */
export async function axeViolations(page) {
  // A string is evaluated as a script by the protocol itself (no eval() inside the page).
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}

/** Fails with the list when axe-core finds any WCAG 2 A/AA violation on the page. */
export async function assertAccessible(page, what) {
  const violations = await axeViolations(page);
  if (violations.length) {
    throw new Error(`${what}: ${violations.length} accessibility violation(s):\n${JSON.stringify(violations, null, 2)}`);
  }
}

/** A user name unique to this run, so tests never share people. */
let counter = 0;
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${counter}-${randomBytes(3).toString('hex')}`;
}

/**
 * The hooks every test file uses: one environment per file (and `extra(env)`, e.g. a stand-in
 * service, started after it and closed before it), a fresh browser context and page per test.
 * `set({ env, ctx, extra })` is called whenever they change, to keep the file's variables current.
 */
export function useEnvironment({ set, extra }) {
  const state = { env: null, ctx: null, extra: null };
  before(async () => {
    state.env = await startEnvironment();
    if (extra) state.extra = await extra(state.env);
    set(state);
  });
  after(async () => {
    if (state.extra) await state.extra.close();
    if (state.env) await state.env.teardown();
  });
  beforeEach(async () => {
    state.ctx = await state.env.newPage();
    set(state);
  });
  afterEach(async () => {
    if (state.ctx) {
      await state.ctx.context.close();
      state.ctx = null;
      set(state);
    }
  });
}

