"""Accounts that are real AWS accounts, against moto's server mode as the cloud: STS, IAM and S3
over the wire protocols botocore speaks. The account's IAM SAML provider (our metadata) and a role
trusting it are set up in moto as an operator sets them up in AWS; Portcullis is told the account
is `aws` with moto as its STS; then boto3's `sso.get_role_credentials` with a token from the
SSO-OIDC device flow returns credentials that moto issued (AssumeRoleWithSAML), and with them
`sts.get_caller_identity` and `s3.list_buckets` at moto show the assumed role.

moto does not verify the SAML assertion (no signature check, no audience, no recipient), so the
assertion Portcullis sends to STS is captured on its way (a recording proxy in front of moto) and
validated separately by python3-saml configured as AWS's SP (`urn:amazon:webservices`, ACS
`https://signin.aws.amazon.com/saml`) with the certificate of our metadata. moto checks neither
roles nor trust policies either, so AWS's refusal (AccessDenied) is answered by the recorder for
one role, as AWS answers it. An `sso-session` profile resolves the same credentials with no code
of ours (what the AWS CLI does), and uses them at moto's STS and S3. Last, an account federated by
web identity (AssumeRoleWithWebIdentity, as MinIO and Ceph RGW take it): moto does not check the
token either, so joserfc verifies the captured one against our JWKS."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import boto3
import botocore
import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from harness import UNSIGNED, aws_client, sso_login

SERVER_ENV = {"PORTCULLIS__OIDC__DEVICE_POLL_INTERVAL_SECONDS": "1"}

# moto's default account.
ACCOUNT = "123456789012"
AWS_SIGN_IN = "https://signin.aws.amazon.com/saml"
ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"


# What AWS STS answers when a role's trust policy does not let the provider in (or the role is
# not there): moto checks neither, so the recorder answers it for the roles in `refuse`.
ACCESS_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
    <Message>Not authorized to perform sts:AssumeRoleWithSAML</Message></Error>
  <RequestId>4d1c8ac8-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>"""


class Recorder:
    """A proxy in front of moto that keeps what was POSTed to it (the STS calls Portcullis
    makes) and forwards everything unchanged — except calls for the role ARNs in `refuse`, which
    it answers as AWS refuses them."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.posted: list[dict[str, list[str]]] = []
        self.refuse: set[str] = set()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, body: bytes | None):
                request = urllib.request.Request(
                    recorder.upstream + self.path,
                    data=body,
                    method=self.command,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, headers, data = answer.status, answer.headers, answer.read()
                except urllib.error.HTTPError as e:
                    status, headers, data = e.code, e.headers, e.read()
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form = parse_qs(body.decode())
                recorder.posted.append(form)
                if set(form.get("RoleArn", [])) & recorder.refuse:
                    data = ACCESS_DENIED.encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._forward(body)

            def do_GET(self):
                self._forward(None)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def sts_proxy(moto):
    r = Recorder(moto)
    yield r
    r.stop()


def cloud(moto: str, service: str, creds: dict | None = None):
    """A boto3 client of `service` at moto: the operator's keys, or `creds` from GetRoleCredentials."""
    if creds is None:
        keys = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x" * 40}
    else:
        keys = {
            "aws_access_key_id": creds["accessKeyId"],
            "aws_secret_access_key": creds["secretAccessKey"],
            "aws_session_token": creds["sessionToken"],
        }
    return boto3.session.Session(region_name="us-east-1").client(
        service, endpoint_url=moto, **keys
    )


