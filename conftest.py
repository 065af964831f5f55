"""Suite-wide fixtures: one Kafka and one database for the session; every test
gets its own topic prefix and database names, so tests never see each other."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from infra import Infra, infrastructure  # noqa: E402
from support import AUTH_SECRET  # noqa: E402


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with infrastructure(tmp_path_factory.mktemp("infra")) as running:
        yield running


@pytest.fixture
def isolation() -> str:
    """A unique name for this test: topic prefix and database name stem."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service_env(infra: Infra, isolation: str):
    """The environment of one service process in this test."""

    def env(service: str, **extra: str) -> dict[str, str]:
        return {
            "DSR_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "DSR_MONGO_URI": infra.mongo_uri,
            "DSR_TOPIC_PREFIX": f"{isolation}.",
            "DSR_MONGO_DB": f"{isolation}_{service}",
            "DSR_AUTH_SECRET": AUTH_SECRET,
            "DSR_OUTBOX_RELAY_AFTER_SECONDS": "2",
            **extra,
        }

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
        # A busy machine takes a while to import a service and to elect a
        # fresh broker's group coordinator: readiness may take over a minute.
        process = ServiceProcess(service, f"dsr_{service}", port, env, log_file, start_timeout=180)
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
