"""The four services as separate processes on the real broker and database,
with the project's own SMTP sink: what `make run` starts, per test."""

from __future__ import annotations

from dataclasses import dataclass

from dsr_devstack import ServiceProcess, SmtpSink

SERVICES = ("referral", "rating", "scheduler", "notifier")


@dataclass
class Stack:
    smtp: SmtpSink
    services: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.services[service].url
