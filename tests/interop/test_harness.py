"""The harness itself, on what exists regardless of OIDC: the server starts, the admin API creates a
person with a password, and the HTTP browser signs in through the pages to the portal."""

from harness import Browser


def test_a_person_signs_in_through_the_pages(server, person):
    browser = Browser(server.base, person)
    browser.sign_in()
    portal = browser.visit(f"{server.base}/portal").expect_page("/portal")
    assert person.user_name in portal.text()
    assert len(server.admin.sessions(person)) == 1
