"""The four services as separate processes on the real broker and database,
with the project's own SMTP sink: what `make run` starts, per test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dsr_devstack import ServiceProcess, SmtpSink, free_port

SERVICES = ("referral", "rating", "scheduler", "notifier")


@dataclass
class Stack:
    smtp: SmtpSink
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.services[service].url

    def stop(self) -> None:
        for process in reversed(list(self.services.values())):
            process.stop()
        self.smtp.stop()


def start_stack(state_dir: Path, env_for: Callable[..., dict[str, str]], area: str = "derbyshire") -> Stack:
    smtp = SmtpSink(state_dir / "smtp", free_port())
    stack = Stack(smtp)
    try:
        smtp.start()
        for name in SERVICES:
            port = free_port()
            env = env_for(
                name,
                DSR_HTTP_PORT=str(port),
                DSR_AREA_PROFILE=area,
                DSR_SMTP_HOST="127.0.0.1",
                DSR_SMTP_PORT=str(smtp.port),
            )
            stack.services[name] = ServiceProcess(name, f"dsr_{name}", port, env, state_dir / f"{name}.log")
            stack.services[name].start()
    except BaseException:
        stack.stop()
        raise
    return stack
