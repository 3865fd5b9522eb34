"""The gRPC services from a non-Rust client, against the real binary: Python's grpcio with stubs
that grpc_tools.protoc generates from proto/ at test time (into a temporary directory; nothing
generated is kept). The server opens its gRPC port because the module sets
`PORTCULLIS__GRPC__LISTEN`.

- `CredentialBroker`: ListAccounts and ListAccountRoles (with pagination) and GetRoleCredentials,
  the SSO access token of a real device-flow login in the `authorization: Bearer …` or the
  `x-amz-sso_bearer_token` metadata; VerifyCredentials on STS GetCallerIdentity requests that
  botocore's own SigV4 signer signed with the minted credentials, handed over part by part as a
  resource service received them, and refusals of altered ones.
- `SessionValidation`: ValidateSession and RevokeSession on the portal session (its cookie) that
  approved the login; once it is revoked, the access token it issued is refused too."""

import hashlib
import importlib
import importlib.resources
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import urlsplit

import grpc
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from grpc_tools import protoc

from harness import ACCOUNTS, REPO, TIMEOUT, Browser, broker_entitlements, free_port, sso_login

GRPC_PORT = free_port()
SERVER_ENV = {
    "PORTCULLIS__OIDC__DEVICE_POLL_INTERVAL_SECONDS": "1",
    "PORTCULLIS__GRPC__LISTEN": f"127.0.0.1:{GRPC_PORT}",
}
PROTOS = ["portcullis/broker/v1/broker.proto", "portcullis/sessions/v1/sessions.proto"]
GET_CALLER_IDENTITY = "Action=GetCallerIdentity&Version=2011-06-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
SESSION_COOKIE = "portcullis_session"  # over plain http; `__Host-portcullis_session` over https
ACCESS_KEY_ID = re.compile(r"ASIA[A-Z0-9]{16}")


# ------------------------------------------------------------------------------------------------
# Stubs, channel, people


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """The messages and stubs of both services, generated from proto/ by grpc_tools.protoc."""
    out = tmp_path_factory.mktemp("grpc-stubs")
    well_known = importlib.resources.files("grpc_tools") / "_proto"  # google/protobuf/*.proto
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{os.path.join(REPO, 'proto')}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *PROTOS,
        ]
    )
    assert rc == 0, "grpc_tools.protoc failed (its errors are in the captured stderr)"
    sys.path.insert(0, str(out))
    try:
        yield SimpleNamespace(
            broker=importlib.import_module("portcullis.broker.v1.broker_pb2"),
            broker_grpc=importlib.import_module("portcullis.broker.v1.broker_pb2_grpc"),
            sessions=importlib.import_module("portcullis.sessions.v1.sessions_pb2"),
            sessions_grpc=importlib.import_module("portcullis.sessions.v1.sessions_pb2_grpc"),
        )
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "portcullis" or m.startswith("portcullis.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def channel(server):
    # No proxy from the environment: the server is on this machine.
    ch = grpc.insecure_channel(f"127.0.0.1:{GRPC_PORT}", options=[("grpc.enable_http_proxy", 0)])
    try:
        grpc.channel_ready_future(ch).result(timeout=TIMEOUT)
        yield ch
    finally:
        ch.close()


@pytest.fixture(scope="module")
def broker(pb, channel):
    return pb.broker_grpc.CredentialBrokerStub(channel)


@pytest.fixture(scope="module")
def sessions(pb, channel):
    return pb.sessions_grpc.SessionValidationStub(channel)


@pytest.fixture(scope="module")
def entitlements(server):
    return broker_entitlements(server)


@pytest.fixture
def signed_in(server, person, entitlements):
    """The person holds Admin in ACCOUNTS and ReadOnly in the first, and has logged in as
    `aws sso login` does; (browser, access token). The browser's portal session approved it."""
    entitlements(person)
    browser = Browser(server.base, person)
    _, tokens = sso_login(server, person, browser)
    return browser, tokens["accessToken"]


def bearer(token):
    return [("authorization", f"Bearer {token}")]


def status_of(call, request, **kw):
    """The gRPC status code a call fails with."""
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=TIMEOUT, **kw)
    return err.value.code()


# ------------------------------------------------------------------------------------------------
# CredentialBroker: the portal API's operations


