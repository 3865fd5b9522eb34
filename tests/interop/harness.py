"""The harness of the Python interop tests: a real `portcullis serve` on a free port of 127.0.0.1
with a fresh data dir (embedded SQLite), an admin API client, a cookie-keeping HTTP "browser"
that walks the server-rendered sign-in pages as a person's browser does, and the AWS side: boto3
clients of the server, the device-flow SSO login `aws sso login` does, and the credential
broker's accounts and permission sets.

Environment:
  PORTCULLIS_BIN           the server binary (default target/debug/portcullis of this checkout)
  PORTCULLIS_INTEROP_KEEP  keep the data dir after the run
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import boto3
import botocore
import requests
from botocore.config import Config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PORTCULLIS_BIN = os.path.abspath(
    os.environ.get("PORTCULLIS_BIN") or os.path.join(REPO, "target", "debug", "portcullis")
)
PASSWORD = "Tr1cky-Horse-Battery"
# Sign-in with the password only: these tests are about the protocols, not MFA.
SETTINGS = {"emailOtp": False, "mfa": {"prompt": "NEVER", "noDeviceAction": "ALLOW"}}
TIMEOUT = 10  # seconds, for every HTTP request


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_counter = 0


def unique_name(prefix: str) -> str:
    """A name unique to this run, so tests never share people or applications."""
    global _counter
    _counter += 1
    return f"{prefix}{_counter}-{secrets.token_hex(3)}"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636 §4.1-4.2: base64url without padding."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a URL (each name's first value)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


# ------------------------------------------------------------------------------------------------
# The server


class Server:
    """`portcullis serve` as a child process. Use `Server.start()`; `stop()` always cleans up."""

    def __init__(self, base, port, token, data_dir, process, log):
        self.base = base
        self.port = port
        self.token = token
        self.data_dir = data_dir
        self.process = process
        self.log = log  # the last lines it wrote (stdout and stderr)
        self.admin = Admin(base, token)

    @classmethod
    def start(cls, env: dict[str, str] | None = None) -> Server:
        if not os.access(PORTCULLIS_BIN, os.X_OK):
            raise RuntimeError(
                f"no portcullis binary at {PORTCULLIS_BIN}: run `cargo build -p portcullis` "
                "or set PORTCULLIS_BIN"
            )
        last = None
        for _ in range(3):
            try:
                return cls._start_once(env or {})
            except RuntimeError as e:
                last = e
                # The free port may have been taken between probing and binding: try another.
                if not re.search(r"address already in use|os error 98", str(e), re.I):
                    break
        raise last

    @classmethod
    def _start_once(cls, extra_env: dict[str, str]) -> Server:
        port = free_port()
        base = f"http://localhost:{port}"
        token = f"pcat_interop-{secrets.token_hex(16)}"
        tmp = tempfile.mkdtemp(prefix="portcullis-interop-")
        data_dir = os.path.join(tmp, "data")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PORTCULLIS__") and k != "RUST_LOG"
        }
        env.update(
            {
                "PORTCULLIS__LISTEN": f"127.0.0.1:{port}",
                "PORTCULLIS__PUBLIC_URL": base,
                "PORTCULLIS__DATA_DIR": data_dir,
                "PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN": token,
                "PORTCULLIS__LOG__FORMAT": "json",
            }
        )
        env.update(extra_env)
        process = subprocess.Popen(
            [PORTCULLIS_BIN, "serve"],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        log: deque[str] = deque(maxlen=2000)
        ready: dict = {}
        ready_event = threading.Event()

        def pump():
            for line in process.stdout:
                line = line.rstrip("\n")
                log.append(line)
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if (
                    isinstance(v, dict)
                    and v.get("fields", {}).get("message") == "Portcullis is serving"
                ):
                    ready.update(v["fields"])
                    ready_event.set()
            ready_event.set()  # it exited

        threading.Thread(target=pump, daemon=True).start()
        server = cls(base, port, token, data_dir, process, log)
        server._tmp = tmp
        ready_event.wait(60)
        if not ready:
            server.stop()
            why = (
                f"exited ({process.returncode})"
                if process.returncode is not None
                else 'did not log "Portcullis is serving" within 60 s'
            )
            raise RuntimeError(f"portcullis serve {why}:\n" + "\n".join(log))
        if ready.get("port") != port:
            server.stop()
            raise RuntimeError(f"portcullis serves on {ready.get('port')}, asked for {port}")
        health = requests.get(f"{base}/healthz", timeout=TIMEOUT)
        if health.status_code != 200:
            server.stop()
            raise RuntimeError(f"GET /healthz answered {health.status_code}")
        return server

    def log_text(self, last: int = 40) -> str:
        """Its last log lines, one `LEVEL target: message key=value…` each."""
        out = []
        for line in list(self.log)[-last:]:
            try:
                v = json.loads(line)
                f = dict(v.get("fields", {}))
                msg = f.pop("message", "")
                extra = " ".join(f"{k}={x}" for k, x in f.items() if not k.startswith("log."))
                out.append(f"{v.get('level', '?'):5} {v.get('target', '')}: {msg} {extra}".rstrip())
            except (ValueError, AttributeError):
                out.append(line)
        return "\n".join(out)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not os.environ.get("PORTCULLIS_INTEROP_KEEP"):
            shutil.rmtree(getattr(self, "_tmp", ""), ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# The admin API


@dataclass
class Person:
    user_id: str
    user_name: str
    email: str
    password: str = PASSWORD


class Admin:
    """`/admin/v1` with the bootstrap token. `call` returns (status, JSON body or text or None);
    `expect` also checks the status."""

    def __init__(self, base: str, token: str):
        self.base = base
        self.http = requests.Session()
        self.http.headers["authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None):
        r = self.http.request(
            method,
            f"{self.base}/admin/v1/{path.lstrip('/')}",
            json=body,
            timeout=TIMEOUT,
        )
        try:
            parsed = r.json() if r.content else None
        except ValueError:
            parsed = r.text
        return r.status_code, parsed

    def expect(self, status: int, method: str, path: str, body=None):
        got, parsed = self.call(method, path, body)
        if got != status:
            raise AssertionError(
                f"{method} /admin/v1/{path} answered {got}, expected {status}: {parsed!r}"
            )
        return parsed

    def settings(self, settings: dict) -> dict:
        return self.expect(200, "PUT", "settings", settings)

    def create_person(self, prefix: str = "pat") -> Person:
        """A person with a (permanent) password."""
        name = unique_name(prefix)
        email = f"{name}@example.com"
        user = self.expect(
            201,
            "POST",
            "users",
            {
                "userName": name,
                "email": email,
                "givenName": "Pat",
                "familyName": "Interop",
                "displayName": f"Pat {name}",
            },
        )
        self.expect(
            204,
            "PUT",
            f"users/{user['userId']}/password",
            {"password": PASSWORD, "temporary": False},
        )
        return Person(user["userId"], name, email)

    def create_oidc_app(self, client_type: str, redirect_uris: list[str], **oidc) -> dict:
        """An OIDC application (`{applicationId, clientId, clientSecret}`; no secret for a public
        client), granting authorization_code and refresh_token unless `grantTypes` says
        otherwise."""
        body = {
            "name": unique_name(f"interop-{client_type}-"),
            "kind": "OIDC",
            "oidc": {
                "clientType": client_type,
                "redirectUris": redirect_uris,
                "grantTypes": ["authorization_code", "refresh_token"],
                **oidc,
            },
        }
        return self.expect(201, "POST", "applications", body)

    def assign(self, application_id: str, person: Person) -> None:
        self.expect(
            201,
            "POST",
            f"applications/{application_id}/assignments",
            {"principalType": "USER", "principalId": person.user_id},
        )

    def sessions(self, person: Person) -> list[dict]:
        return self.expect(200, "GET", f"users/{person.user_id}/sessions")["sessions"]


# ------------------------------------------------------------------------------------------------
# Pages and forms


@dataclass
class Form:
    action: str  # absolute URL
    method: str
    inputs: list[dict] = field(default_factory=list)  # attributes of each <input>/<textarea>
    buttons: list[dict] = field(default_factory=list)  # attributes of each submit button, + "text"

    def field_names(self) -> list[str]:
        return [i.get("name") for i in self.inputs if i.get("name")]

    def values(self) -> list[str]:
        return [i.get("value", "") for i in self.inputs]

    def data(self, button: str | None = None, **fill: str) -> list[tuple[str, str]]:
        """What a browser submits: every named field with its value (checkboxes and radios only when
        checked), the `fill` values typed into the named fields (which must exist), and the name and
        value of the submit button whose label or value matches the regular expression `button`."""
        out = []
        for i in self.inputs:
            name = i.get("name")
            kind = (i.get("type") or "text").lower()
            if not name or kind in ("submit", "button", "image", "reset"):
                continue
            if kind in ("checkbox", "radio") and "checked" not in i:
                continue
            out.append((name, fill.get(name, i.get("value", ""))))
        missing = set(fill) - {n for n, _ in out}
        if missing:
            raise AssertionError(
                f"the form to {self.action} has no field {sorted(missing)} "
                f"(it has {self.field_names()})"
            )
        if button is not None:
            pattern = re.compile(button, re.I)
            chosen = [
                b
                for b in self.buttons
                if pattern.search(b.get("text", "")) or pattern.search(b.get("value", ""))
            ]
            if len(chosen) != 1:
                labels = [(b.get("text"), b.get("value")) for b in self.buttons]
                raise AssertionError(
                    f"expected one button matching /{button}/ in the form to {self.action}, "
                    f"found {len(chosen)} among {labels}"
                )
            if chosen[0].get("name"):
                out.append((chosen[0]["name"], chosen[0].get("value", "")))
        return out


class _FormParser(HTMLParser):
    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._button: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (unescape(v) if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(
                action=urljoin(self.url, a.get("action") or self.url),
                method=(a.get("method") or "get").upper(),
            )
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image"):
                self._form.buttons.append({**a, "text": a.get("value", "")})
            else:
                self._form.inputs.append(a)
        elif tag == "textarea":
            self._form.inputs.append({**a, "value": ""})
        elif tag == "button":
            if (a.get("type") or "submit").lower() == "submit":
                self._button = {**a, "text": ""}
                self._form.buttons.append(self._button)

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None:
            self._button["text"] = self._button["text"].strip()
            self._button = None


@dataclass
class Page:
    url: str
    status: int
    body: str

    @property
    def forms(self) -> list[Form]:
        p = _FormParser(self.url)
        p.feed(self.body)
        return p.forms

    def form(self, path: str) -> Form | None:
        """The form posting to `path` on our server, if the page has one."""
        found = [f for f in self.forms if urlsplit(f.action).path == path and f.method == "POST"]
        if len(found) > 1:
            raise AssertionError(f"{self.url} has {len(found)} forms posting to {path}")
        return found[0] if found else None

    def text(self) -> str:
        """The page's visible text, squeezed (for assertion messages)."""
        t = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", self.body)
        return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", t))).strip()


