"""pysaml2 7.5 (`saml2.client.Saml2Client`, xmlsec1 as its crypto backend) as a SAML service
provider of Portcullis: it loads our `/saml/metadata`, publishes its own metadata (its own key and
certificate, `AuthnRequestsSigned`), which is how it is registered through the admin API, and
then signs in by HTTP-Redirect and by HTTP-POST with signed AuthnRequests, validates our Responses
itself (signature, audience, destination, InResponseTo, time conditions) and reads the mapped
attributes, accepts an unsolicited Response from a portal launch, and signs out by single logout
(Redirect and POST). RSA-SHA256 with SHA-256 digests everywhere, stated explicitly (pysaml2's
default is SHA-1)."""

import base64
import datetime
import os
import shutil
import tempfile
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.response import StatusRequestDenied
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.samlp import STATUS_SUCCESS
from saml2.sigver import SignatureError, verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from harness import free_port, Page, query_of, register_saml_sp, SAML_LITERAL, TIMEOUT, unique_name

XMLSEC1 = shutil.which("xmlsec1")
SIGN = {"sigalg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256}
LITERAL = SAML_LITERAL


def key_and_certificate(directory: str, name: str) -> tuple[str, str]:
    """A fresh RSA-2048 key and its self-signed certificate (SHA-256), as PEM files."""
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
    key_path, cert_path = os.path.join(directory, "sp.key"), os.path.join(directory, "sp.crt")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.fixture(scope="module")
def idp_metadata(server):
    if XMLSEC1 is None:
        pytest.fail("pysaml2 needs the xmlsec1 binary: apt-get install -y xmlsec1")
    r = requests.get(f"{server.base}/saml/metadata", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.text


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="portcullis-pysaml2-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


class ServiceProvider:
    """One pysaml2 SP (its own key, certificate and entity id at a loopback address nothing
    listens on: the test carries every message itself), registered with the server from its
    metadata, with attribute mappings, and the test's person assigned to it."""

    def __init__(self, server, idp_metadata, workdir, person, signed_part):
        self.server = server
        self.idp_entity_id = f"{server.base}/saml/metadata"
        base = f"http://127.0.0.1:{free_port()}/{unique_name('pysaml2-')}"
        self.entity_id = f"{base}/metadata"
        self.acs = f"{base}/acs"
        self.slo = f"{base}/slo"
        directory = tempfile.mkdtemp(dir=workdir)
        self.key_file, self.cert_file = key_and_certificate(directory, "pysaml2 interop SP")
        self.idp_metadata = idp_metadata
        self.signed_part = signed_part
        self.client = self.make_client(allow_unsolicited=False)

        # Registration from the SP's own metadata, plus what metadata cannot say.
        metadata = str(entity_descriptor(self.client.config))
        assert 'AuthnRequestsSigned="true"' in metadata, metadata
        self.app_id, self.groups = register_saml_sp(
            server, person, "pysaml2", metadata, signed_part, self
        )

    def make_client(self, allow_unsolicited: bool) -> Saml2Client:
        config = SPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "xmlsec_binary": XMLSEC1,
                "key_file": self.key_file,
                "cert_file": self.cert_file,
                "metadata": {"inline": [self.idp_metadata]},
                "allow_unknown_attributes": True,
                "accepted_time_diff": 5,
                "service": {
                    "sp": {
                        "name": "pysaml2 interop SP",
                        "endpoints": {
                            "assertion_consumer_service": [(self.acs, BINDING_HTTP_POST)],
                            "single_logout_service": [
                                (self.slo, BINDING_HTTP_REDIRECT),
                                (self.slo, BINDING_HTTP_POST),
                            ],
                        },
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "authn_requests_signed": True,
                        "logout_requests_signed": True,
                        "want_response_signed": self.signed_part in ("response", "both"),
                        "want_assertions_signed": self.signed_part in ("assertion", "both"),
                        "want_assertions_or_response_signed": True,
                        "allow_unsolicited": allow_unsolicited,
                        "signing_algorithm": SIG_RSA_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                    }
                },
            }
        )
        return Saml2Client(config=config)

    def idp_certificates(self) -> list[str]:
        return [
            c[1] if isinstance(c, tuple) else c
            for c in self.client.metadata.certs(self.idp_entity_id, "idpsso", "signing")
        ]


def posted_form(landing, action: str) -> dict[str, str]:
    """The fields of our auto-posting form to `action` (what the browser would POST there)."""
    assert landing.page is not None and landing.page.status == 200, landing.describe()
    form = landing.page.form(urlsplit(action).path)
    assert form is not None and form.action == action, (
        f"no form posting to {action}; {landing.describe()}"
    )
    return dict(form.data())


