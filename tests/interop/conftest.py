"""Fixtures of the Python interop tests: one `portcullis serve` per test module (a module may set
`SERVER_ENV`, a dict of extra environment variables for it), a fresh person per test, and that
person's browser. A failing test's report ends with the server's last log lines."""

import os

import pytest

from harness import SETTINGS, Browser, Server

# The AWS SDK must see no profile, credentials or endpoint of the machine it runs on.
for _k in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_k]
os.environ.update(
    {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)


@pytest.fixture(scope="module")
def server(request):
    srv = Server.start(getattr(request.module, "SERVER_ENV", {}))
    try:
        srv.admin.settings(SETTINGS)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def moto():
    """moto's server mode on a free loopback port: AWS (STS, IAM, Organizations, S3) for the
    AWS-account tests. moto keeps its state per process, apart by account."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def person(server):
    return server.admin.create_person()


@pytest.fixture
def browser(server, person):
    return Browser(server.base, person)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    srv = getattr(item, "funcargs", {}).get("server")
    if report.failed and srv is not None:
        report.sections.append(("portcullis serve (last log lines)", srv.log_text()))