@pytest.fixture(scope="module")
def aws_account(server, moto, sts_proxy):
    """What an operator does in AWS (moto) and in Portcullis: the IAM SAML provider from our
    metadata, a role `Admin` trusting it for sign-in, a bucket; the account as kind `aws` with
    moto (through the recorder) as its STS; the permission set Admin (2 h)."""
    iam = cloud(moto, "iam")
    metadata = requests.get(f"{server.base}/saml/metadata", timeout=10).text
    provider = iam.create_saml_provider(SAMLMetadataDocument=metadata, Name="Portcullis")[
        "SAMLProviderArn"
    ]
    assert provider == f"arn:aws:iam::{ACCOUNT}:saml-provider/Portcullis"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"SAML:aud": AWS_SIGN_IN}},
            }
        ],
    }
    iam.create_role(RoleName="Admin", AssumeRolePolicyDocument=json.dumps(trust))
    cloud(moto, "s3").create_bucket(Bucket="portcullis-interop")
    created = server.admin.expect(
        201,
        "POST",
        "accounts",
        {
            "accountId": ACCOUNT,
            "name": "Cloud",
            "email": "cloud@example.com",
            "kind": "aws",
            "aws": {
                "stsEndpoint": sts_proxy.url,
                "sessionTags": {"Department": "${user:department}"},
            },
        },
    )
    assert created["kind"] == "aws" and created["aws"]["stsEndpoint"] == sts_proxy.url
    ps = server.admin.expect(
        201, "POST", "permission-sets", {"name": "Admin", "sessionDuration": "PT2H"}
    )["permissionSetId"]
    missing = server.admin.expect(201, "POST", "permission-sets", {"name": "NoSuchRole"})[
        "permissionSetId"
    ]

    def grant(person, permission_set=ps):
        server.admin.expect(
            200, "PATCH", f"users/{person.user_id}", {"attributes": {"department": "Research"}}
        )
        server.admin.expect(
            201,
            "POST",
            "assignments",
            {
                "accountId": ACCOUNT,
                "permissionSetId": permission_set,
                "principalType": "USER",
                "principalId": person.user_id,
            },
        )

    grant.missing = missing
    return grant


def test_role_credentials_come_from_the_accounts_sts(server, person, moto, sts_proxy, aws_account):
    aws_account(person)
    _, tokens = sso_login(server, person)
    sso = aws_client(server, "sso", config=UNSIGNED)
    before = len(sts_proxy.posted)
    creds = sso.get_role_credentials(
        accessToken=tokens["accessToken"], accountId=ACCOUNT, roleName="Admin"
    )["roleCredentials"]
    assert creds["accessKeyId"].startswith("ASIA"), creds

    # What Portcullis asked of STS: AssumeRoleWithSAML for the permission set's role, by the
    # account's provider, for the permission set's two hours.
    call = sts_proxy.posted[before]
    assert call["Action"] == ["AssumeRoleWithSAML"], call
    assert call["RoleArn"] == [f"arn:aws:iam::{ACCOUNT}:role/Admin"]
    assert call["PrincipalArn"] == [f"arn:aws:iam::{ACCOUNT}:saml-provider/Portcullis"]
    assert call["DurationSeconds"] == ["7200"]

    # The credentials are moto's: with them moto names the assumed role and the person, and S3
    # answers; Portcullis's own STS does not know them.
    me = cloud(moto, "sts", creds).get_caller_identity()
    assert me["Account"] == ACCOUNT
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{person.user_name}", me
    buckets = [b["Name"] for b in cloud(moto, "s3", creds).list_buckets()["Buckets"]]
    assert "portcullis-interop" in buckets
    ours = boto3.session.Session(region_name="us-east-1").client(
        "sts",
        endpoint_url=server.base,
        aws_access_key_id=creds["accessKeyId"],
        aws_secret_access_key=creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"],
    )
    with pytest.raises(botocore.exceptions.ClientError):
        ours.get_caller_identity()

    # Audited with STS's request id and the assumed role.
    events = server.admin.expect(200, "GET", "audit-events?action=broker.credentials.issue")[
        "events"
    ]
    mine = [e["details"] for e in events if e["details"].get("accessKeyId") == creds["accessKeyId"]]
    assert len(mine) == 1, events
    assert mine[0]["source"] == "sts" and mine[0]["stsRequestId"], mine
    assert mine[0]["assumedRoleArn"] == me["Arn"]
    assert creds["secretAccessKey"] not in json.dumps(events)


