// The harness of the Node interop tests: the `portcullis serve` binary as a child process on a free
// port of 127.0.0.1 with a fresh data dir (embedded SQLite), an admin API client, and a
// cookie-keeping HTTP "browser" that walks the server-rendered sign-in pages as a person's browser
// does. The Python tests (harness.py) do the same in Python.
//
// Environment:
//   PORTCULLIS_BIN           the server binary (default ../../target/debug/portcullis from here)
//   PORTCULLIS_INTEROP_KEEP  keep the data dir after the run

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const PORTCULLIS_BIN = path.resolve(
  here,
  process.env.PORTCULLIS_BIN || '../../target/debug/portcullis',
);
export const PASSWORD = 'Tr1cky-Horse-Battery';
/** Sign-in with the password only: these tests are about the protocols, not MFA. */
export const SETTINGS = { emailOtp: false, mfa: { prompt: 'NEVER', noDeviceAction: 'ALLOW' } };
const TIMEOUT_MS = 10_000;

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

/** A delay that never keeps the process alive on its own. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

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

/** A name unique to this run, so tests never share people or applications. */
let counter = 0;
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${counter}-${randomBytes(3).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// The server

/**
 * Starts `portcullis serve` on a free port with a fresh data dir; resolves once it logged
 * "Portcullis is serving" and /healthz answers 200. `env` adds environment variables.
 */
export async function startPortcullis({ env: extraEnv = {} } = {}) {
  if (!existsSync(PORTCULLIS_BIN)) {
    throw new Error(
      `no portcullis binary at ${PORTCULLIS_BIN}: run \`cargo build -p portcullis\` or set PORTCULLIS_BIN`,
    );
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(extraEnv);
    } catch (e) {
      lastError = e;
      // The free port may have been taken between probing and binding: try another one.
      if (!/address already in use|os error 98/i.test(String(e.message))) break;
    }
  }
  throw lastError;
}

