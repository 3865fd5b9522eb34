"""boto3 against the credential broker: the `sso` portal API (ListAccounts and ListAccountRoles with
pagination, GetRoleCredentials, Logout then UnauthorizedException), STS GetCallerIdentity signed by
botocore with the minted credentials (and presigned by botocore as a URL), and a botocore SSO profile (legacy and `sso-session` forms)
with a cached token that resolves credentials through `AWS_ENDPOINT_URL_SSO` / `_SSO_OIDC` / `_STS`
with no custom code at all.

The access token comes the way `aws sso login` gets it: RegisterClient, StartDeviceAuthorization,
approval on the `/device` page in a signed-in browser, CreateToken."""

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3
import botocore
import pytest
from botocore.config import Config

from harness import ACCOUNTS, UNSIGNED, aws_client, broker_entitlements, sso_login

SERVER_ENV = {"PORTCULLIS__OIDC__DEVICE_POLL_INTERVAL_SECONDS": "1"}


@pytest.fixture(scope="module")
def entitlements(server):
    """Accounts and permission sets (harness.broker_entitlements); a function granting a person
    roles in them."""
    return broker_entitlements(server)


@pytest.fixture
def signed_in(server, person, entitlements):
    entitlements(person)
    return sso_login(server, person)


def test_portal_api_lists_with_pagination_and_mints_credentials(server, person, signed_in):
    _, tokens = signed_in
    token = tokens["accessToken"]
    sso = aws_client(server, "sso", config=UNSIGNED)

    seen, kwargs = [], {}
    while True:
        page = sso.list_accounts(accessToken=token, maxResults=1, **kwargs)
        assert len(page["accountList"]) == 1, page
        seen.append(page["accountList"][0])
        if "nextToken" not in page:
            break
        kwargs = {"nextToken": page["nextToken"]}
    assert [a["accountId"] for a in seen] == ACCOUNTS
    assert seen[0] == {
        "accountId": ACCOUNTS[0],
        "accountName": f"Account {ACCOUNTS[0]}",
        "emailAddress": f"ops+{ACCOUNTS[0]}@example.com",
    }

    # botocore's own paginator follows nextToken the same way.
    paginator = sso.get_paginator("list_account_roles")
    roles = [
        r["roleName"]
        for p in paginator.paginate(
            accessToken=token, accountId=ACCOUNTS[0], PaginationConfig={"PageSize": 1}
        )
        for r in p["roleList"]
    ]
    assert roles == ["Admin", "ReadOnly"]

    before_ms = int(time.time() * 1000)
    creds = sso.get_role_credentials(accessToken=token, accountId=ACCOUNTS[1], roleName="Admin")[
        "roleCredentials"
    ]
    assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20
    assert len(creds["secretAccessKey"]) == 40 and creds["sessionToken"]
    lifetime_ms = creds["expiration"] - before_ms
    assert abs(lifetime_ms - 2 * 3600 * 1000) < 60_000, "epoch ms, the permission set's 2 hours"

    with pytest.raises(sso.exceptions.ResourceNotFoundException):
        sso.get_role_credentials(accessToken=token, accountId=ACCOUNTS[1], roleName="ReadOnly")
    with pytest.raises(sso.exceptions.ResourceNotFoundException):
        sso.list_account_roles(accessToken=token, accountId="444444444444")
    with pytest.raises(sso.exceptions.InvalidRequestException):
        sso.list_accounts(accessToken=token, nextToken="not-a-token")

    sso.logout(accessToken=token)
    for call in (
        lambda: sso.list_accounts(accessToken=token),
        lambda: sso.get_role_credentials(accessToken=token, accountId=ACCOUNTS[0], roleName="Admin"),
    ):
        with pytest.raises(sso.exceptions.UnauthorizedException) as err:
            call()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_sts_get_caller_identity_with_minted_credentials(server, person, signed_in):
    _, tokens = signed_in
    sso = aws_client(server, "sso", config=UNSIGNED)
    creds = sso.get_role_credentials(
        accessToken=tokens["accessToken"], accountId=ACCOUNTS[2], roleName="Admin"
    )["roleCredentials"]

    def sts(region="us-east-1", **override):
        keys = {
            "aws_access_key_id": creds["accessKeyId"],
            "aws_secret_access_key": creds["secretAccessKey"],
            "aws_session_token": creds["sessionToken"],
            **override,
        }
        return boto3.session.Session(region_name=region, **keys).client(
            "sts", endpoint_url=server.base, config=Config(retries={"max_attempts": 1})
        )

    for region in ("us-east-1", "eu-west-1"):
        me = sts(region).get_caller_identity()
        assert me["Arn"] == f"arn:aws:sts::{ACCOUNTS[2]}:assumed-role/Admin/{person.user_name}"
        assert me["Account"] == ACCOUNTS[2]
        assert me["UserId"].startswith("AROA") and me["UserId"].endswith(f":{person.user_name}")

    def code_of(**override):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            sts(**override).get_caller_identity()
        return err.value.response["Error"]["Code"]

    assert code_of(aws_secret_access_key="x" * 40) == "SignatureDoesNotMatch"
    token = creds["sessionToken"]
    middle = len(token) // 2
    tampered = token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1 :]
    assert code_of(aws_session_token=tampered) == "InvalidClientTokenId"