@dataclass
class Landing:
    """Where a walk through our pages ended: a redirect leaving our server, or a page of ours."""

    redirect: str | None
    page: Page | None
    trail: list[str]

    def describe(self) -> str:
        steps = "\n  ".join(self.trail)
        end = (
            f"redirect to {self.redirect}"
            if self.redirect
            else f"page {self.page.url} ({self.page.status}): {self.page.text()[:600]}"
        )
        return f"steps:\n  {steps}\nended at {end}"

    def expect_redirect(self, to: str) -> dict[str, str]:
        """Asserts the walk ended with a redirect to `to` (scheme, host, port and path); returns
        its query parameters."""
        want = urlsplit(to)
        got = urlsplit(self.redirect or "")
        if not self.redirect or (got.scheme, got.netloc, got.path) != (
            want.scheme,
            want.netloc,
            want.path,
        ):
            raise AssertionError(f"expected a redirect to {to}; {self.describe()}")
        return query_of(self.redirect)

    def expect_page(self, path: str, status: int = 200) -> Page:
        if self.page is None or urlsplit(self.page.url).path != path or self.page.status != status:
            raise AssertionError(f"expected the page {path} ({status}); {self.describe()}")
        return self.page


class Browser:
    """One person's browser: keeps cookies, follows redirects within our server, and fills the
    sign-in forms (username, then password) when a page shows them, as the person would."""

    def __init__(self, base: str, person: Person | None = None):
        self.base = base
        self.person = person
        self.http = requests.Session()
        self.http.headers["user-agent"] = "portcullis-interop/1 (python-requests)"
        self.origin = urlsplit(base)[:2]

    def sign_in(self) -> None:
        """/start, username, password (the tests/e2e/browser_like.rs sequence); ends at the
        portal."""
        landing = self.visit(f"{self.base}/start")
        if landing.page is None or urlsplit(landing.page.url).path != "/portal":
            raise AssertionError(f"sign-in did not reach the portal; {landing.describe()}")

    def visit(self, url: str) -> Landing:
        return self._walk("GET", url, None)

    def submit(self, page: Page, form: Form, button: str | None = None, **fill: str) -> Landing:
        """Submits `form` of `page` (with the button matching `button`); follows where it leads."""
        return self._walk(form.method, form.action, form.data(button, **fill), referer=page.url)

    def _walk(self, method, url, data, referer=None, max_steps=20) -> Landing:
        trail: list[str] = []
        signed_in = {"username": False, "password": False}
        for _ in range(max_steps):
            headers = {"referer": referer} if referer else {}
            r = self.http.request(
                method, url, data=data, headers=headers, allow_redirects=False, timeout=TIMEOUT
            )
            shown = urlsplit(url)
            query = f"?{shown.query}" if shown.query else ""
            trail.append(f"{method} {shown.path}{query} -> {r.status_code}")
            if r.status_code in (301, 302, 303, 307, 308):
                location = r.headers.get("location")
                if not location:
                    raise AssertionError(f"{method} {url}: {r.status_code} without Location")
                target = urljoin(url, location)
                if urlsplit(target)[:2] != self.origin:
                    trail.append(f"redirect out to {target}")
                    return Landing(target, None, trail)
                if r.status_code not in (307, 308):
                    method, data = "GET", None
                referer, url = url, target
                continue
            page = Page(url, r.status_code, r.text)
            step = self._sign_in_step(page, signed_in)
            if step is None:
                return Landing(None, page, trail)
            method, url, data = step
            referer = page.url
        raise AssertionError(f"more than {max_steps} steps:\n  " + "\n  ".join(trail))

    def _sign_in_step(self, page: Page, done: dict):
        if page.status != 200 or self.person is None:
            return None
        for path, name, value in (
            ("/signin/username", "username", self.person.user_name),
            ("/signin/password", "password", self.person.password),
        ):
            form = page.form(path)
            if form is not None and not done[name]:
                done[name] = True
                return form.method, form.action, form.data(**{name: value})
        return None