def test_the_assertion_sent_to_sts_is_what_aws_accepts(server, person, sts_proxy, aws_account):
    """What moto does not check: python3-saml as AWS's SP validates the captured assertion
    (signature with our metadata's certificate, audience, recipient, times) and its AWS
    attributes."""
    aws_account(person)
    _, tokens = sso_login(server, person)
    before = len(sts_proxy.posted)
    aws_client(server, "sso", config=UNSIGNED).get_role_credentials(
        accessToken=tokens["accessToken"], accountId=ACCOUNT, roleName="Admin"
    )
    assertion = sts_proxy.posted[before]["SAMLAssertion"][0]

    metadata = requests.get(f"{server.base}/saml/metadata", timeout=10).text
    idp = OneLogin_Saml2_IdPMetadataParser.parse(metadata)["idp"]
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "idp": idp,
            "sp": {
                "entityId": "urn:amazon:webservices",
                "assertionConsumerService": {"url": AWS_SIGN_IN, "binding": C.BINDING_HTTP_POST},
                "NameIDFormat": C.NAMEID_PERSISTENT,
            },
            "security": {
                "wantAssertionsSigned": True,
                "wantMessagesSigned": False,
                "wantNameId": True,
                "wantAttributeStatement": True,
                "rejectDeprecatedAlgorithm": True,
            },
        },
        sp_validation_only=True,
    )
    response = OneLogin_Saml2_Response(settings, assertion)
    request = {"https": "on", "http_host": "signin.aws.amazon.com", "script_name": "/saml"}
    assert response.is_valid(request, raise_exceptions=True)
    attrs = response.get_attributes()
    assert attrs[ROLE_ATTR] == [
        f"arn:aws:iam::{ACCOUNT}:role/Admin,arn:aws:iam::{ACCOUNT}:saml-provider/Portcullis"
    ]
    session_name = attrs["https://aws.amazon.com/SAML/Attributes/RoleSessionName"]
    assert session_name == [person.user_name]
    assert 2 <= len(session_name[0]) <= 64
    assert attrs["https://aws.amazon.com/SAML/Attributes/SessionDuration"] == ["7200"]
    assert attrs["https://aws.amazon.com/SAML/Attributes/SourceIdentity"] == [person.user_name]
    # The account's session tag, with the person's value (attributes for access control).
    assert attrs["https://aws.amazon.com/SAML/Attributes/PrincipalTag:Department"] == ["Research"]
    assert response.get_audiences() == ["urn:amazon:webservices"]
    # A tampered assertion is refused by the same SP.
    xml = base64.b64decode(assertion).decode()
    forged = base64.b64encode(xml.replace("role/Admin,", "role/Root,").encode()).decode()
    assert not OneLogin_Saml2_Response(settings, forged).is_valid(request)


