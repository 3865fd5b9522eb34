"""Provisioning permission sets into AWS accounts, against moto's server mode as AWS (IAM, STS,
Organizations over the wire protocols botocore speaks). The organization's management account is
moto's default account; member accounts are created in moto's Organizations and imported into
Portcullis from there. Portcullis reaches each member account as IAM Identity Center does, by
AssumeRole into OrganizationAccountAccessRole with the management key; moto keeps every account's
IAM apart by the key a request is signed with, so what a test reads with a member account's
credentials is what that account holds.

What moto does not check, and how it is covered: moto does not evaluate trust policies or
permissions boundaries, so the tests read them back and check them as documents; it does not
verify the SAML assertion (test_aws_accounts.py validates that with python3-saml); it has no
AddClientIDToOpenIDConnectProvider (only needed when an audience changes); and it names the
caller of member-account SAML sessions by account only (see the first test)."""

import json
import os
import time

import boto3
import pytest
import requests

from harness import UNSIGNED, aws_client, sso_login

# AWS managed policies exist in moto only when it loads them (before its backends start).
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

SERVER_ENV = {"PORTCULLIS__OIDC__DEVICE_POLL_INTERVAL_SECONDS": "1"}

MANAGEMENT = "123456789012"
MEMBER_ROLE = "OrganizationAccountAccessRole"
OPERATOR_KEY = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "s" * 40}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}],
}


def connect(server, moto: str, auto_provision: bool) -> dict:
    """The provisioning connection: the operator's key, moto as AWS, the member role."""
    return server.admin.expect(
        200,
        "PUT",
        "provisioning/connection",
        {
            "accessKeyId": OPERATOR_KEY["aws_access_key_id"],
            "secretAccessKey": OPERATOR_KEY["aws_secret_access_key"],
            "endpoint": moto,
            "memberRoleName": MEMBER_ROLE,
            "autoProvision": auto_provision,
        },
    )


def client(moto: str, service: str, keys: dict | None = None):
    return boto3.session.Session(region_name="us-east-1").client(
        service, endpoint_url=moto, **(keys or OPERATOR_KEY)
    )


def member(moto: str, account: str, service: str):
    """A client acting in `account`, as the operator reaches it (the member role)."""
    c = client(moto, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="operator"
    )["Credentials"]
    return client(
        moto,
        service,
        {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        },
    )


@pytest.fixture(scope="module")
def org(server, moto):
    """An organization with two member accounts, imported into Portcullis; a customer managed
    policy `Billing` in the first (as its owner makes it); the provisioning connection."""
    orgs = client(moto, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    members = [
        orgs.create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"
        ]["AccountId"]
        for name in ("Research", "Storage")
    ]
    member(moto, members[0], "iam").create_policy(
        PolicyName="Billing",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "aws-portal:ViewBilling", "Resource": "*"}
            ]}
        ),
    )
    admin = server.admin
    # Nothing to do without a connection: a clear 409, not a 500.
    status, body = admin.call("POST", "provisioning/run")
    assert status == 409 and "connection" in body["message"], body
    # A bad connection is refused field by field and stores nothing.
    status, body = admin.call(
        "PUT",
        "provisioning/connection",
        {"accessKeyId": "short", "secretAccessKey": "x", "endpoint": "http://aws.example.com",
         "memberRoleName": "has space"},
    )
    assert status == 400 and body["error"] == "ValidationError", body
    fields = {f["field"] for f in body["fields"]}
    assert fields == {"accessKeyId", "secretAccessKey", "endpoint", "memberRoleName"}, body
    assert admin.call("GET", "provisioning/connection")[0] == 404
    view = connect(server, moto, auto_provision=False)
    assert "secretAccessKey" not in view and view["memberRoleName"] == MEMBER_ROLE
    shown = admin.expect(200, "GET", "provisioning/connection")
    assert OPERATOR_KEY["aws_secret_access_key"] not in json.dumps(shown)

    listed = admin.expect(200, "GET", "provisioning/organization-accounts")["accounts"]
    assert {a["accountId"] for a in listed} >= set(members) | {MANAGEMENT}
    imported = admin.expect(
        200, "POST", "provisioning/import-accounts", {"accountIds": members}
    )
    assert sorted(imported["created"]) == sorted(members), imported
    again = admin.expect(200, "POST", "provisioning/import-accounts", {"accountIds": members})
    assert again["created"] == [] and sorted(again["existing"]) == sorted(members)
    research = admin.expect(200, "GET", f"accounts/{members[0]}")
    assert research["kind"] == "aws" and research["name"] == "Research"
    # The people's credentials come from moto's STS too.
    for account in members:
        admin.expect(200, "PATCH", f"accounts/{account}", {"aws": {"stsEndpoint": moto}})
    return members