def test_lists_accounts_and_roles_and_mints_credentials(pb, broker, signed_in):
    _, token = signed_in
    m = pb.broker

    seen, next_token = [], ""
    while True:
        page = broker.ListAccounts(
            m.ListAccountsRequest(max_results=1, next_token=next_token),
            metadata=bearer(token),
            timeout=TIMEOUT,
        )
        assert len(page.accounts) == 1, page
        seen.append(page.accounts[0])
        next_token = page.next_token
        if not next_token:
            break
    assert [a.account_id for a in seen] == ACCOUNTS
    assert (seen[0].account_id, seen[0].account_name, seen[0].email_address) == (
        ACCOUNTS[0],
        f"Account {ACCOUNTS[0]}",
        f"ops+{ACCOUNTS[0]}@example.com",
    )
    # max_results 0 means 100: one page.
    whole = broker.ListAccounts(m.ListAccountsRequest(), metadata=bearer(token), timeout=TIMEOUT)
    assert [a.account_id for a in whole.accounts] == ACCOUNTS and whole.next_token == ""

    # The AWS SSO header works as well as `authorization`.
    roles, next_token = [], ""
    while True:
        page = broker.ListAccountRoles(
            m.ListAccountRolesRequest(account_id=ACCOUNTS[0], max_results=1, next_token=next_token),
            metadata=[("x-amz-sso_bearer_token", token)],
            timeout=TIMEOUT,
        )
        roles += [(r.account_id, r.role_name) for r in page.roles]
        next_token = page.next_token
        if not next_token:
            break
    assert roles == [(ACCOUNTS[0], "Admin"), (ACCOUNTS[0], "ReadOnly")]

    before = time.time()
    creds = broker.GetRoleCredentials(
        m.GetRoleCredentialsRequest(account_id=ACCOUNTS[1], role_name="Admin"),
        metadata=bearer(token),
        timeout=TIMEOUT,
    ).credentials
    assert ACCESS_KEY_ID.fullmatch(creds.access_key_id), creds.access_key_id
    assert len(creds.secret_access_key) == 40 and creds.session_token
    lifetime = creds.expiration.seconds - before
    assert abs(lifetime - 2 * 3600) < 60, "the permission set's 2 hours"

    # Refusals, as gRPC status codes (docs/broker.md#grpc).
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert status_of(broker.ListAccounts, m.ListAccountsRequest()) == unauthenticated
    assert (
        status_of(broker.ListAccounts, m.ListAccountsRequest(), metadata=bearer("not-a-token"))
        == unauthenticated
    )
    assert (
        status_of(
            broker.ListAccounts,
            m.ListAccountsRequest(next_token="not-a-token"),
            metadata=bearer(token),
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        status_of(
            broker.ListAccountRoles,
            m.ListAccountRolesRequest(account_id="444444444444"),
            metadata=bearer(token),
        )
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        status_of(
            broker.GetRoleCredentials,
            m.GetRoleCredentialsRequest(account_id=ACCOUNTS[1], role_name="ReadOnly"),
            metadata=bearer(token),
        )
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        status_of(
            broker.GetRoleCredentials,
            m.GetRoleCredentialsRequest(account_id="nope", role_name="Admin"),
            metadata=bearer(token),
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )


# ------------------------------------------------------------------------------------------------
# CredentialBroker.VerifyCredentials on requests botocore signed


def sign(url, creds, *, method="POST", body=GET_CALLER_IDENTITY, service="sts", secret=None):
    """A request to `url` signed by botocore's SigV4 signer with the broker's credentials, as an
    HTTP client sends it: (method, target, headers in order, body)."""
    headers = {"Content-Type": FORM} if body else {}
    request = AWSRequest(method=method, url=url, data=body or None, headers=headers)
    signer = Credentials(
        creds.access_key_id, secret or creds.secret_access_key, creds.session_token
    )
    SigV4Auth(signer, service, "us-east-1").add_auth(request)
    sent = request.prepare()  # adds Content-Length
    parts = urlsplit(sent.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    data = sent.body.encode() if isinstance(sent.body, str) else sent.body or b""
    # The Host header botocore signed (an HTTP client adds it from the URL).
    return method, target, [("Host", parts.netloc), *sent.headers.items()], data


def verify(pb, broker, signed, service=""):
    method, target, headers, body = signed
    request = pb.broker.VerifyCredentialsRequest(
        method=method,
        path=target,
        headers=[pb.broker.Header(name=k, value=v) for k, v in headers],
        body=body,
        service=service,
    )
    return broker.VerifyCredentials(request, timeout=TIMEOUT)


def refusal_code(answer):
    assert answer.WhichOneof("result") == "refusal", answer
    return answer.refusal.code


def test_verify_credentials_on_requests_signed_by_botocore(pb, server, broker, person, signed_in):
    _, token = signed_in
    creds = broker.GetRoleCredentials(
        pb.broker.GetRoleCredentialsRequest(account_id=ACCOUNTS[2], role_name="Admin"),
        metadata=bearer(token),
        timeout=TIMEOUT,
    ).credentials
    arn = f"arn:aws:sts::{ACCOUNTS[2]}:assumed-role/Admin/{person.user_name}"
    url = f"{server.base}/"

    # STS GetCallerIdentity as botocore sends it (a form POST), and as a GET with the query.
    for signed in (
        sign(url, creds),
        sign(f"{url}?{GET_CALLER_IDENTITY}", creds, method="GET", body=""),
    ):
        answer = verify(pb, broker, signed)
        assert answer.WhichOneof("result") == "identity", answer
        who = answer.identity
        assert (who.account_id, who.role_name, who.user_name) == (
            ACCOUNTS[2],
            "Admin",
            person.user_name,
        )
        assert who.user_id == person.user_id
        assert who.access_key_id == creds.access_key_id
        assert who.arn == arn
        assert who.expiration == creds.expiration

    # The same signed request sent to the server's STS endpoint names the same caller.
    method, target, headers, body = sign(url, creds)
    sts = requests.request(
        method, f"{server.base}{target}", headers=dict(headers), data=body, timeout=TIMEOUT
    )
    assert sts.status_code == 200, sts.text
    ns = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
    assert ET.fromstring(sts.content).findtext(".//sts:Arn", namespaces=ns) == arn

    # A resource service checking requests signed for itself names its service.
    answer = verify(pb, broker, sign(url, creds, service="execute-api"), service="execute-api")
    assert answer.WhichOneof("result") == "identity" and answer.identity.arn == arn, answer
    # Signed for STS but handed over as another service's: refused.
    assert refusal_code(verify(pb, broker, sign(url, creds), service="execute-api")) == (
        "SignatureDoesNotMatch"
    )

    # Refusals are answers carrying the STS error code (docs/broker.md), not gRPC errors.
    def refused(header=None, change=None, *, drop=None, target=None, body=None, signed=None):
        """The refusal code for a signed request (that of `sign(url, creds)` unless given) with
        `header`'s value changed by `change`, the header `drop` left out, or another target or
        body."""
        m, t, h, b = signed or sign(url, creds)
        h = [(k, change(v) if k == header else v) for k, v in h if k != drop]
        return refusal_code(verify(pb, broker, (m, target or t, h, b if body is None else body)))

    def flip_last(s):
        return s[:-1] + ("0" if s[-1] != "0" else "1")

    def tamper_token(t):
        middle = len(t) // 2
        return t[:middle] + ("B" if t[middle] == "A" else "A") + t[middle + 1 :]

    altered = GET_CALLER_IDENTITY.replace("2011-06-15", "2011-06-16")
    assert refused("Authorization", flip_last) == "SignatureDoesNotMatch"  # tampered signature
    assert refused(body=altered.encode()) == "SignatureDoesNotMatch"
    signed_get = sign(f"{url}?{GET_CALLER_IDENTITY}", creds, method="GET", body="")
    assert refused(target=f"/?{altered}", signed=signed_get) == "SignatureDoesNotMatch"
    assert refused(signed=sign(url, creds, secret="x" * 40)) == "SignatureDoesNotMatch"
    assert refused("X-Amz-Security-Token", tamper_token) == "InvalidClientTokenId"
    assert refused(drop="Authorization") == "MissingAuthenticationToken"


# ------------------------------------------------------------------------------------------------
# SessionValidation


def test_validate_then_revoke_the_portal_session(pb, broker, sessions, person, signed_in):
    browser, token = signed_in
    m = pb.sessions
    cookie = browser.http.cookies.get(SESSION_COOKIE)
    assert cookie, f"no {SESSION_COOKIE} cookie: {browser.http.cookies.keys()}"

    def validate(session_token):
        return sessions.ValidateSession(
            m.ValidateSessionRequest(session_token=session_token), timeout=TIMEOUT
        )

    before = time.time()
    answer = validate(cookie)
    assert answer.valid, answer
    s = answer.session
    assert s.session_id == hashlib.sha256(cookie.encode()).hexdigest()
    assert (s.user_id, s.user_name) == (person.user_id, person.user_name)
    assert list(s.amr) == ["pwd"]
    assert s.created_at.seconds <= before < s.expires_at.seconds

    for bad in ("", "not-a-session"):
        answer = validate(bad)
        assert not answer.valid and not answer.HasField("session"), (bad, answer)

    # The access token the session approved works until the session ends.
    listed = broker.ListAccounts(
        pb.broker.ListAccountsRequest(), metadata=bearer(token), timeout=TIMEOUT
    )
    assert [a.account_id for a in listed.accounts] == ACCOUNTS

    revoke = m.RevokeSessionRequest(session_token=cookie)
    assert sessions.RevokeSession(revoke, timeout=TIMEOUT).revoked is True
    assert sessions.RevokeSession(revoke, timeout=TIMEOUT).revoked is False, "no longer live"
    gone = validate(cookie)
    assert not gone.valid and not gone.HasField("session"), gone

    # The SSO access token died with its portal session: refused as on the portal API.
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert (
        status_of(broker.ListAccounts, pb.broker.ListAccountsRequest(), metadata=bearer(token))
        == unauthenticated
    )
    assert (
        status_of(
            broker.GetRoleCredentials,
            pb.broker.GetRoleCredentialsRequest(account_id=ACCOUNTS[0], role_name="Admin"),
            metadata=bearer(token),
        )
        == unauthenticated
    )