async function startOnce(extraEnv) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'portcullis-interop-'));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const token = `pcat_interop-${randomBytes(16).toString('hex')}`;
  const env = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS__') && k !== 'RUST_LOG'),
    ),
    PORTCULLIS__LISTEN: `127.0.0.1:${port}`,
    PORTCULLIS__PUBLIC_URL: base,
    PORTCULLIS__DATA_DIR: path.join(tmp, 'data'),
    PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN: token,
    PORTCULLIS__LOG__FORMAT: 'json',
    ...extraEnv,
  };
  const child = spawn(PORTCULLIS_BIN, ['serve'], {
    env,
    cwd: tmp,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const log = [];
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
    if (!process.env.PORTCULLIS_INTEROP_KEEP) await rm(tmp, { recursive: true, force: true });
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
  const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (health.status !== 200) {
    await stop();
    throw new Error(`GET /healthz answered ${health.status}`);
  }
  return {
    base,
    port,
    token,
    admin: adminClient(base, token),
    /** Its last log lines, one `LEVEL target: message key=value…` each (for failure messages). */
    logText(last = 40) {
      return log
        .slice(-last)
        .map((line) => {
          try {
            const v = JSON.parse(line);
            const { message = '', ...rest } = v.fields || {};
            const extra = Object.entries(rest)
              .filter(([k]) => !k.startsWith('log.'))
              .map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`)
              .join(' ');
            return `${String(v.level).padEnd(5)} ${v.target}: ${message} ${extra}`.trimEnd();
          } catch {
            return line;
          }
        })
        .join('\n');
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// The admin API

export function adminClient(base, token) {
  const call = async (method, p, body) => {
    const res = await fetch(`${base}/admin/v1/${p.replace(/^\//, '')}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
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
    settings: (s) => expect(200, 'PUT', 'settings', s),
    /** A person with a (permanent) password: {userId, userName, email, password}. */
    async createPerson(prefix = 'pat') {
      const userName = uniqueName(prefix);
      const email = `${userName}@example.com`;
      const user = await expect(201, 'POST', 'users', {
        userName,
        email,
        givenName: 'Pat',
        familyName: 'Interop',
        displayName: `Pat ${userName}`,
      });
      await expect(204, 'PUT', `users/${user.userId}/password`, {
        password: PASSWORD,
        temporary: false,
      });
      return { userId: user.userId, userName, email, password: PASSWORD };
    },
    /**
     * An OIDC application: {applicationId, clientId, clientSecret} (no secret for a public client),
     * granting authorization_code and refresh_token unless `oidc.grantTypes` says otherwise.
     */
    createOidcApp(clientType, redirectUris, oidc = {}) {
      return expect(201, 'POST', 'applications', {
        name: uniqueName(`interop-${clientType}-`),
        kind: 'OIDC',
        oidc: {
          clientType,
          redirectUris,
          grantTypes: ['authorization_code', 'refresh_token'],
          ...oidc,
        },
      });
    },
    assign: (applicationId, person) =>
      expect(201, 'POST', `applications/${applicationId}/assignments`, {
        principalType: 'USER',
        principalId: person.userId,
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Pages and forms

const decodeEntities = (s) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const l = e.toLowerCase();
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    if (l.startsWith('#')) return String.fromCodePoint(parseInt(l.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[l];
  });

function attributes(s) {
  const out = {};
  for (const m of s.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

const textOf = (html) =>
  decodeEntities(
    html
      .replace(/<(script|style|head)\b[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' '),
  )
    .replace(/\s+/g, ' ')
    .trim();

/** The forms of a page (our templates are well-formed: no nesting, quoted attributes). */
export function formsOf(html, pageUrl) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attributes(m[1]);
    const inputs = [];
    const buttons = [];
    const fields = /<input\b([^>]*)>|<textarea\b([^>]*)>|<button\b([^>]*)>([\s\S]*?)<\/button>/gi;
    for (const i of m[2].matchAll(fields)) {
      if (i[1] !== undefined) {
        const ia = attributes(i[1]);
        const type = (ia.type || 'text').toLowerCase();
        if (type === 'submit' || type === 'image') buttons.push({ ...ia, text: ia.value || '' });
        else inputs.push(ia);
      } else if (i[2] !== undefined) {
        inputs.push({ ...attributes(i[2]), value: '' });
      } else {
        const ba = attributes(i[3]);
        if ((ba.type || 'submit').toLowerCase() === 'submit') {
          buttons.push({ ...ba, text: textOf(i[4]) });
        }
      }
    }
    forms.push({
      action: new URL(a.action || pageUrl, pageUrl).href,
      method: (a.method || 'get').toUpperCase(),
      inputs,
      buttons,
    });
  }
  return forms;
}

/**
 * What a browser submits for `form`: every named field with its value (checkboxes and radios only
 * when checked), `fill` typed into the named fields (which must exist), and the name and value of
 * the one submit button whose label or value matches `button` (a RegExp).
 */
export function formData(form, { button, fill = {} } = {}) {
  const out = new URLSearchParams();
  const seen = new Set();
  for (const i of form.inputs) {
    const type = (i.type || 'text').toLowerCase();
    if (!i.name || ['submit', 'button', 'image', 'reset'].includes(type)) continue;
    if ((type === 'checkbox' || type === 'radio') && !('checked' in i)) continue;
    out.append(i.name, i.name in fill ? fill[i.name] : (i.value ?? ''));
    seen.add(i.name);
  }
  const missing = Object.keys(fill).filter((n) => !seen.has(n));
  if (missing.length) {
    throw new Error(`the form to ${form.action} has no field ${missing.join(', ')}`);
  }
  if (button) {
    const chosen = form.buttons.filter(
      (b) => button.test(b.text || '') || button.test(b.value || ''),
    );
    if (chosen.length !== 1) {
      throw new Error(
        `expected one button matching ${button} in the form to ${form.action}, ` +
          `found ${chosen.length} among ${JSON.stringify(form.buttons)}`,
      );
    }
    if (chosen[0].name) out.append(chosen[0].name, chosen[0].value ?? '');
  }
  return out;
}

export class Page {
  constructor(url, status, body) {
    this.url = url;
    this.status = status;
    this.body = body;
  }
  get forms() {
    return formsOf(this.body, this.url);
  }
  /** The form posting to `pathname` on our server, if the page has one. */
  form(pathname) {
    const found = this.forms.filter(
      (f) => new URL(f.action).pathname === pathname && f.method === 'POST',
    );
    if (found.length > 1) {
      throw new Error(`${this.url} has ${found.length} forms posting to ${pathname}`);
    }
    return found[0] ?? null;
  }
  text() {
    return textOf(this.body);
  }
}

/** Where a walk through our pages ended: a redirect leaving our server, or a page of ours. */
export class Landing {
  constructor(redirect, page, trail) {
    this.redirect = redirect;
    this.page = page;
    this.trail = trail;
  }
  describe() {
    const end = this.redirect
      ? `redirect to ${this.redirect}`
      : `page ${this.page.url} (${this.page.status}): ${this.page.text().slice(0, 600)}`;
    return `steps:\n  ${this.trail.join('\n  ')}\nended at ${end}`;
  }
  /** Asserts the walk ended with a redirect to `to` (origin and path); returns that URL. */
  expectRedirect(to) {
    const want = new URL(to);
    const got = this.redirect ? new URL(this.redirect) : null;
    if (!got || got.origin !== want.origin || got.pathname !== want.pathname) {
      throw new Error(`expected a redirect to ${to}; ${this.describe()}`);
    }
    return got;
  }
}

/**
 * One person's browser: keeps cookies, follows redirects within our server, and fills the sign-in
 * forms (username, then password) when a page shows them, as the person would.
 */
export class Browser {
  constructor(base, person) {
    this.base = base;
    this.origin = new URL(base).origin;
    this.person = person;
    this.cookies = new Map();
  }

  async request(method, url, body, referer) {
    const headers = { 'user-agent': 'portcullis-interop/1 (node-fetch)' };
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    if (referer) headers.referer = referer;
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method,
      headers,
      body: body ? body.toString() : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => {
        const [k, v = ''] = a.split('=').map((s) => s.trim());
        return (
          (k.toLowerCase() === 'max-age' && Number(v) <= 0) ||
          (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now())
        );
      });
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  visit(url) {
    return this.walk('GET', url, null);
  }

  /** Submits `form` of `page` (with the button matching `button`) and follows where it leads. */
  submit(page, form, { button, fill } = {}) {
    return this.walk(form.method, form.action, formData(form, { button, fill }), page.url);
  }

  async walk(method, url, body, referer = null) {
    const trail = [];
    const done = { username: false, password: false };
    for (let step = 0; step < 20; step++) {
      const res = await this.request(method, url, body, referer);
      const u = new URL(url);
      trail.push(`${method} ${u.pathname}${u.search} -> ${res.status}`);
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        const location = res.headers.get('location');
        if (!location) throw new Error(`${method} ${url}: ${res.status} without Location`);
        const target = new URL(location, url).href;
        if (new URL(target).origin !== this.origin) {
          trail.push(`redirect out to ${target}`);
          return new Landing(target, null, trail);
        }
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = null;
        }
        referer = url;
        url = target;
        continue;
      }
      const page = new Page(url, res.status, await res.text());
      const next = this.signInStep(page, done);
      if (!next) return new Landing(null, page, trail);
      [method, url, body] = next;
      referer = page.url;
    }
    throw new Error(`more than 20 steps:\n  ${trail.join('\n  ')}`);
  }

  signInStep(page, done) {
    if (page.status !== 200 || !this.person) return null;
    for (const [p, name, value] of [
      ['/signin/username', 'username', this.person.userName],
      ['/signin/password', 'password', this.person.password],
    ]) {
      const form = page.form(p);
      if (form && !done[name]) {
        done[name] = true;
        return [form.method, form.action, formData(form, { fill: { [name]: value } })];
      }
    }
    return null;
  }

  /** /start, username, password (the tests/e2e/browser_like.rs sequence); ends at the portal. */
  async signIn() {
    const landing = await this.visit(`${this.base}/start`);
    if (!landing.page || new URL(landing.page.url).pathname !== '/portal') {
      throw new Error(`sign-in did not reach the portal; ${landing.describe()}`);
    }
  }
}
