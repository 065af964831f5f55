"""The hospital gateway as its own process, spoken to as a trust's integration
engine would: HL7 v2 over MLLP (a real TCP client) and FHIR over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dsr_devstack import free_port
from dsr_hospital_gateway.samples import Ack, MllpSender


@dataclass
class Gateway:
    process: Any
    mllp_port: int

    @property
    def url(self) -> str:
        return self.process.url

    def sender(self) -> MllpSender:
        return MllpSender("127.0.0.1", self.mllp_port, timeout=90)

    async def send(self, *messages: str) -> list[Ack]:
        """Each message on one connection, in turn, with its ACK."""
        async with self.sender() as sender:
            return [await sender.send(message) for message in messages]


@pytest.fixture
def hospital_gateway(service_process):
    """Start a gateway (derbyshire's hospital feeds unless told otherwise)."""

    def start(mllp_port: int | None = None, **env: str) -> Gateway:
        port = mllp_port or free_port()
        env = {"DSR_AREA_PROFILE": "derbyshire", **env}
        process = service_process("hospital_gateway", DSR_MLLP_PORT=str(port), **env)
        return Gateway(process, port)

    return start
