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
from dsr_testing.infra import service_environment

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


def register_processes(
    infra,
    identity,
    isolation: str,
    state_dir: Path,
    smtp_port: int,
    *,
    profile: str = "derbyshire",
    gateway: bool = False,
    start_timeout: float = 60.0,
    **extra: str,
) -> dict[str, ServiceProcess]:
    """The four services (and the hospital gateway) of one instance, not yet
    started: on an area profile, writing to the SMTP server at `smtp_port`, each
    in its own database under the instance's topic prefix (`isolation`);
    `extra` adds to or overrides their environment."""
    processes: dict[str, ServiceProcess] = {}
    for name in WITH_GATEWAY if gateway else SERVICES:
        port = free_port()
        own = {"DSR_MLLP_PORT": str(free_port())} if name == GATEWAY else {}
        settings = {
            "DSR_HTTP_PORT": str(port),
            "DSR_AREA_PROFILE": profile,
            "DSR_SMTP_HOST": "127.0.0.1",
            "DSR_SMTP_PORT": str(smtp_port),
            **own,
            **extra,
        }
        env = service_environment(infra, identity, isolation, name, **settings)
        processes[name] = ServiceProcess(
            name, f"dsr_{name}", port, env, state_dir / f"{name}.log", start_timeout=start_timeout
        )
    return processes


@contextmanager
def whole_stack(
    infra, identity, isolation: str, state_dir: Path, *, gateway: bool = False, **extra: str
) -> Iterator[Stack]:
    """The SMTP sink and the four services (and the hospital gateway), on the derbyshire profile."""
    smtp = SmtpSink(state_dir / "smtp", free_port())
    smtp.start()
    services: dict[str, ServiceProcess] = {}
    try:
        for name, process in register_processes(
            infra, identity, isolation, state_dir, smtp.port, gateway=gateway, **extra
        ).items():
            services[name] = process
            process.start()
        yield Stack(smtp, services)
    finally:
        for process in reversed(list(services.values())):
            process.stop()
        smtp.stop()
