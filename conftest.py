"""Suite-wide fixtures: one Kafka and one database for the session; every test
gets its own topic prefix and database names, so tests never see each other."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

import support  # noqa: E402
from infra import Identity, Infra, identity as identity_stack, infrastructure, service_environment  # noqa: E402
from tokens import BOOTSTRAP_ADMIN, IdentityClient  # noqa: E402


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with infrastructure(tmp_path_factory.mktemp("infra")) as running:
        yield running


@pytest.fixture(scope="session")
def identity(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    """The OpenID provider and the identity service, once per session; support.auth()
    and support.token() get their tokens through them."""
    with identity_stack(tmp_path_factory.mktemp("identity"), infra, BOOTSTRAP_ADMIN) as running:
        client = IdentityClient(running.provider.url, running.issuer)
        support.use_identity(client)
        try:
            yield running
        finally:
            support.use_identity(None)
            client.http.close()


@pytest.fixture
def isolation() -> str:
    """A unique name for this test: topic prefix and database name stem."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service_env(infra: Infra, identity: Identity, isolation: str):
    """The environment of one service process in this test."""

    def env(service: str, **extra: str) -> dict[str, str]:
        return service_environment(infra, identity, isolation, service, **extra)

    return env


@pytest.fixture
def service_process(tmp_path: Path, service_env):
    """Starts one service as its own process for this test; stopped at teardown."""
    from dsr_devstack import ServiceProcess, free_port

    started = []

    def start(service: str, **extra_env: str):
        port = free_port()
        env = service_env(service, DSR_HTTP_PORT=str(port), **extra_env)
        # A second process of the same service gets its own log (and pid file).
        same = sum(p.name == service for p in started)
        log_file = tmp_path / (f"{service}.log" if not same else f"{service}-{same + 1}.log")
        process = ServiceProcess(service, f"dsr_{service}", port, env, log_file)
        started.append(process)
        process.start()
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def stack(tmp_path: Path, service_process):
    """The whole system for this test: the SMTP sink and the four services."""
    from dsr_devstack import SmtpSink, free_port
    from stack import SERVICES, Stack

    smtp = SmtpSink(tmp_path / "smtp", free_port())
    smtp.start()
    try:
        services = {
            name: service_process(name, DSR_AREA_PROFILE="derbyshire", DSR_SMTP_HOST="127.0.0.1", DSR_SMTP_PORT=str(smtp.port))
            for name in SERVICES
        }
        yield Stack(smtp, services)
    finally:
        smtp.stop()