def assign(server, account, permission_set, person):
    server.admin.expect(
        201,
        "POST",
        "assignments",
        {
            "accountId": account,
            "permissionSetId": permission_set,
            "principalType": "USER",
            "principalId": person.user_id,
        },
    )


def statuses(server, account=None):
    got = server.admin.expect(200, "GET", "provisioning/status")["statuses"]
    return {
        (s["accountId"], s["permissionSetName"]): s
        for s in got
        if account is None or s["accountId"] == account
    }


def test_provisioning_makes_the_provider_and_role_in_the_member_account(
    server, person, moto, org
):
    research = org[0]
    ps = server.admin.expect(
        201,
        "POST",
        "permission-sets",
        {
            "name": "Researcher",
            "sessionDuration": "PT2H",
            "awsManagedPolicies": [READ_ONLY],
            "customerManagedPolicies": [{"name": "Billing"}],
            "inlinePolicy": json.dumps(INLINE, indent=2),
            "permissionsBoundary": {"managedPolicyArn": POWER_USER},
        },
    )
    assert ps["awsManagedPolicies"] == [READ_ONLY]
    assert ps["customerManagedPolicies"] == [{"name": "Billing", "path": "/"}]
    assign(server, research, ps["permissionSetId"], person)
    before = statuses(server)[(research, "Researcher")]
    assert before["status"] == "outOfDate" and before["summary"] == "out of date", before

    after = server.admin.expect(200, "POST", "provisioning/run", {"accountId": research})
    mine = {(s["accountId"], s["permissionSetName"]): s for s in after["statuses"]}
    assert mine[(research, "Researcher")]["status"] == "inSync", after
    assert mine[(research, "Researcher")]["summary"] == "in sync"

    iam = member(moto, research, "iam")
    provider_arn = f"arn:aws:iam::{research}:saml-provider/Portcullis"
    metadata = requests.get(f"{server.base}/saml/metadata", timeout=10).text
    assert iam.get_saml_provider(SAMLProviderArn=provider_arn)["SAMLMetadataDocument"] == metadata
    role = iam.get_role(RoleName="Researcher")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{research}:role/Researcher"
    assert role["MaxSessionDuration"] == 7200
    assert {"Key": "portcullis:managed", "Value": "true"} in role["Tags"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    statement = trust["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Federated": provider_arn}
    assert "sts:AssumeRoleWithSAML" in statement["Action"]
    assert statement["Condition"]["StringEquals"]["SAML:aud"] == [
        "https://signin.aws.amazon.com/saml"
    ]
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="Researcher")[
        "AttachedPolicies"
    ]}
    assert attached == {READ_ONLY, f"arn:aws:iam::{research}:policy/Billing"}
    inline = iam.get_role_policy(RoleName="Researcher", PolicyName="PortcullisInlinePolicy")
    doc = inline["PolicyDocument"]
    assert (json.loads(doc) if isinstance(doc, str) else doc) == INLINE
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == POWER_USER

    # Only in that account: not in the management account, not in the other member.
    for elsewhere in (client(moto, "iam"), member(moto, org[1], "iam")):
        with pytest.raises(elsewhere.exceptions.NoSuchEntityException):
            elsewhere.get_role(RoleName="Researcher")

    # The person gets credentials for the provisioned role from the account's STS.
    _, tokens = sso_login(server, person)
    creds = aws_client(server, "sso", config=UNSIGNED).get_role_credentials(
        accessToken=tokens["accessToken"], accountId=research, roleName="Researcher"
    )["roleCredentials"]
    me = client(
        moto,
        "sts",
        {
            "aws_access_key_id": creds["accessKeyId"],
            "aws_secret_access_key": creds["secretAccessKey"],
            "aws_session_token": creds["sessionToken"],
        },
    ).get_caller_identity()
    # moto files an AssumeRoleWithSAML session under the account that made the (unsigned) call,
    # so for a member account it names the caller by account only; test_aws_accounts.py checks
    # the assumed-role ARN in moto's default account.
    assert creds["accessKeyId"].startswith("ASIA") and me["Account"] == research, me

    # Audited, with no secret in the audit log.
    events = server.admin.expect(200, "GET", "audit-events?action=provisioning.apply")["events"]
    applied = [e for e in events if e["target"] == f"account:{research}"]
    assert applied and applied[0]["details"]["roleArn"] == role["Arn"], events
    everything = json.dumps(server.admin.expect(200, "GET", "audit-events?maxResults=1000"))
    assert OPERATOR_KEY["aws_secret_access_key"] not in everything
    assert OPERATOR_KEY["aws_secret_access_key"] not in server.log_text(10_000)


