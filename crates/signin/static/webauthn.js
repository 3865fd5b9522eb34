// Security keys and passkeys for Portcullis pages. Loaded from /static/webauthn.js (the Content
// Security Policy allows no inline script). It wires three buttons when present:
//   #webauthn-signin    second factor at sign-in       /signin/mfa/webauthn/{options,verify}
//   #webauthn-register  during sign-in (policy asks)   /signin/mfa/register/webauthn{/options,}
//                       or on the MFA devices page     /portal/mfa-devices/webauthn{/options,}
// Options come as JSON (CSRF token in X-CSRF-Token from <meta name="csrf-token">); the
// authenticator's answer goes back as a normal form post so the server answers with a page.
(() => {
  "use strict";

  const toBytes = (b64url) => {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  };
  const toB64url = (buf) => {
    const bytes = new Uint8Array(buf);
    let bin = "";
    bytes.forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  const showError = (text) => {
    let p = document.getElementById("webauthn-error");
    if (!p) {
      p = document.createElement("p");
      p.id = "webauthn-error";
      p.className = "error";
      p.setAttribute("role", "alert");
      const anchor = document.getElementById("webauthn-signin") || document.getElementById("webauthn-register");
      anchor.insertAdjacentElement("afterend", p);
    }
    p.textContent = text;
  };

  const options = async (url) => {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: "{}",
    });
    const body = await resp.json().catch(() => ({}));
    // A session too old to change MFA devices: sign in again, then come back.
    if (resp.status === 401 && body.signIn) window.location.assign(body.signIn);
    if (!resp.ok) throw new Error(body.error || "The server refused (" + resp.status + ").");
    return body;
  };

  const post = (url, fields) => {
    const form = document.createElement("form");
    form.method = "post";
    form.action = url;
    form.hidden = true;
    Object.entries(fields).forEach(([name, value]) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  };

  const signIn = async () => {
    const opts = await options("/signin/mfa/webauthn/options");
    const pk = opts.publicKey;
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const cred = await navigator.credentials.get({ publicKey: pk });
    const r = cred.response;
    post("/signin/mfa/webauthn/verify", {
      csrf: csrf(),
      credential: JSON.stringify({
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        extensions: cred.getClientExtensionResults(),
        response: {
          authenticatorData: toB64url(r.authenticatorData),
          clientDataJSON: toB64url(r.clientDataJSON),
          signature: toB64url(r.signature),
          userHandle: r.userHandle ? toB64url(r.userHandle) : null,
        },
      }),
    });
  };

  const register = async (button) => {
    const base = button.dataset.endpoint || (location.pathname.startsWith("/portal")
      ? "/portal/mfa-devices/webauthn" : "/signin/mfa/register/webauthn");
    const opts = await options(base + "/options");
    const pk = opts.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const cred = await navigator.credentials.create({ publicKey: pk });
    const r = cred.response;
    const nameInput = document.getElementById("webauthn-name");
    post(base, {
      csrf: csrf(),
      name: nameInput ? nameInput.value : "",
      credential: JSON.stringify({
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        extensions: cred.getClientExtensionResults(),
        response: {
          attestationObject: toB64url(r.attestationObject),
          clientDataJSON: toB64url(r.clientDataJSON),
          transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
        },
      }),
    });
  };

  const wire = (id, action) => {
    const button = document.getElementById(id);
    if (!button) return;
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      showError("This browser does not support security keys or passkeys.");
      return;
    }
    button.addEventListener("click", () => {
      button.disabled = true;
      action(button).catch((e) => {
        button.disabled = false;
        const messages = {
          NotAllowedError: "The security key request was cancelled or timed out.",
          InvalidStateError: "This security key or passkey is already registered for you.",
          SecurityError: "Security keys cannot be used on this address.",
        };
        showError((e && messages[e.name]) || (e && e.message) || "The security key could not be used.");
      });
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    wire("webauthn-signin", signIn);
    wire("webauthn-register", register);
  });
})();
