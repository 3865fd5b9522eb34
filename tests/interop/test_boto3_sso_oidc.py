"""boto3's `sso-oidc` client (the AWS SSO OIDC API that `aws sso login` and the SDKs speak) against
Portcullis: client registration, the device authorization grant polled as the SDKs poll it
(pending, slow_down, approval on the `/device` page, tokens, refresh, denial, bad client
credentials, a foreign start URL), and the AWS CLI v2's authorization code + PKCE path with a
loopback redirect registered without a port.

The server runs with a 1-second device polling interval so the polls stay quick, and with 15-minute
portal sessions so that "a token never outlives the portal session" is visible in `expiresIn`."""

import base64
import hashlib
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlencode, urlsplit

import boto3
import botocore
import pytest
from botocore.config import Config

from harness import Browser, free_port, unique_name

SERVER_ENV = {"PORTCULLIS__OIDC__DEVICE_POLL_INTERVAL_SECONDS": "1"}
SCOPES = ["sso:account:access"]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SESSION_SECONDS = 15 * 60
APPROVE = r"^(approve|allow)\b"
DENY = r"^(deny|don.t allow)\b"


@pytest.fixture(scope="module", autouse=True)
def short_portal_sessions(server):
    server.admin.settings({"sessionDuration": "PT15M"})


@pytest.fixture(scope="module")
def oidc(server):
    """What `aws sso login` builds: an unsigned sso-oidc client whose endpoint is our base URL."""
    return boto3.session.Session(region_name="us-east-1").client(
        "sso-oidc",
        endpoint_url=server.base,
        config=Config(
            signature_version=botocore.UNSIGNED,
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=5,
            read_timeout=10,
        ),
    )


def register(oidc, **extra):
    """RegisterClient as the CLI calls it; checks the times are epoch seconds (90-day secret)."""
    before = time.time()
    reg = oidc.register_client(
        clientName=unique_name("botocore-client-"), clientType="public", scopes=SCOPES, **extra
    )
    assert reg["clientId"] and reg["clientSecret"], reg
    assert before - 60 <= reg["clientIdIssuedAt"] <= time.time() + 60, "epoch seconds"
    lifetime = reg["clientSecretExpiresAt"] - reg["clientIdIssuedAt"]
    assert abs(lifetime - 90 * 86400) <= 86400, f"registrations live 90 days, not {lifetime} s"
    return reg


def start(oidc, server, reg):
    device = oidc.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=f"{server.base}/start"
    )
    assert device["deviceCode"] and device["userCode"], device
    assert device["verificationUri"] == f"{server.base}/device", device
    complete = device["verificationUriComplete"]
    assert complete.startswith(f"{server.base}/device?"), device
    assert device["userCode"] in unquote(complete), device
    assert device["interval"] == 1, "PORTCULLIS__OIDC__DEVICE_POLL_INTERVAL_SECONDS=1"
    assert 0 < device["expiresIn"] <= 3600, device
    return device


def create_device_token(oidc, reg, device):
    return oidc.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType=DEVICE_GRANT,
        deviceCode=device["deviceCode"],
    )


def poll(oidc, reg, device, interval, last_poll, limit=30):
    """Polls as the SDKs do (RFC 8628 §3.5): every `interval` seconds after the previous poll,
    5 more after slow_down; returns (tokens, number of polls). Other errors propagate."""
    polls = 0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(max(0.0, last_poll + interval - time.monotonic()))
        last_poll = time.monotonic()
        polls += 1
        try:
            return create_device_token(oidc, reg, device), polls
        except oidc.exceptions.AuthorizationPendingException:
            pass
        except oidc.exceptions.SlowDownException:
            interval += 5
    raise AssertionError(f"no token after {polls} polls in {limit} s")


def decide(browser, device, button):
    """The person opens verificationUriComplete (signing in on the way), checks the code the page
    shows and presses the button; ends on a page of ours."""
    landing = browser.visit(device["verificationUriComplete"])
    page = landing.expect_page("/device")
    form = page.form("/device")
    assert form is not None, f"no form posting to /device; {landing.describe()}"
    assert "csrf" in form.field_names(), form
    assert device["userCode"] in form.values(), f"the form carries the user code: {form}"
    after = browser.submit(page, form, button=button)
    assert after.page is not None and after.page.status == 200, after.describe()
    return after.page


def remaining_session_seconds(server, person):
    sessions = server.admin.sessions(person)
    assert len(sessions) == 1, sessions
    expires = re.sub(r"(\.\d{6})\d+", r"\1", sessions[0]["expiresAt"]).replace("Z", "+00:00")
    return (datetime.fromisoformat(expires) - datetime.now(UTC)).total_seconds()


def assert_tokens_within_session(tokens, server, person):
    assert tokens["accessToken"] and tokens["refreshToken"], tokens
    assert tokens["tokenType"] == "Bearer", tokens
    remaining = remaining_session_seconds(server, person)
    assert 0 < tokens["expiresIn"] <= remaining + 2, (
        f"expiresIn {tokens['expiresIn']} s outlives the portal session ({remaining:.0f} s left)"
    )