# ------------------------------------------------------------------------------------------------
# The AWS side: boto3 clients, the SSO login, the credential broker's entitlements

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# For the `sso` and `sso-oidc` APIs, which botocore calls unsigned: one try, short time-outs.
UNSIGNED = Config(
    signature_version=botocore.UNSIGNED,
    retries={"mode": "standard", "max_attempts": 1},
    connect_timeout=5,
    read_timeout=10,
)
# The accounts `broker_entitlements` grants roles in (a fourth, 444444444444, is granted nothing).
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]


def aws_client(server: Server, service: str, **kw):
    """A boto3 client of `service` at the server's public URL (region us-east-1)."""
    return boto3.session.Session(region_name="us-east-1").client(
        service, endpoint_url=server.base, **kw
    )


def broker_entitlements(server: Server):
    """Creates the accounts of ACCOUNTS and 444444444444 and the permission sets Admin (2 h) and
    ReadOnly (1 h). Returns a function that assigns a person Admin in every account of ACCOUNTS
    and ReadOnly in the first."""
    for account in ACCOUNTS + ["444444444444"]:
        server.admin.expect(
            201,
            "POST",
            "accounts",
            {"accountId": account, "name": f"Account {account}", "email": f"ops+{account}@example.com"},
        )
    admin = server.admin.expect(
        201, "POST", "permission-sets", {"name": "Admin", "sessionDuration": "PT2H"}
    )["permissionSetId"]
    read = server.admin.expect(201, "POST", "permission-sets", {"name": "ReadOnly"})[
        "permissionSetId"
    ]

    def grant(person: Person) -> None:
        for account, ps in [(a, admin) for a in ACCOUNTS] + [(ACCOUNTS[0], read)]:
            server.admin.expect(
                201,
                "POST",
                "assignments",
                {
                    "accountId": account,
                    "permissionSetId": ps,
                    "principalType": "USER",
                    "principalId": person.user_id,
                },
            )

    return grant


