"""HL7 v2 ADT: reading a frame (the `hl7` package), checking it against the
v2.4 message structures (hl7apy), taking out the fields the register needs
(docs/HOSPITAL_FEEDS.md "HL7 v2 fields"), and writing the ACK.

Nothing here logs or repeats a field's value: reasons name fields only."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hl7
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from dsr_shared.rules.area import HospitalFeeds
from dsr_hospital_gateway.domain.messages import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TRIGGERS,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_VERSION_ID,
    HospitalMessage,
    Location,
    Refused,
)
from dsr_hospital_gateway.domain.stays import is_nhs_number

VERSION = "2.4"
NHS_AUTHORITY = "NHS"
_TIME = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$")
_SEPARATORS = str.maketrans({c: " " for c in "|^~\\&\r\n"})


class Unparseable(Exception):
    """Not an HL7 v2 message at all: kept for the operations team. `code` is
    what went wrong, never the content."""

    def __init__(self, code: str, control_id: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.control_id = control_id


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str
    trigger: str
    control_id: str
    processing_id: str
    version: str

    @property
    def sender(self) -> str:
        """Who sent it: a message control id is unique per sender."""
        return f"{self.sending_application}|{self.sending_facility}"


@dataclass(frozen=True)
class Received:
    header: Header
    message: hl7.Message


def decode(block: bytes) -> str:
    """The frame as text: UTF-8 (ASCII is a part of it), else ISO 8859-1 when MSH-18 says so."""
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("latin-1")
        first = text.split("\r", 1)[0]
        charset = first.split(first[3])[17] if first.startswith("MSH") and len(first.split(first[3])) > 17 else ""
        if "8859" in charset:
            return text
        raise Unparseable("not_text", _control_id(text)) from None


def parse(block: bytes) -> Received:
    """The frame as an HL7 v2 message with its header; Unparseable if it is not one."""
    text = decode(block).replace("\r\n", "\r").replace("\n", "\r").strip("\r")
    if not text.startswith("MSH") or len(text) < 8:
        raise Unparseable("no_msh", _control_id(text))
    try:
        message = hl7.parse(text)
        return Received(_header(message), message)
    except Exception as exc:  # noqa: BLE001 - any failure of the parser means the same
        raise Unparseable("not_hl7", _control_id(text)) from exc


def check_header(header: Header, processing_ids: list[str]) -> None:
    """Refused (AR) when it is not a message the gateway takes."""
    if header.message_type != "ADT":
        raise Refused(
            "AR",
            "unsupported_message_type",
            "MSH-9: only ADT messages are taken",
            where="MSH-9",
            error=UNSUPPORTED_MESSAGE_TYPE,
        )
    if header.trigger not in TRIGGERS:
        raise Refused(
            "AR",
            "unsupported_event",
            f"MSH-9: ADT events taken: {', '.join(sorted(TRIGGERS))}",
            where="MSH-9",
            error=UNSUPPORTED_EVENT_CODE,
        )
    if header.version != VERSION:
        raise Refused(
            "AR",
            "unsupported_version",
            f"MSH-12: HL7 version {VERSION} only",
            where="MSH-12",
            error=UNSUPPORTED_VERSION_ID,
        )
    if header.processing_id not in processing_ids:
        raise Refused(
            "AR",
            "unsupported_processing_id",
            f"MSH-11: processing ids taken: {', '.join(processing_ids)}",
            where="MSH-11",
            error=UNSUPPORTED_PROCESSING_ID,
        )
    if not header.control_id:
        raise Refused(
            "AR",
            "no_control_id",
            "MSH-10: the message control id is missing",
            where="MSH-10",
            error=REQUIRED_FIELD_MISSING,
        )


def validate(text: str) -> None:
    """The message against its HL7 v2.4 structure (required segments and
    fields, lengths, data types). Refused (AE) with what is wrong, no value."""
    try:
        parsed = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        parsed.validate()
    except HL7apyException as exc:
        missing = re.match(r"Missing required child (\S+)", str(exc))
        if missing:
            where = missing.group(1)
            raise Refused(
                "AE",
                "structure",
                f"{where}: required by the HL7 {VERSION} structure, missing",
                where=where,
                error=REQUIRED_FIELD_MISSING,
            ) from None
        raise Refused(
            "AE",
            "structure",
            f"does not match the HL7 {VERSION} structure ({type(exc).__name__})",
            error=DATA_TYPE_ERROR,
        ) from None
    except Exception as exc:  # noqa: BLE001 - hl7apy fails in other ways on odd input
        raise Refused(
            "AE",
            "structure",
            f"does not match the HL7 {VERSION} structure ({type(exc).__name__})",
            error=DATA_TYPE_ERROR,
        ) from None


def hospital_message(received: Received, feeds: HospitalFeeds, zone: ZoneInfo) -> HospitalMessage:
    """The fields the register needs (docs/HOSPITAL_FEEDS.md)."""
    m, header = received.message, received.header
    kind = TRIGGERS[header.trigger]
    occurred = _time(_field(m, "EVN-6"), zone, "EVN-6") or _time(_field(m, "EVN-2"), zone, "EVN-2")
    occurred = occurred or _time(_field(m, "MSH-7"), zone, "MSH-7")
    if occurred is None:
        raise Refused(
            "AE", "no_event_time", "EVN-2 and MSH-7: no time for the event", where="EVN-2", error=REQUIRED_FIELD_MISSING
        )
    site = _field(m, "PV1-3.4") or header.sending_facility or None
    merged = _nhs_number(m, "MRG", 1) if kind == "merge" else None
    return HospitalMessage(
        kind=kind,
        nhs_number=_nhs_number(m, "PID", 3),
        occurred_at=occurred,
        location=Location(site=site, ward=_field(m, "PV1-3.1")),
        patient_class=_field(m, "PV1-2"),
        prior_location=_prior(m, site),
        specialty=_field(m, feeds.specialty_field) if feeds.specialty_field else None,
        treatment_function=_field(m, feeds.treatment_function_field) if feeds.treatment_function_field else None,
        legal_status=_field(m, feeds.legal_status_field) if feeds.legal_status_field else None,
        admitted_at=_time(_field(m, "PV1-44"), zone, "PV1-44"),
        discharged_at=_time(_field(m, "PV1-45"), zone, "PV1-45"),
        destination=_field(m, "PV1-37.1"),
        merged_nhs_number=merged if merged is None or is_nhs_number(merged) else None,
        merged_nhs_number_invalid=merged is not None and not is_nhs_number(merged),
    )


def ack(
    header: Header | None,
    code: str,
    text: str = "",
    *,
    at: datetime | None = None,
    control_id: str = "",
    refusal: Refused | None = None,
) -> bytes:
    """An original-mode ACK: MSA-1 the code, MSA-2 the message's control id,
    MSA-3 why (ours, never the message's content); ERR for a refusal. `at`:
    MSH-7, the service clock's now."""
    now = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%d%H%M%S+0000")
    if header is not None:
        sender = (header.receiving_application or "DSR", header.receiving_facility)
        receiver = (header.sending_application, header.sending_facility)
        trigger, processing, control_id = header.trigger, header.processing_id or "P", header.control_id
    else:
        sender, receiver, trigger, processing = ("DSR", ""), ("", ""), "", "P"
    segments = [
        f"MSH|^~\\&|{_safe(sender[0])}|{_safe(sender[1])}|{_safe(receiver[0])}|{_safe(receiver[1])}|{now}||"
        f"ACK^{_safe(trigger)}^ACK|{uuid.uuid4().hex[:20].upper()}|{_safe(processing)}|{VERSION}",
        f"MSA|{code}|{_safe(control_id)}|{_safe(text)[:80]}",
    ]
    if refusal is not None:
        segment, _, position = (refusal.where or "").partition("-")
        position = position.split(".")[0]
        location = f"{_safe(segment)}^1^{position}" if segment and position.isdigit() else "^^"
        segments.append(f"ERR|{location}^{refusal.error}&{_safe(refusal.reason)[:60]}&HL70357")
    return "\r".join(segments).encode("utf-8")


def _header(message: hl7.Message) -> Header:
    message.segment("MSH")  # KeyError without one

    def part(field: int, component: int = 1) -> str:
        return _field(message, f"MSH-{field}.{component}") or ""

    return Header(
        sending_application=part(3),
        sending_facility=part(4),
        receiving_application=part(5),
        receiving_facility=part(6),
        message_type=part(9, 1),
        trigger=part(9, 2),
        control_id=part(10),
        processing_id=part(11),
        version=part(12),
    )


def _field(message: hl7.Message, path: str) -> str | None:
    """A field's first repetition (its first component unless the path names
    one), stripped; None when absent or empty. Paths: "PV1-3", "PV1-3.4"."""
    segment, _, rest = path.partition("-")
    field, _, component = rest.partition(".")
    try:
        value = message.extract_field(segment, 1, int(field), 1, int(component or 1))
    except (KeyError, IndexError, ValueError, hl7.exceptions.HL7Exception):
        return None
    value = str(value).strip() if value is not None else ""
    return value or None


def _nhs_number(message: hl7.Message, segment: str, field: int) -> str | None:
    """The ID (CX-1) of the repetition whose assigning authority (CX-4) is NHS,
    as sent (the domain checks it); None when there is no such repetition."""
    try:
        repetitions = message.segment(segment)(field)
    except (KeyError, IndexError):
        return None
    for repetition in repetitions:
        try:
            authority = str(repetition(4)).split("&")[0].strip().upper()
            value = str(repetition(1)).replace(" ", "")
        except (IndexError, TypeError):
            continue
        if authority == NHS_AUTHORITY:
            return value
    return None


def _prior(message: hl7.Message, site: str | None) -> Location | None:
    ward = _field(message, "PV1-6.1")
    if ward is None:
        return None
    return Location(site=_field(message, "PV1-6.4") or site, ward=ward)


def _time(value: str | None, zone: ZoneInfo, where: str) -> datetime | None:
    """An HL7 TS (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]); without an offset, the area's time."""
    if value is None:
        return None
    match = _TIME.match(value)
    if not match:
        raise Refused(
            "AE",
            "invalid_time",
            f"{where}: not an HL7 time (YYYYMMDDHHMM[SS][+/-ZZZZ])",
            where=where,
            error=DATA_TYPE_ERROR,
        )
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise Refused("AE", "invalid_time", f"{where}: not a date", where=where, error=DATA_TYPE_ERROR) from None
    if offset:
        sign = 1 if offset[0] == "+" else -1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
        return moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return moment.replace(tzinfo=zone)


def _control_id(text: str) -> str:
    """MSH-10 from text the parser could not read, if it is there, for the ACK."""
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return ""
    fields = first.split(first[3])
    value = fields[9] if len(fields) > 9 else ""
    return value if re.fullmatch(r"[A-Za-z0-9._-]{1,50}", value) else ""


def _safe(value: str) -> str:
    return (value or "").translate(_SEPARATORS).strip()