def test_sts_presigned_get_caller_identity_url(server, person, signed_in):
    """botocore's generate_presigned_url for GetCallerIdentity: the URL a client hands a
    resource service (Vault / aws-iam-authenticator style) verifies while it is valid, and not
    after, nor once altered."""
    import re
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    import requests

    _, tokens = signed_in
    sso = aws_client(server, "sso", config=UNSIGNED)
    creds = sso.get_role_credentials(
        accessToken=tokens["accessToken"], accountId=ACCOUNTS[1], roleName="Admin"
    )["roleCredentials"]
    sts = boto3.session.Session(
        region_name="eu-west-1",
        aws_access_key_id=creds["accessKeyId"],
        aws_secret_access_key=creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"],
    ).client("sts", endpoint_url=server.base)

    def fetch(url, method="GET"):
        r = requests.request(method, url, allow_redirects=False, timeout=10)
        code = re.search(r"<Code>([^<]+)</Code>", r.text)
        return r.status_code, (code.group(1) if code else None), r.text

    def presign(expires, method="GET"):
        return sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod=method
        )

    url = presign(900)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["Action"] == "GetCallerIdentity" and "X-Amz-Signature" in query
    assert "%2F" in url, "the credential travels percent-encoded"
    status, code, body = fetch(url)
    assert status == 200, body
    assert f"<Arn>arn:aws:sts::{ACCOUNTS[1]}:assumed-role/Admin/{person.user_name}</Arn>" in body
    # Used again within its validity: still good (a URL, unlike a request, may be replayed
    # until it expires; that is what X-Amz-Expires bounds).
    assert fetch(url)[0] == 200
    # botocore's default for this query-protocol API signs the URL for POST: so it is used.
    posted = presign(900, method=None)
    assert fetch(posted, method="POST")[0] == 200
    assert fetch(posted)[1] == "SignatureDoesNotMatch", "the method is signed"

    # Altered: another parameter value, or an extra parameter.
    parts = urlsplit(url)
    altered = dict(parse_qsl(parts.query))
    altered["Version"] = "2011-06-16"
    status, code, _ = fetch(urlunsplit(parts._replace(query=urlencode(altered))))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    status, code, _ = fetch(url + "&Extra=1")
    assert (status, code) == (403, "SignatureDoesNotMatch")

    # Expired: valid for one second, used after two.
    short = presign(1)
    time.sleep(2.2)
    status, code, body = fetch(short)
    assert (status, code) == (403, "SignatureDoesNotMatch"), body
    assert "expired" in body.lower()

    # Longer than a week: refused as malformed.
    week = presign(604801)
    status, code, _ = fetch(week)
    assert (status, code) == (400, "IncompleteSignature")


def _profile_env(tmp_path, server, tokens, *, session_style):
    """A home with an AWS config holding an SSO profile and the token cache `aws sso login` would
    have left; the environment a shell would have (botocore reads its cache directory from HOME
    when it is imported, so the profile is resolved in a fresh interpreter)."""
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    start_url = f"{server.base}/start"
    expires = (datetime.now(timezone.utc) + timedelta(seconds=tokens["expiresIn"])).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    if session_style:
        config = (
            f"[profile portcullis]\nsso_session = pc\nsso_account_id = {ACCOUNTS[0]}\n"
            f"sso_role_name = ReadOnly\nregion = us-east-1\n\n"
            f"[sso-session pc]\nsso_start_url = {start_url}\nsso_region = us-east-1\n"
            "sso_registration_scopes = sso:account:access\n"
        )
        key = "pc"
    else:
        config = (
            f"[profile portcullis]\nsso_start_url = {start_url}\nsso_region = us-east-1\n"
            f"sso_account_id = {ACCOUNTS[0]}\nsso_role_name = ReadOnly\nregion = us-east-1\n"
        )
        key = start_url
    (home / ".aws" / "config").write_text(config)
    cached = {
        "startUrl": start_url,
        "region": "us-east-1",
        "accessToken": tokens["accessToken"],
        "expiresAt": expires,
    }
    name = hashlib.sha1(key.encode("utf-8")).hexdigest() + ".json"
    (cache / name).write_text(json.dumps(cached))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"})
    for service in ("SSO", "SSO_OIDC", "STS"):
        env[f"AWS_ENDPOINT_URL_{service}"] = server.base
    return env


# What a user's script does: nothing but name the profile.
RESOLVE = """
import json, boto3
session = boto3.session.Session(profile_name="portcullis")
me = session.client("sts").get_caller_identity()
creds = session.get_credentials().get_frozen_credentials()
print(json.dumps({"arn": me["Arn"], "accessKey": creds.access_key, "hasToken": bool(creds.token)}))
"""


@pytest.mark.parametrize("session_style", [False, True], ids=["legacy-profile", "sso-session"])
def test_sso_profile_resolves_credentials_without_custom_code(
    tmp_path, server, person, signed_in, session_style
):
    _, tokens = signed_in
    env = _profile_env(tmp_path, server, tokens, session_style=session_style)
    run = subprocess.run(
        [sys.executable, "-c", RESOLVE], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["arn"] == f"arn:aws:sts::{ACCOUNTS[0]}:assumed-role/ReadOnly/{person.user_name}"
    assert out["accessKey"].startswith("ASIA") and out["hasToken"]