def sso_login(server: Server, person: Person, browser: Browser | None = None):
    """What `aws sso login` does with botocore's sso-oidc client: RegisterClient,
    StartDeviceAuthorization, approval on the `/device` page in `browser` (a new one for `person`
    unless given; it signs in on the way, so the access token belongs to its portal session),
    CreateToken. Returns (registration, tokens)."""
    oidc = aws_client(server, "sso-oidc", config=UNSIGNED)
    reg = oidc.register_client(
        clientName=unique_name("botocore-broker-"),
        clientType="public",
        scopes=["sso:account:access"],
    )
    device = oidc.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=f"{server.base}/start"
    )
    browser = browser or Browser(server.base, person)
    landing = browser.visit(device["verificationUriComplete"])
    page = landing.expect_page("/device")
    form = page.form("/device")
    assert form is not None, landing.describe()
    after = browser.submit(page, form, button=r"^(approve|allow)\b")
    assert after.page is not None and after.page.status == 200, after.describe()
    deadline = time.monotonic() + 30
    while True:
        try:
            tokens = oidc.create_token(
                clientId=reg["clientId"],
                clientSecret=reg["clientSecret"],
                grantType=DEVICE_GRANT,
                deviceCode=device["deviceCode"],
            )
            return reg, tokens
        except (oidc.exceptions.AuthorizationPendingException, oidc.exceptions.SlowDownException):
            assert time.monotonic() < deadline, "no token within 30 s"
            time.sleep(device["interval"] + 1)