def test_a_permission_set_change_is_out_of_date_then_in_sync(server, person, moto, org):
    research = org[0]
    ps = server.admin.expect(
        201,
        "POST",
        "permission-sets",
        {
            "name": "Auditor",
            "awsManagedPolicies": [READ_ONLY],
            "permissionsBoundary": {"managedPolicyArn": POWER_USER},
        },
    )
    assign(server, research, ps["permissionSetId"], person)
    server.admin.expect(200, "POST", "provisioning/run", {"accountId": research})
    assert statuses(server)[(research, "Auditor")]["status"] == "inSync"

    server.admin.expect(
        200,
        "PATCH",
        f"permission-sets/{ps['permissionSetId']}",
        {"awsManagedPolicies": [VIEW_ONLY], "permissionsBoundary": None,
         "sessionDuration": "PT4H"},
    )
    changed = statuses(server)[(research, "Auditor")]
    assert changed["status"] == "outOfDate", changed

    server.admin.expect(
        200, "POST", "provisioning/run", {"permissionSetId": ps["permissionSetId"]}
    )
    assert statuses(server)[(research, "Auditor")]["status"] == "inSync"
    iam = member(moto, research, "iam")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="Auditor")[
        "AttachedPolicies"
    ]]
    assert attached == [VIEW_ONLY]
    role = iam.get_role(RoleName="Auditor")["Role"]
    assert "PermissionsBoundary" not in role and role["MaxSessionDuration"] == 4 * 3600

    # Changes made in AWS behind Portcullis's back are repaired by a forced run.
    iam.detach_role_policy(RoleName="Auditor", PolicyArn=VIEW_ONLY)
    server.admin.expect(
        200, "POST", "provisioning/run", {"accountId": research, "force": True}
    )
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="Auditor")[
        "AttachedPolicies"
    ]] == [VIEW_ONLY]


def test_failures_carry_awss_message_and_change_nothing_else(server, person, moto, org):
    storage = org[1]
    # A customer managed policy the account does not have.
    broken = server.admin.expect(
        201,
        "POST",
        "permission-sets",
        {"name": "Broken", "customerManagedPolicies": [{"name": "NoSuchPolicy", "path": "/x/"}]},
    )
    assign(server, storage, broken["permissionSetId"], person)
    # A role of the account's owner that happens to have the permission set's name: never
    # taken over.
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{storage}:root"},
         "Action": "sts:AssumeRole"}
    ]}
    member(moto, storage, "iam").create_role(
        RoleName="Operators", AssumeRolePolicyDocument=json.dumps(trust)
    )
    theirs = server.admin.expect(201, "POST", "permission-sets", {"name": "Operators"})
    assign(server, storage, theirs["permissionSetId"], person)

    after = server.admin.expect(200, "POST", "provisioning/run", {"accountId": storage})
    got = {s["permissionSetName"]: s for s in after["statuses"] if s["accountId"] == storage}
    assert got["Broken"]["status"] == "failed", got
    assert got["Broken"]["summary"].startswith("failed: NoSuchEntity"), got
    assert f"arn:aws:iam::{storage}:policy/x/NoSuchPolicy" in got["Broken"]["message"]
    assert got["Operators"]["status"] == "failed"
    assert got["Operators"]["message"].startswith("RoleNotManaged"), got
    iam = member(moto, storage, "iam")
    kept = iam.get_role(RoleName="Operators")["Role"]
    doc = kept["AssumeRolePolicyDocument"]
    assert (json.loads(doc) if isinstance(doc, str) else doc) == trust
    events = server.admin.expect(200, "GET", "audit-events?action=provisioning.fail")["events"]
    assert any(e["details"].get("code") == "NoSuchEntity" for e in events), events

    # Invalid input changes nothing: a policy that is not JSON, a boundary of both kinds.
    for bad in (
        {"inlinePolicy": "{not json"},
        {"awsManagedPolicies": ["arn:aws:iam::123456789012:policy/Mine"]},
        {"permissionsBoundary": {"managedPolicyArn": POWER_USER,
                                 "customerManagedPolicyReference": {"name": "B"}}},
    ):
        status, body = server.admin.call("PATCH", f"permission-sets/{broken['permissionSetId']}", bad)
        assert status == 400 and body["error"] == "ValidationError", body
    assert server.admin.expect(200, "GET", f"permission-sets/{broken['permissionSetId']}")[
        "inlinePolicy"
    ] is None