def send_authn_request(sp: ServiceProvider, browser, binding: str, relay_state: str, sign=True):
    """pysaml2 builds (and signs) the AuthnRequest for `binding`; the browser carries it to us.
    Returns (request id, where the walk ended)."""
    req_id, info = sp.client.prepare_for_authenticate(
        entityid=sp.idp_entity_id, relay_state=relay_state, binding=binding, sign=sign, **SIGN
    )
    if binding == BINDING_HTTP_REDIRECT:
        location = dict(info["headers"])["Location"]
        assert location.startswith(f"{sp.server.base}/saml/sso?"), location
        if sign:
            q = query_of(location)
            assert q["SigAlg"] == SIG_RSA_SHA256 and q.get("Signature"), q
        return req_id, browser.visit(location)
    page = Page(info["url"], 200, info["data"])
    form = page.form("/saml/sso")
    assert form is not None and form.action == f"{sp.server.base}/saml/sso", info["data"]
    xml = base64.b64decode(dict(form.data())["SAMLRequest"]).decode()
    if sign:
        assert SIG_RSA_SHA256 in xml and DIGEST_SHA256 in xml, xml
    return req_id, browser.submit(page, form)


def check_assertion(sp: ServiceProvider, response, person):
    """What the library handed over after validating it: the attributes as mapped."""
    assert response.status_ok()
    assert response.name_id.format == NAMEID_FORMAT_PERSISTENT
    assert response.name_id.text and person.user_id not in response.name_id.text
    restriction = response.assertion.conditions.audience_restriction[0]
    assert [a.text for a in restriction.audience] == [sp.entity_id]
    ava = response.ava
    assert ava.get("mail") == [person.email], ava
    assert ava.get("displayName") == [f"Pat {person.user_name}"], ava
    assert sorted(ava.get("groups", [])) == sorted(sp.groups), ava
    assert ava.get("department") == [LITERAL], ava


BINDINGS = [
    pytest.param(BINDING_HTTP_REDIRECT, "response", id="redirect-response_signed"),
    pytest.param(BINDING_HTTP_POST, "assertion", id="post-assertion_signed"),
    pytest.param(BINDING_HTTP_POST, "response", id="post-response_signed"),
    pytest.param(BINDING_HTTP_POST, "both", id="post-both_signed"),
]


def test_our_metadata_as_pysaml2_reads_it(server, idp_metadata, workdir, person):
    sp = ServiceProvider(server, idp_metadata, workdir, person, "response")
    md = sp.client.metadata
    idp = sp.idp_entity_id
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        assert md.single_sign_on_service(idp, binding)[0]["location"] == f"{server.base}/saml/sso"
        assert md.single_logout_service(idp, binding, "idpsso")[0]["location"] == (
            f"{server.base}/saml/slo"
        )
    assert sp.idp_certificates(), "a signing certificate is published"


@pytest.mark.parametrize(("binding", "signed_part"), BINDINGS)
def test_sp_initiated_sign_in(server, idp_metadata, workdir, person, browser, binding, signed_part):
    sp = ServiceProvider(server, idp_metadata, workdir, person, signed_part)
    req_id, landing = send_authn_request(sp, browser, binding, "/after-login")
    fields = posted_form(landing, sp.acs)
    assert fields.get("RelayState") == "/after-login"
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert SIG_RSA_SHA256 in xml and DIGEST_SHA256 in xml, xml

    # The library validates: signature, Destination, Audience, InResponseTo, time conditions.
    response = sp.client.parse_authn_request_response(
        fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={req_id: "/after-login"}
    )
    assert response is not None
    assert response.in_response_to == req_id
    check_assertion(sp, response, person)

    # ... and refuses what it should: the same Response to an SP that asked nothing (InResponseTo
    # unknown), and a tampered one (signature).
    with pytest.raises(Exception) as err:
        sp.make_client(allow_unsolicited=False).parse_authn_request_response(
            fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={}
        )
    assert "nsolicited" in type(err.value).__name__ + str(err.value), repr(err.value)
    tampered = xml.replace(person.email, f"x{person.email}")
    assert tampered != xml
    with pytest.raises(SignatureError):
        sp.make_client(allow_unsolicited=False).parse_authn_request_response(
            base64.b64encode(tampered.encode()).decode(),
            BINDING_HTTP_POST,
            outstanding={req_id: "/"},
        )


@pytest.mark.parametrize(
    "binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST], ids=["redirect", "post"]
)
def test_an_unsigned_request_is_refused_when_signing_is_required(
    server, idp_metadata, workdir, person, browser, binding
):
    sp = ServiceProvider(server, idp_metadata, workdir, person, "response")
    _, landing = send_authn_request(sp, browser, binding, "", sign=False)
    page = landing.expect_page("/saml/sso", 400)
    assert "must sign" in page.text(), page.text()


