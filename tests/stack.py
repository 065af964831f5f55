"""The four services as separate processes on the real broker and database,
with the project's own SMTP sink: what `make run` starts, per test or, for a
module whose tests share one stack, per module. The hospital gateway joins
them when a test speaks to it (every endpoint's access and conformance)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dsr_shared.contract.topology import REGISTER_SERVICES
from dsr_devstack import ServiceProcess, SmtpSink, free_port
from infra import service_environment

# The register's services: they know a person by register id.
SERVICES = REGISTER_SERVICES
GATEWAY = "hospital_gateway"
WITH_GATEWAY = (*SERVICES, GATEWAY)


@dataclass
class Stack:
    smtp: SmtpSink
    services: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.services[service].url


@contextmanager
def whole_stack(infra, identity, isolation: str, state_dir: Path, *, gateway: bool = False, **extra: str) -> Iterator[Stack]:
    """The SMTP sink and the four services (and the hospital gateway), on the derbyshire profile."""
    smtp = SmtpSink(state_dir / "smtp", free_port())
    smtp.start()
    services: dict[str, ServiceProcess] = {}
    try:
        for name in WITH_GATEWAY if gateway else SERVICES:
            port = free_port()
            own = {"DSR_MLLP_PORT": str(free_port())} if name == GATEWAY else {}
            env = service_environment(
                infra, identity, isolation, name, DSR_HTTP_PORT=str(port), DSR_AREA_PROFILE="derbyshire",
                DSR_SMTP_HOST="127.0.0.1", DSR_SMTP_PORT=str(smtp.port), **own, **extra,
            )
            services[name] = ServiceProcess(name, f"dsr_{name}", port, env, state_dir / f"{name}.log")
            services[name].start()
        yield Stack(smtp, services)
    finally:
        for process in reversed(list(services.values())):
            process.stop()
        smtp.stop()
