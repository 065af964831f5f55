"""The four services as separate processes on the real broker and database,
with the project's own SMTP sink: what `make run` starts, per test."""

from __future__ import annotations

from dataclasses import dataclass

from dsr_devstack import ServiceProcess, SmtpSink
import support
from infra import Identity, Infra

SERVICES = ("referral", "rating", "scheduler", "notifier")


@dataclass
class Stack:
    smtp: SmtpSink
    services: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.services[service].url


def service_environment(infra: Infra, identity: Identity, isolation: str, service: str, **extra: str) -> dict[str, str]:
    """The environment of one service process of the instance named `isolation`."""
    return {
        "DSR_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DSR_MONGO_URI": infra.mongo_uri,
        "DSR_TOPIC_PREFIX": f"{isolation}.",
        "DSR_MONGO_DB": f"{isolation}_{service}",
        **identity.env(),
        "DSR_NHS_HASH_KEY": support.NHS_HASH_KEY,
        "DSR_OUTBOX_RELAY_AFTER_SECONDS": "2",
        **extra,
    }
