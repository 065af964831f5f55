"""Sample HL7 v2.4 ADT messages and an MLLP sender, for demos (`dsr hl7`),
tests and the benchmark. The person in them is made up: a test NHS number
and the name "Testperson^Demo"."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from hl7.mllp import open_hl7_connection

STRUCTURES = {
    "A01": "ADT_A01",
    "A02": "ADT_A02",
    "A03": "ADT_A03",
    "A08": "ADT_A01",
    "A11": "ADT_A09",
    "A13": "ADT_A01",
    "A40": "ADT_A39",
}


def hl7_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S+0000")


@dataclass(frozen=True)
class Stay:
    """Where the sample person is: site (ODS), ward, specialty, legal status."""

    site: str = "RXM01"
    ward: str = "WARD33"
    specialty: str = "710"
    patient_class: str = "I"
    legal_status: str | None = "03"


def adt(
    trigger: str,
    nhs_number: str,
    *,
    stay: Stay = Stay(),
    at: datetime | None = None,
    admitted_at: datetime | None = None,
    discharged_at: datetime | None = None,
    prior: Stay | None = None,
    destination: str | None = None,
    merged_nhs_number: str | None = None,
    control_id: str | None = None,
    sender: tuple[str, str] = ("PAS", "RXM"),
) -> str:
    """One ADT message (segments joined by CR). `at`: the event (EVN-2/EVN-6)."""
    at = at or datetime.now(timezone.utc)
    control_id = control_id or uuid.uuid4().hex[:20].upper()
    segments = [
        f"MSH|^~\\&|{sender[0]}|{sender[1]}|DSR|DSR|{hl7_time(at)}||ADT^{trigger}^{STRUCTURES[trigger]}|{control_id}|P|2.4|||AL|NE|GBR",
        f"EVN|{trigger}|{hl7_time(at)}|||DEMO|{hl7_time(at)}",
        f"PID|1||{nhs_number}^^^NHS^NH||Testperson^Demo||19900412|U",
    ]
    if trigger == "A40":
        segments.append(f"MRG|{merged_nhs_number}^^^NHS^NH")
        return "\r".join(segments)
    pv1 = [""] * 46
    pv1[0], pv1[1], pv1[2] = "PV1", "1", stay.patient_class
    pv1[3] = f"{stay.ward}^^^{stay.site}"
    if prior is not None:
        pv1[6] = f"{prior.ward}^^^{prior.site}"
    pv1[10] = stay.specialty
    pv1[37] = destination or ""
    pv1[44] = hl7_time(admitted_at) if admitted_at else ""
    pv1[45] = hl7_time(discharged_at) if discharged_at else ""
    segments.append("|".join(pv1).rstrip("|"))
    if stay.legal_status:
        segments.append(f"ZMH|{stay.legal_status}")
    return "\r".join(segments)


class MllpSender:
    """One MLLP connection: send a message, wait for its ACK."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None, timeout: float = 60.0) -> None:
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self.reader = self.writer = None

    async def __aenter__(self) -> "MllpSender":
        self.reader, self.writer = await open_hl7_connection(self.host, self.port, ssl=self.tls, encoding="utf-8")
        return self

    async def __aexit__(self, *exc) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    async def send_raw(self, frame: bytes) -> bytes:
        """Write `frame` as it is (MLLP framing included) and read one answer block."""
        self.writer.write(frame)
        await self.writer.drain()
        return await asyncio.wait_for(self.reader.readblock(), self.timeout)

    async def send(self, message: str) -> "Ack":
        answer = await self.send_raw(b"\x0b" + message.encode("utf-8") + b"\x1c\x0d")
        return Ack.of(answer)


@dataclass(frozen=True)
class Ack:
    code: str
    control_id: str
    text: str
    raw: str

    @classmethod
    def of(cls, block: bytes) -> "Ack":
        raw = block.decode("utf-8")
        msa = next((s for s in raw.split("\r") if s.startswith("MSA|")), "MSA||")
        fields = msa.split("|") + ["", "", ""]
        return cls(fields[1], fields[2], fields[3], raw)
