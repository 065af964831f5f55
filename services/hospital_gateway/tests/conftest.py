"""The hospital gateway as its own process (started by dsr_testing.harness),
spoken to as a trust's integration engine would: HL7 v2 over MLLP (a real TCP
client) and FHIR over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dsr_devstack import free_port
from dsr_hospital_gateway.samples import Ack, MllpSender
from dsr_testing.harness import RunningService


@dataclass
class Gateway(RunningService):
    mllp_port: int = 0

    def sender(self) -> MllpSender:
        return MllpSender("127.0.0.1", self.mllp_port, timeout=90)

    async def send(self, *messages: str) -> list[Ack]:
        """Each message on one connection, in turn, with its ACK."""
        async with self.sender() as sender:
            return [await sender.send(message) for message in messages]


@pytest.fixture
def hospital_gateway(service_harness):
    """Start a gateway (derbyshire's hospital feeds unless told otherwise)."""

    async def start(mllp_port: int | None = None, **env: str) -> Gateway:
        port = mllp_port or free_port()
        profile = env.pop("DSR_AREA_PROFILE", "derbyshire")
        gateway = await service_harness.start(
            Gateway, "hospital_gateway", profile=profile, DSR_MLLP_PORT=str(port), **env
        )
        gateway.mllp_port = port
        return gateway

    return start
