"""Authlib 1.9 (`OAuth2Session` for requests) as an OpenID Connect relying party, with joserfc
validating ID tokens against the provider's JWKS: discovery, authorization code + PKCE (S256) +
nonce + state, refresh, userinfo — for a confidential client (client_secret_post) and a public
one (no client authentication, loopback redirect on any port)."""

import base64
import hashlib

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from harness import TIMEOUT, free_port

SCOPE = "openid profile email"


@pytest.fixture(scope="module")
def provider(server):
    """The discovery document (checked) with the JWKS it names under "jwks"."""
    r = requests.get(f"{server.base}/.well-known/openid-configuration", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["issuer"] == server.base, "the issuer is the public URL, without a trailing slash"
    jwks = requests.get(meta["jwks_uri"], timeout=TIMEOUT)
    assert jwks.status_code == 200, jwks.text
    return {**meta, "jwks": jwks.json()}


def test_discovery_names_our_endpoints(server, provider):
    base = server.base
    assert provider["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert provider["token_endpoint"] == f"{base}/oauth2/token"
    assert provider["userinfo_endpoint"] == f"{base}/oauth2/userinfo"
    assert provider["jwks_uri"] == f"{base}/oauth2/jwks"
    assert "code" in provider["response_types_supported"]
    assert "S256" in provider["code_challenge_methods_supported"]
    assert "RS256" in provider["id_token_signing_alg_values_supported"]
    for method in ("client_secret_basic", "client_secret_post", "none"):
        assert method in provider["token_endpoint_auth_methods_supported"], method
    keys = provider["jwks"]["keys"]
    assert keys and all("kid" in k and "d" not in k for k in keys), (
        "public keys only, each with a kid"
    )


def validate_id_token(provider, id_token, client_id, nonce=None):
    """Signature against the JWKS, then iss, aud (and azp), exp, iat, sub and nonce."""
    token = jwt.decode(
        id_token,
        KeySet.import_key_set(provider["jwks"]),
        algorithms=provider["id_token_signing_alg_values_supported"],
    )
    expected = {
        "iss": {"essential": True, "value": provider["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        expected["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(leeway=5, **expected).validate(token.claims)
    aud = token.claims["aud"]
    if isinstance(aud, list) and len(aud) > 1:
        assert token.claims.get("azp") == client_id
    return token


def at_hash(alg, access_token):
    """OIDC Core §3.1.3.6: the left half of the hash of the access token, base64url."""
    name = {"RS256": "sha256", "ES256": "sha256", "EdDSA": "sha512"}[alg]
    digest = hashlib.new(name, access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode("ascii").rstrip("=")


CLIENTS = [
    pytest.param("confidential", "client_secret_post", id="confidential-client_secret_post"),
    pytest.param("public", "none", id="public-none"),
]


@pytest.mark.parametrize(("client_type", "auth_method"), CLIENTS)
def test_code_pkce_id_token_userinfo_refresh(
    server, provider, person, browser, client_type, auth_method
):
    if client_type == "confidential":
        registered = redirect = "https://rp.example.test/oidc/callback"
    else:
        # A native app: loopback redirect registered without a port, used with one (RFC 8252 §7.3).
        registered = "http://127.0.0.1/oidc/callback"
        redirect = f"http://127.0.0.1:{free_port()}/oidc/callback"
    app = server.admin.create_oidc_app(client_type, [registered])
    assert app["clientId"] == app["applicationId"]
    assert bool(app.get("clientSecret")) == (client_type == "confidential"), app
    server.admin.assign(app["applicationId"], person)

    client = OAuth2Session(
        app["clientId"],
        app.get("clientSecret"),
        token_endpoint_auth_method=auth_method,
        scope=SCOPE,
        redirect_uri=redirect,
        code_challenge_method="S256",
    )
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = client.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # Not signed in yet: the sign-in pages, then back to the client with a code.
    landing = browser.visit(url)
    params = landing.expect_redirect(redirect)
    assert params.get("state") == state and params.get("code"), landing.describe()
    if provider.get("authorization_response_iss_parameter_supported"):
        assert params.get("iss") == provider["issuer"]

    token = client.fetch_token(
        provider["token_endpoint"],
        authorization_response=landing.redirect,
        state=state,
        code_verifier=verifier,
    )
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] > 0
    assert token.get("refresh_token"), "refresh_token is among the client's grant types"

    id_token = validate_id_token(provider, token["id_token"], app["clientId"], nonce)
    if "at_hash" in id_token.claims:
        assert id_token.claims["at_hash"] == at_hash(id_token.header["alg"], token["access_token"])
    head, body, sig = token["id_token"].split(".")
    forged = f"{head}.{body}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
    with pytest.raises(BadSignatureError):
        validate_id_token(provider, forged, app["clientId"], nonce)

    info = client.get(provider["userinfo_endpoint"], timeout=TIMEOUT)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == id_token.claims["sub"]
    assert info.json()["email"] == person.email

    old_access, old_refresh = token["access_token"], token["refresh_token"]
    refreshed = client.refresh_token(provider["token_endpoint"], refresh_token=old_refresh)
    assert refreshed["access_token"] != old_access
    assert refreshed.get("refresh_token") not in (None, old_refresh), "refresh tokens rotate"
    if "id_token" in refreshed:
        again = validate_id_token(provider, refreshed["id_token"], app["clientId"])
        assert again.claims["sub"] == id_token.claims["sub"]
    info = client.get(provider["userinfo_endpoint"], timeout=TIMEOUT)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == id_token.claims["sub"]

    # The code was single use: redeeming it again fails and revokes what it started.
    replay = OAuth2Session(
        app["clientId"],
        app.get("clientSecret"),
        token_endpoint_auth_method=auth_method,
        redirect_uri=redirect,
    )
    with pytest.raises(OAuthError) as err:
        replay.fetch_token(
            provider["token_endpoint"],
            authorization_response=landing.redirect,
            state=state,
            code_verifier=verifier,
        )
    assert err.value.error == "invalid_grant"
    revoked = client.get(provider["userinfo_endpoint"], timeout=TIMEOUT)
    assert revoked.status_code == 401, revoked.text


def test_a_wrong_code_verifier_is_refused(server, provider, person, browser):
    app = server.admin.create_oidc_app("public", ["http://127.0.0.1/oidc/callback"])
    server.admin.assign(app["applicationId"], person)
    redirect = f"http://127.0.0.1:{free_port()}/oidc/callback"
    client = OAuth2Session(
        app["clientId"],
        token_endpoint_auth_method="none",
        scope=SCOPE,
        redirect_uri=redirect,
        code_challenge_method="S256",
    )
    url, state = client.create_authorization_url(
        provider["authorization_endpoint"],
        code_verifier=generate_token(64),
        nonce=generate_token(24),
    )
    landing = browser.visit(url)
    landing.expect_redirect(redirect)
    with pytest.raises(OAuthError) as err:
        client.fetch_token(
            provider["token_endpoint"],
            authorization_response=landing.redirect,
            state=state,
            code_verifier=generate_token(64),
        )
    assert err.value.error == "invalid_grant"
