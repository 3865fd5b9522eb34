"""python3-saml 1.16 (OneLogin's toolkit, `xmlsec` bindings) as a SAML service provider of
Portcullis, in strict mode: it reads our `/saml/metadata` with its metadata parser, publishes its
own metadata (its own key and certificate, `authnRequestsSigned`), which is how it is registered
through the admin API, and then signs in by HTTP-Redirect (its `login()`, query-signed) and by
HTTP-POST (its AuthnRequest, signed with its `add_sign`), validates our Responses itself
(signature, audience, destination, InResponseTo, time conditions) and reads the mapped attributes,
accepts an unsolicited Response from a portal launch, and signs out by single logout (the toolkit
speaks HTTP-Redirect for SLO). RSA-SHA256 with SHA-256 digests everywhere, stated explicitly."""

import base64
import copy
import datetime
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from harness import Form, free_port, Page, query_of, register_saml_sp, SAML_LITERAL, TIMEOUT, unique_name

LITERAL = SAML_LITERAL


def key_and_certificate(name: str) -> tuple[str, str]:
    """A fresh RSA-2048 key and its self-signed certificate (SHA-256), as PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def idp_settings(server):
    """Our metadata through the toolkit's parser (the Redirect SSO and SLO endpoints)."""
    r = requests.get(f"{server.base}/saml/metadata", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(r.text)
    idp = parsed["idp"]
    assert idp["entityId"] == f"{server.base}/saml/metadata"
    assert idp["singleSignOnService"]["url"] == f"{server.base}/saml/sso"
    assert idp["singleSignOnService"]["binding"] == C.BINDING_HTTP_REDIRECT
    assert idp["singleLogoutService"]["url"] == f"{server.base}/saml/slo"
    assert idp.get("x509cert") or idp.get("x509certMulti"), idp
    post = OneLogin_Saml2_IdPMetadataParser.parse(
        r.text, required_sso_binding=C.BINDING_HTTP_POST, required_slo_binding=C.BINDING_HTTP_POST
    )["idp"]
    assert post["singleSignOnService"]["binding"] == C.BINDING_HTTP_POST
    return parsed


class ServiceProvider:
    """One python3-saml SP (its own key, certificate and entity id at a loopback address nothing
    listens on: the test carries every message and builds the toolkit's request data itself),
    registered with the server from its metadata, with attribute mappings, and the test's person
    assigned to it."""

    def __init__(self, server, idp_settings, person, signed_part):
        self.server = server
        self.host = f"127.0.0.1:{free_port()}"
        self.path = f"/{unique_name('python3-saml-')}"
        base = f"http://{self.host}{self.path}"
        self.entity_id, self.acs, self.slo = f"{base}/metadata", f"{base}/acs", f"{base}/slo"
        key, cert = key_and_certificate("python3-saml interop SP")
        # Only the "idp" part of the parsed metadata: its "security" part (our metadata's
        # WantAuthnRequestsSigned="false", which is the IdP-wide default) must not override the
        # SP's own choice to sign.
        self.settings = {
            "strict": True,
            "idp": idp_settings["idp"],
            "debug": False,
            "sp": {
                "entityId": self.entity_id,
                "assertionConsumerService": {"url": self.acs, "binding": C.BINDING_HTTP_POST},
                "singleLogoutService": {"url": self.slo, "binding": C.BINDING_HTTP_REDIRECT},
                "NameIDFormat": C.NAMEID_PERSISTENT,
                "x509cert": cert,
                "privateKey": key,
            },
            "security": {
                "authnRequestsSigned": True,
                "logoutRequestSigned": True,
                "logoutResponseSigned": True,
                "wantMessagesSigned": signed_part in ("response", "both"),
                "wantAssertionsSigned": signed_part in ("assertion", "both"),
                "wantNameId": True,
                "wantAttributeStatement": True,
                "signatureAlgorithm": C.RSA_SHA256,
                "digestAlgorithm": C.SHA256,
                "rejectDeprecatedAlgorithm": True,
                "requestedAuthnContext": False,
            },
        }
        self.key, self.cert = key, cert

        toolkit = OneLogin_Saml2_Settings(copy.deepcopy(self.settings))
        metadata = toolkit.get_sp_metadata()
        assert not toolkit.validate_metadata(metadata), toolkit.validate_metadata(metadata)
        metadata = metadata.decode() if isinstance(metadata, bytes) else metadata
        assert 'AuthnRequestsSigned="true"' in metadata, metadata
        self.app_id, self.groups = register_saml_sp(
            server, person, "python3-saml", metadata, signed_part, self
        )

    def auth(self, endpoint="", get=None, post=None, query_string=None) -> OneLogin_Saml2_Auth:
        """The toolkit for a request that arrived at the SP's `endpoint` (`acs`, `slo`)."""
        request = {
            "https": "off",
            "http_host": self.host,
            "script_name": f"{self.path}/{endpoint}" if endpoint else self.path,
            "get_data": get or {},
            "post_data": post or {},
        }
        if query_string is not None:
            request["query_string"] = query_string
        return OneLogin_Saml2_Auth(request, old_settings=copy.deepcopy(self.settings))

    def consume(self, fields: dict[str, str], request_id=None) -> OneLogin_Saml2_Auth:
        """The ACS: the toolkit validates the posted Response (strict)."""
        auth = self.auth("acs", post=fields)
        auth.process_response(request_id=request_id)
        return auth


def posted_form(landing, action: str) -> dict[str, str]:
    """The fields of our auto-posting form to `action` (what the browser would POST there)."""
    assert landing.page is not None and landing.page.status == 200, landing.describe()
    form = landing.page.form(urlsplit(action).path)
    assert form is not None and form.action == action, (
        f"no form posting to {action}; {landing.describe()}"
    )
    return dict(form.data())


def send_authn_request(sp: ServiceProvider, browser, binding: str, relay_state: str, sign=True):
    """The toolkit's AuthnRequest by `binding`, carried to us by the browser. Returns (request id,
    where the walk ended)."""
    if binding == C.BINDING_HTTP_REDIRECT:
        settings = copy.deepcopy(sp.settings)
        settings["security"]["authnRequestsSigned"] = sign
        auth = OneLogin_Saml2_Auth(
            {
                "https": "off",
                "http_host": sp.host,
                "script_name": sp.path,
                "get_data": {},
                "post_data": {},
            },
            old_settings=settings,
        )
        url = auth.login(return_to=relay_state)
        assert url.startswith(f"{sp.server.base}/saml/sso?"), url
        if sign:
            assert query_of(url)["SigAlg"] == C.RSA_SHA256
        return auth.get_last_request_id(), browser.visit(url)
    settings = OneLogin_Saml2_Settings(copy.deepcopy(sp.settings))
    request = OneLogin_Saml2_Authn_Request(settings)
    xml = request.get_xml()
    if sign:
        xml = OneLogin_Saml2_Utils.add_sign(
            xml, sp.key, sp.cert, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256
        )
    xml = xml.decode() if isinstance(xml, bytes) else xml
    if sign:
        assert C.RSA_SHA256 in xml and C.SHA256 in xml, xml
    sso = f"{sp.server.base}/saml/sso"
    message = base64.b64encode(xml.encode()).decode()
    form = Form(
        action=sso,
        method="POST",
        inputs=[
            {"type": "hidden", "name": "SAMLRequest", "value": message},
            {"type": "hidden", "name": "RelayState", "value": relay_state},
        ],
    )
    return request.get_id(), browser.submit(Page(sp.acs, 200, ""), form)


def check_assertion(sp: ServiceProvider, auth: OneLogin_Saml2_Auth, person):
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated()
    assert auth.get_nameid_format() == C.NAMEID_PERSISTENT
    assert auth.get_nameid() and person.user_id not in auth.get_nameid()
    assert auth.get_session_index()
    attributes = auth.get_attributes()
    assert attributes.get("mail") == [person.email], attributes
    assert attributes.get("displayName") == [f"Pat {person.user_name}"], attributes
    assert sorted(attributes.get("groups", [])) == sorted(sp.groups), attributes
    assert attributes.get("department") == [LITERAL], attributes


BINDINGS = [
    pytest.param(C.BINDING_HTTP_REDIRECT, "response", id="redirect-response_signed"),
    pytest.param(C.BINDING_HTTP_POST, "assertion", id="post-assertion_signed"),
    pytest.param(C.BINDING_HTTP_POST, "response", id="post-response_signed"),
    # Both signatures, each required by the toolkit (wantMessagesSigned and wantAssertionsSigned).
    pytest.param(C.BINDING_HTTP_REDIRECT, "both", id="redirect-both_signed"),
]


@pytest.mark.parametrize(("binding", "signed_part"), BINDINGS)
def test_sp_initiated_sign_in(server, idp_settings, person, browser, binding, signed_part):
    sp = ServiceProvider(server, idp_settings, person, signed_part)
    request_id, landing = send_authn_request(sp, browser, binding, "/after-login")
    fields = posted_form(landing, sp.acs)
    assert fields.get("RelayState") == "/after-login"
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert C.RSA_SHA256 in xml and C.SHA256 in xml, xml

    auth = sp.consume(fields, request_id)
    check_assertion(sp, auth, person)
    assert auth.get_last_response_in_response_to() == request_id

    # The toolkit refuses what it should: a Response to another request, a tampered one, and
    # one arriving at another URL than its Destination.
    other = sp.consume(fields, "_another-request")
    assert other.get_errors() and "InResponseTo" in other.get_last_error_reason()
    tampered = xml.replace(person.email, f"x{person.email}")
    assert tampered != xml
    bad = sp.consume(
        {**fields, "SAMLResponse": base64.b64encode(tampered.encode()).decode()}, request_id
    )
    assert bad.get_errors() and not bad.is_authenticated(), "a tampered Response is refused"
    elsewhere = sp.auth("elsewhere", post=fields)
    elsewhere.process_response(request_id=request_id)
    assert elsewhere.get_errors() and "received at" in elsewhere.get_last_error_reason()


@pytest.mark.parametrize(
    "binding", [C.BINDING_HTTP_REDIRECT, C.BINDING_HTTP_POST], ids=["redirect", "post"]
)
def test_an_unsigned_request_is_refused_when_signing_is_required(
    server, idp_settings, person, browser, binding
):
    sp = ServiceProvider(server, idp_settings, person, "response")
    _, landing = send_authn_request(sp, browser, binding, "", sign=False)
    page = landing.expect_page("/saml/sso", 400)
    assert "must sign" in page.text(), page.text()


@pytest.mark.parametrize("signed_part", ["response", "assertion", "both"])
def test_idp_initiated_launch(server, idp_settings, person, browser, signed_part):
    sp = ServiceProvider(server, idp_settings, person, signed_part)
    browser.sign_in()
    landing = browser.visit(f"{server.base}/applications/{sp.app_id}/launch")
    fields = posted_form(landing, sp.acs)
    auth = sp.consume(fields)  # unsolicited: no request ID to match
    check_assertion(sp, auth, person)
    assert auth.get_last_response_in_response_to() is None


def signed_out(server, browser) -> bool:
    """Whether /portal now sends the browser to sign in."""
    r = browser.http.get(f"{server.base}/portal", allow_redirects=False, timeout=TIMEOUT)
    return r.status_code in (302, 303) and urlsplit(r.headers["location"]).path == "/start"


def test_sp_initiated_single_logout(server, idp_settings, person, browser):
    sp = ServiceProvider(server, idp_settings, person, "response")
    request_id, landing = send_authn_request(sp, browser, C.BINDING_HTTP_REDIRECT, "")
    auth = sp.consume(posted_form(landing, sp.acs), request_id)
    check_assertion(sp, auth, person)
    assert not signed_out(server, browser), "the portal session is live before the logout"

    url = auth.logout(
        return_to="/bye",
        name_id=auth.get_nameid(),
        session_index=auth.get_session_index(),
        name_id_format=auth.get_nameid_format(),
        spnq=auth.get_nameid_spnq(),
    )
    logout_id = auth.get_last_request_id()
    assert query_of(url)["SigAlg"] == C.RSA_SHA256
    landing = browser.visit(url)
    q = landing.expect_redirect(sp.slo)
    assert q["SigAlg"] == C.RSA_SHA256 and q.get("Signature"), q
    assert q.get("RelayState") == "/bye"

    raw_query = urlsplit(landing.redirect).query
    ended = []
    slo = sp.auth("slo", get=q, query_string=raw_query)
    slo.process_slo(request_id=logout_id, delete_session_cb=lambda: ended.append(True))
    assert slo.get_errors() == [], (slo.get_errors(), slo.get_last_error_reason())
    assert ended == [True], "the toolkit ended the SP's own session"

    # A forged query signature is refused.
    forged = {**q, "RelayState": "/elsewhere"}
    bad = sp.auth("slo", get=forged)
    bad.process_slo(request_id=logout_id, delete_session_cb=lambda: None)
    assert "invalid_logout_response_signature" in bad.get_errors(), bad.get_errors()

    assert signed_out(server, browser), "the portal session is gone"
    assert server.admin.sessions(person) == []