def test_sts_refusals_reach_the_person_in_the_portal_apis_shape(
    server, person, moto, sts_proxy, aws_account
):
    """A permission set whose role does not let our provider in: STS refuses (AccessDenied), and
    boto3 sees the portal API's InvalidRequestException carrying STS's code and message, not
    credentials and not a 500; the refusal is audited with STS's request id."""
    sts_proxy.refuse.add(f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole")
    aws_account(person, aws_account.missing)
    _, tokens = sso_login(server, person)
    sso = aws_client(server, "sso", config=UNSIGNED)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sso.get_role_credentials(
            accessToken=tokens["accessToken"], accountId=ACCOUNT, roleName="NoSuchRole"
        )
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidRequestException", err
    message = err["Error"]["Message"]
    assert "AccessDenied" in message and "Not authorized" in message, err
    refused = server.admin.expect(
        200, "GET", "audit-events?action=broker.credentials.refuse"
    )["events"]
    details = [x["details"] for x in refused]
    assert any(
        d["roleName"] == "NoSuchRole"
        and d["code"] == "AccessDenied"
        and d["stsRequestId"] == "4d1c8ac8-0000-4000-8000-000000000000"
        for d in details
    ), details


# What a user's script (or the AWS CLI) does with an SSO profile: nothing but name it.
RESOLVE = """
import json, boto3
session = boto3.session.Session(profile_name="cloud")
me = session.client("sts").get_caller_identity()
buckets = [b["Name"] for b in session.client("s3").list_buckets()["Buckets"]]
print(json.dumps({"arn": me["Arn"], "buckets": buckets}))
"""


def test_an_sso_profile_reaches_the_cloud_with_its_sts_credentials(
    tmp_path, server, person, moto, aws_account
):
    """The AWS CLI's path: an `sso-session` profile for the account and role, with the token
    `aws sso login` leaves in the cache; botocore gets the credentials from Portcullis's portal
    API (AWS_ENDPOINT_URL_SSO) and uses them at the cloud (STS and S3 at moto)."""
    aws_account(person)
    _, tokens = sso_login(server, person)
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    start_url = f"{server.base}/start"
    (home / ".aws" / "config").write_text(
        f"[profile cloud]\nsso_session = pc\nsso_account_id = {ACCOUNT}\n"
        "sso_role_name = Admin\nregion = us-east-1\n\n"
        f"[sso-session pc]\nsso_start_url = {start_url}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    expires = (
        datetime.now(timezone.utc) + timedelta(seconds=tokens["expiresIn"])
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = hashlib.sha1(b"pc").hexdigest() + ".json"
    (cache / name).write_text(
        json.dumps(
            {
                "startUrl": start_url,
                "region": "us-east-1",
                "accessToken": tokens["accessToken"],
                "expiresAt": expires,
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "HOME": str(home),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_SSO": server.base,
            "AWS_ENDPOINT_URL_SSO_OIDC": server.base,
            "AWS_ENDPOINT_URL_STS": moto,
            "AWS_ENDPOINT_URL_S3": moto,
        }
    )
    run = subprocess.run(
        [sys.executable, "-c", RESOLVE], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{person.user_name}", seen
    assert "portcullis-interop" in seen["buckets"]


WEB_ACCOUNT = "210987654321"


def test_web_identity_credentials_come_from_sts_with_a_token_our_jwks_verifies(
    server, person, moto, sts_proxy
):
    """`federation: webIdentity` (what MinIO and Ceph RGW do, and AWS with an IAM OIDC
    provider): AssumeRoleWithWebIdentity at moto with an ID token for the account's audience.
    moto does not check the token, so the captured token is verified with joserfc against our
    discovery document's JWKS: RS256, iss, aud, sub, the times."""
    server.admin.expect(
        201,
        "POST",
        "accounts",
        {
            "accountId": WEB_ACCOUNT,
            "name": "Object storage",
            "email": "storage@example.com",
            "aws": {
                "stsEndpoint": sts_proxy.url,
                "federation": "webIdentity",
                "audience": "minio-portcullis",
                "sessionTags": {"Contact": "${user:email}"},
            },
        },
    )
    ps = server.admin.expect(201, "POST", "permission-sets", {"name": "Storage"})[
        "permissionSetId"
    ]
    server.admin.expect(
        201,
        "POST",
        "assignments",
        {
            "accountId": WEB_ACCOUNT,
            "permissionSetId": ps,
            "principalType": "USER",
            "principalId": person.user_id,
        },
    )
    _, tokens = sso_login(server, person)
    before = len(sts_proxy.posted)
    creds = aws_client(server, "sso", config=UNSIGNED).get_role_credentials(
        accessToken=tokens["accessToken"], accountId=WEB_ACCOUNT, roleName="Storage"
    )["roleCredentials"]
    call = sts_proxy.posted[before]
    assert call["Action"] == ["AssumeRoleWithWebIdentity"], call
    assert call["RoleArn"] == [f"arn:aws:iam::{WEB_ACCOUNT}:role/Storage"]
    assert call["RoleSessionName"] == [person.user_name]
    assert call["DurationSeconds"] == ["3600"]
    me = cloud(moto, "sts", creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{WEB_ACCOUNT}:assumed-role/Storage/{person.user_name}", me

    meta = requests.get(f"{server.base}/.well-known/openid-configuration", timeout=10).json()
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    token = jwt.decode(call["WebIdentityToken"][0], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"]
    jwt.JWTClaimsRegistry(
        leeway=5,
        iss={"essential": True, "value": server.base},
        aud={"essential": True, "value": "minio-portcullis"},
        sub={"essential": True, "value": person.user_id},
        exp={"essential": True},
        iat={"essential": True},
        nbf={"essential": True},
    ).validate(token.claims)
    assert token.claims["exp"] - token.claims["iat"] <= 300
    assert token.claims["preferred_username"] == person.user_name
    assert token.claims["https://aws.amazon.com/tags"] == {
        "principal_tags": {"Contact": [person.email]},
        "transitive_tag_keys": [],
    }
    # With another signature, it no longer verifies.
    head, payload, signature = call["WebIdentityToken"][0].split(".")
    other = "AAAA" if signature[:4] != "AAAA" else "BBBB"
    with pytest.raises(BadSignatureError):
        jwt.decode(
            f"{head}.{payload}.{other}{signature[4:]}",
            KeySet.import_key_set(jwks),
            algorithms=["RS256"],
        )