def test_the_role_goes_with_the_last_assignment(server, person, moto, org):
    research = org[0]
    ps = server.admin.expect(201, "POST", "permission-sets", {"name": "Temporary"})
    assign(server, research, ps["permissionSetId"], person)
    server.admin.expect(200, "POST", "provisioning/run", {"accountId": research})
    iam = member(moto, research, "iam")
    assert iam.get_role(RoleName="Temporary")["Role"]["RoleName"] == "Temporary"

    server.admin.expect(
        204,
        "DELETE",
        f"assignments?accountId={research}&permissionSetId={ps['permissionSetId']}"
        f"&principalType=USER&principalId={person.user_id}",
    )
    assert statuses(server)[(research, "Temporary")]["status"] == "pendingRemoval"
    server.admin.expect(200, "POST", "provisioning/run")
    assert (research, "Temporary") not in statuses(server)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="Temporary")
    # The provider stays for the account's other roles.
    assert iam.get_saml_provider(
        SAMLProviderArn=f"arn:aws:iam::{research}:saml-provider/Portcullis"
    )


def test_automatic_provisioning_and_web_identity(server, person, moto, org):
    """With autoProvision, a change provisions by itself; an account federated by web identity
    gets an OIDC provider for our issuer and a role trusting our tokens for its audience."""
    storage = org[1]
    server.admin.expect(
        200,
        "PATCH",
        f"accounts/{storage}",
        {"aws": {"stsEndpoint": moto, "federation": "webIdentity", "audience": "sts.amazonaws.com"}},
    )
    assert connect(server, moto, auto_provision=True)["autoProvision"] is True
    ps = server.admin.expect(201, "POST", "permission-sets", {"name": "Objects"})
    assign(server, storage, ps["permissionSetId"], person)
    deadline = time.monotonic() + 30
    while statuses(server).get((storage, "Objects"), {}).get("status") != "inSync":
        assert time.monotonic() < deadline, statuses(server)
        time.sleep(0.2)
    iam = member(moto, storage, "iam")
    host = server.base.removeprefix("http://")
    provider_arn = f"arn:aws:iam::{storage}:oidc-provider/{host}"
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    trust = iam.get_role(RoleName="Objects")["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Federated": provider_arn}
    assert "sts:AssumeRoleWithWebIdentity" in statement["Action"]
    assert statement["Condition"]["StringEquals"] == {f"{host}:aud": "sts.amazonaws.com"}
    # Credentials by web identity for the provisioned role.
    _, tokens = sso_login(server, person)
    creds = aws_client(server, "sso", config=UNSIGNED).get_role_credentials(
        accessToken=tokens["accessToken"], accountId=storage, roleName="Objects"
    )["roleCredentials"]
    assert creds["accessKeyId"].startswith("ASIA")


def test_two_runs_at_once_agree(server, person, moto, org):
    """Two "provision now" at the same moment: both answer, the account ends up with one role
    as the permission set says, and the status is in sync."""
    from concurrent.futures import ThreadPoolExecutor

    research = org[0]
    ps = server.admin.expect(
        201, "POST", "permission-sets", {"name": "Concurrent", "awsManagedPolicies": [READ_ONLY]}
    )
    assign(server, research, ps["permissionSetId"], person)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda _: server.admin.call("POST", "provisioning/run", {"accountId": research}),
                range(2),
            )
        )
    assert [status for status, _ in answers] == [200, 200], answers
    assert statuses(server)[(research, "Concurrent")]["status"] == "inSync"
    iam = member(moto, research, "iam")
    attached = iam.list_attached_role_policies(RoleName="Concurrent")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [READ_ONLY]


def test_a_renamed_role_replaces_the_old_one(server, person, moto, org):
    """The account's role template changes: the next run makes the role under its new name and
    removes the one it made before."""
    storage = org[1]
    # Runs only when asked, so that "out of date" can be seen.
    connect(server, moto, auto_provision=False)
    ps = server.admin.expect(201, "POST", "permission-sets", {"name": "Renamed"})
    assign(server, storage, ps["permissionSetId"], person)
    server.admin.expect(
        200, "POST", "provisioning/run", {"permissionSetId": ps["permissionSetId"]}
    )
    iam = member(moto, storage, "iam")
    assert iam.get_role(RoleName="Renamed")
    current = server.admin.expect(200, "GET", f"accounts/{storage}")["aws"]
    server.admin.expect(
        200,
        "PATCH",
        f"accounts/{storage}",
        {"aws": {"stsEndpoint": current["stsEndpoint"], "federation": current["federation"],
                 "audience": current["audience"],
                 "roleArnTemplate": "arn:aws:iam::{accountId}:role/sso/Sso{permissionSetName}"}},
    )
    assert statuses(server)[(storage, "Renamed")]["status"] == "outOfDate"
    server.admin.expect(
        200, "POST", "provisioning/run", {"permissionSetId": ps["permissionSetId"]}
    )
    mine = statuses(server)[(storage, "Renamed")]
    assert mine["status"] == "inSync", mine
    assert mine["roleArn"] == f"arn:aws:iam::{storage}:role/sso/SsoRenamed"
    role = iam.get_role(RoleName="SsoRenamed")["Role"]
    assert role["Path"] == "/sso/"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="Renamed")