# The literal value every SAML interop SP maps to its `department` attribute.
SAML_LITERAL = "engineering"


def register_saml_sp(server, person, library: str, metadata: str, signed_part: str, sp) -> tuple:
    """Registers a SAML service provider from its own metadata with the suite's attribute
    mappings (email, name, groups, a literal), puts `person` in two fresh groups and assigns them;
    checks the registration against `sp` (its entity_id, acs, slo). Returns (app id, groups)."""
    groups = [unique_name("saml-team-"), unique_name("saml-ops-")]
    for name in groups:
        group = server.admin.expect(201, "POST", "groups", {"displayName": name})
        server.admin.expect(204, "PUT", f"groups/{group['groupId']}/members/{person.user_id}")
    app = server.admin.expect(
        201,
        "POST",
        "applications",
        {
            "name": unique_name(f"{library} SP "),
            "kind": "SAML",
            "saml": {
                "metadataXml": metadata,
                "nameIdFormat": "persistent",
                "signedPart": signed_part,
                "attributes": [
                    {"name": "mail", "value": "${user:email}"},
                    {"name": "displayName", "value": "${user:name}"},
                    {"name": "groups", "value": "${user:groups}"},
                    {"name": "department", "value": SAML_LITERAL},
                ],
            },
        },
    )
    app_id = app["applicationId"]
    registered = server.admin.expect(200, "GET", f"applications/{app_id}")["saml"]
    assert registered["entityId"] == sp.entity_id, registered
    assert [a["url"] for a in registered["acs"]] == [sp.acs], registered
    assert registered["sloUrl"] == sp.slo, registered
    assert registered["requireSignedRequests"] is True, (
        "AuthnRequestsSigned in SP metadata means requests must be signed"
    )
    assert registered["certificate"], registered
    server.admin.assign(app_id, person)
    return app_id, groups