def test_a_person_not_assigned_gets_request_denied(server, idp_metadata, workdir, person, browser):
    other = server.admin.create_person()
    sp = ServiceProvider(server, idp_metadata, workdir, other, "response")
    req_id, landing = send_authn_request(sp, browser, BINDING_HTTP_REDIRECT, "")
    fields = posted_form(landing, sp.acs)
    with pytest.raises(StatusRequestDenied):
        sp.client.parse_authn_request_response(
            fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={req_id: "/"}
        )


@pytest.mark.parametrize("signed_part", ["response", "assertion"])
def test_idp_initiated_launch(server, idp_metadata, workdir, person, browser, signed_part):
    sp = ServiceProvider(server, idp_metadata, workdir, person, signed_part)
    browser.sign_in()
    landing = browser.visit(f"{server.base}/applications/{sp.app_id}/launch")
    fields = posted_form(landing, sp.acs)

    # Unsolicited: refused by an SP that does not allow it, accepted by one that does.
    with pytest.raises(Exception) as err:
        sp.client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST)
    assert "nsolicited" in type(err.value).__name__ + str(err.value), repr(err.value)
    response = sp.make_client(allow_unsolicited=True).parse_authn_request_response(
        fields["SAMLResponse"], BINDING_HTTP_POST
    )
    assert response is not None and not response.in_response_to
    check_assertion(sp, response, person)


def signed_out(server, browser) -> bool:
    """Whether /portal now sends the browser to sign in."""
    r = browser.http.get(f"{server.base}/portal", allow_redirects=False, timeout=TIMEOUT)
    return r.status_code in (302, 303) and urlsplit(r.headers["location"]).path == "/start"


@pytest.mark.parametrize(
    "binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST], ids=["redirect", "post"]
)
def test_sp_initiated_single_logout(server, idp_metadata, workdir, person, browser, binding):
    sp = ServiceProvider(server, idp_metadata, workdir, person, "response")
    req_id, landing = send_authn_request(sp, browser, BINDING_HTTP_REDIRECT, "")
    fields = posted_form(landing, sp.acs)
    response = sp.client.parse_authn_request_response(
        fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={req_id: "/"}
    )
    name_id = response.name_id
    assert sp.client.is_logged_in(name_id)
    assert not signed_out(server, browser), "the portal session is live before the logout"

    sent = sp.client.do_logout(
        name_id,
        [sp.idp_entity_id],
        reason="",
        expire=None,
        sign=True,
        expected_binding=binding,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    used, info = sent[sp.idp_entity_id]
    assert used == binding
    if binding == BINDING_HTTP_REDIRECT:
        location = dict(info["headers"])["Location"]
        assert query_of(location)["SigAlg"] == SIG_RSA_SHA256
        landing = browser.visit(location)
        q = landing.expect_redirect(sp.slo)
        # The LogoutResponse's query signature, checked by pysaml2 against our metadata's key.
        assert q["SigAlg"] == SIG_RSA_SHA256, q
        assert any(
            verify_redirect_signature(q, sp.client.sec.sec_backend, cert=c)
            for c in sp.idp_certificates()
        ), "the LogoutResponse's query signature verifies"
        forged = {**q, "RelayState": q.get("RelayState", "") + "x"}
        assert not any(
            verify_redirect_signature(forged, sp.client.sec.sec_backend, cert=c)
            for c in sp.idp_certificates()
        )
        message = q["SAMLResponse"]
    else:
        page = Page(info["url"], 200, info["data"])
        form = page.form("/saml/slo")
        assert form is not None, info["data"]
        xml = base64.b64decode(dict(form.data())["SAMLRequest"]).decode()
        assert SIG_RSA_SHA256 in xml and DIGEST_SHA256 in xml, xml
        landing = browser.submit(page, form)
        out = posted_form(landing, sp.slo)
        message = out["SAMLResponse"]
        xml = base64.b64decode(message).decode()
        assert SIG_RSA_SHA256 in xml and DIGEST_SHA256 in xml, xml

    logout = sp.client.parse_logout_request_response(message, binding)
    assert logout is not None, "pysaml2 accepted the LogoutResponse"
    assert logout.response.status.status_code.value == STATUS_SUCCESS
    assert logout.in_response_to in sp.client.state
    assert sp.client.handle_logout_response(logout)[0] == 0
    assert not sp.client.is_logged_in(name_id), "the SP's own session ended"
    assert signed_out(server, browser), "the portal session is gone"
    assert server.admin.sessions(person) == []