def status_of(err):
    return err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_device_authorization_pending_slow_down_approval_and_refresh(oidc, server, person):
    reg = register(oidc)
    device = start(oidc, server, reg)

    with pytest.raises(oidc.exceptions.AuthorizationPendingException) as err:
        create_device_token(oidc, reg, device)
    assert err.value.response.get("error") == "authorization_pending"
    with pytest.raises(oidc.exceptions.SlowDownException) as err:
        create_device_token(oidc, reg, device)
    assert err.value.response.get("error") == "slow_down"
    last_poll = time.monotonic()

    browser = Browser(server.base, person)
    decide(browser, device, APPROVE)

    tokens, polls = poll(oidc, reg, device, device["interval"] + 5, last_poll)
    assert polls == 1, "approved before the next poll was due"
    assert_tokens_within_session(tokens, server, person)

    # The device code is spent: another poll ends the SDK's polling instead of a second token.
    with pytest.raises(
        (oidc.exceptions.InvalidGrantException, oidc.exceptions.ExpiredTokenException)
    ):
        create_device_token(oidc, reg, device)

    refreshed = oidc.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType="refresh_token",
        refreshToken=tokens["refreshToken"],
    )
    assert refreshed["accessToken"] and refreshed["accessToken"] != tokens["accessToken"]
    assert refreshed["tokenType"] == "Bearer"
    assert 0 < refreshed["expiresIn"] <= remaining_session_seconds(server, person) + 2


def test_a_denied_request_is_access_denied(oidc, server, person):
    reg = register(oidc)
    device = start(oidc, server, reg)
    started = time.monotonic()
    decide(Browser(server.base, person), device, DENY)
    with pytest.raises(oidc.exceptions.AccessDeniedException) as err:
        poll(oidc, reg, device, device["interval"], started)
    assert status_of(err) == 400
    assert err.value.response.get("error") == "access_denied"


def test_bad_client_secret_is_invalid_client(oidc, server):
    reg = register(oidc)
    with pytest.raises(oidc.exceptions.InvalidClientException) as err:
        oidc.start_device_authorization(
            clientId=reg["clientId"],
            clientSecret=reg["clientSecret"][:-4] + "AAAA",
            startUrl=f"{server.base}/start",
        )
    assert status_of(err) == 401
    assert err.value.response.get("error") == "invalid_client"

    device = start(oidc, server, reg)
    with pytest.raises(oidc.exceptions.InvalidClientException) as err:
        oidc.create_token(
            clientId=reg["clientId"],
            clientSecret="not-" + reg["clientSecret"],
            grantType=DEVICE_GRANT,
            deviceCode=device["deviceCode"],
        )
    assert status_of(err) == 401


def test_a_foreign_start_url_is_invalid_request(oidc, server):
    reg = register(oidc)
    with pytest.raises(oidc.exceptions.InvalidRequestException) as err:
        oidc.start_device_authorization(
            clientId=reg["clientId"],
            clientSecret=reg["clientSecret"],
            startUrl="https://elsewhere.awsapps.com/start",
        )
    assert status_of(err) == 400
    assert err.value.response.get("error") == "invalid_request"


def test_aws_cli_authorization_code_with_pkce(oidc, server, person):
    reg = register(
        oidc,
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=["http://127.0.0.1/oauth/callback"],
        issuerUrl=f"{server.base}/start",
    )
    browser = Browser(server.base, person)
    browser.sign_in()

    # What the CLI does: a callback on a free loopback port, a state, and a PKCE pair whose
    # challenge (base64url of the SHA-256) has its trailing '=' trimmed.
    redirect = f"http://127.0.0.1:{free_port()}/oauth/callback"
    state = str(uuid.uuid4())
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode("ascii")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).decode("ascii")
    assert challenge.endswith("=")
    challenge = challenge[:-1]
    query = urlencode(
        {
            "response_type": "code",
            "client_id": reg["clientId"],
            "redirect_uri": redirect,
            "state": state,
            "code_challenge_method": "S256",
            "scopes": " ".join(SCOPES),
            "code_challenge": challenge,
        },
        quote_via=quote,
    )
    assert "scopes=sso%3Aaccount%3Aaccess" in query

    # A client that registered itself gets nothing before the person allows it: the consent
    # page names it and what it will reach.
    landing = browser.visit(f"{server.base}/authorize?{query}")
    consent = landing.expect_page("/authorize")
    text = consent.text()
    assert "botocore-client-" in text, "the name it registered with"
    assert "will be able to access your AWS accounts" in text, text
    assert f"127.0.0.1:{urlsplit(redirect).port}" in text, "where the answer goes"
    form = consent.form("/oauth2/consent")
    assert form is not None, landing.describe()
    landing = browser.submit(consent, form, button=APPROVE)
    params = landing.expect_redirect(redirect)
    assert params.get("state") == state and params.get("code"), landing.describe()

    tokens = oidc.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType="authorization_code",
        code=params["code"],
        redirectUri=redirect,
        codeVerifier=verifier,
    )
    assert_tokens_within_session(tokens, server, person)

    refreshed = oidc.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType="refresh_token",
        refreshToken=tokens["refreshToken"],
    )
    assert refreshed["accessToken"] and refreshed["accessToken"] != tokens["accessToken"]
