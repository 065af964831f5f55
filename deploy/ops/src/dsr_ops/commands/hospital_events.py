"""`dsr admit`, `dsr discharge`: test hospital events, published as a hospital would."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Annotated, Any, get_args

import typer
from pydantic import ValidationError

from dsr_shared.contract.events import Admitted, Discharged, Event
from dsr_ops import bus
from dsr_ops.commands import common
from dsr_ops.commands.common import AtOpt, NhsNumberArg

# The contract's choices, from the events themselves.
LegalBasis = StrEnum("LegalBasis", {v: v for v in get_args(Admitted.model_fields["legal_basis"].annotation)})
BedType = StrEnum("BedType", {v: v for v in get_args(Admitted.model_fields["bed_type"].annotation)})

DEFAULT_HOSPITAL = "TST01"
HospitalOpt = Annotated[str, typer.Option("--hospital", help="The hospital's ODS code.")]


def _publish(event_class: type[Event], fields: dict[str, Any], at: datetime) -> None:
    from dsr_shared.contract.envelope import new_envelope

    settings = common.settings()
    try:
        event = event_class(**fields)
    except ValidationError as exc:
        raise common.fail(f"not published: {common.reasons(exc)}", 2) from None
    envelope = new_envelope(
        event_type=event.EVENT_TYPE,
        schema_version=event.SCHEMA_VERSION,
        occurred_at=at,
        area=settings.area.code,
        data=event.model_dump(mode="json"),
    )
    topic = settings.topic(event.TOPIC)
    try:
        sent = common.run(bus.publish(settings, topic, envelope, event.message_key()))
    except bus.TopicMissing:
        raise common.fail(
            f"not published: there is no topic {topic} (is DSR_TOPIC_PREFIX right? the services create their "
            "topics when they first start)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the broker's failure, in words
        raise common.fail(f"not published: Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}") from None
    console = common.out()
    common.say(console, f"{event.EVENT_TYPE} published to {topic} (partition {sent.partition}, offset {sent.offset})")
    common.say(console, f"event id {envelope.event_id}")


def admit(
    nhs_number: NhsNumberArg,
    hospital: HospitalOpt = DEFAULT_HOSPITAL,
    secure: Annotated[bool, typer.Option("--secure", help="A secure bed.")] = False,
    legal_basis: Annotated[
        LegalBasis, typer.Option("--legal-basis", help="Under what the person is in hospital.")
    ] = LegalBasis["informal"],
    bed_type: Annotated[BedType, typer.Option("--bed-type", help="The kind of bed.")] = BedType["mental_health"],
    at: AtOpt = None,
) -> None:
    """Publish a test admission; prints its event id.

    An Admitted in the contract's envelope on dsr.hospital.admissions, keyed by
    the NHS number, as a hospital would send it (acks=all, idempotent)."""
    moment = at or datetime.now(timezone.utc)
    _publish(
        Admitted,
        {
            "nhs_number": nhs_number,
            "admitted_at": moment,
            "hospital_ods_code": hospital,
            "bed_type": bed_type.value,
            "secure": secure,
            "legal_basis": legal_basis.value,
        },
        moment,
    )


def discharge(
    nhs_number: NhsNumberArg,
    hospital: HospitalOpt = DEFAULT_HOSPITAL,
    destination: Annotated[str | None, typer.Option("--destination", help="Where the person went, e.g. home.")] = None,
    at: AtOpt = None,
) -> None:
    """Publish a test discharge; prints its event id.

    A Discharged in the contract's envelope on dsr.hospital.discharges, keyed by
    the NHS number, as a hospital would send it (acks=all, idempotent)."""
    moment = at or datetime.now(timezone.utc)
    _publish(
        Discharged,
        {"nhs_number": nhs_number, "discharged_at": moment, "hospital_ods_code": hospital, "destination": destination},
        moment,
    )


def add_to(app: typer.Typer) -> None:
    app.command()(admit)
    app.command()(discharge)
