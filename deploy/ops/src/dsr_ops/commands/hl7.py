"""`dsr hl7`: a sample HL7 v2 ADT message, over MLLP to the hospital gateway."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from enum import StrEnum
from typing import Annotated

import typer

from dsr_ops.commands import common
from dsr_ops.commands.common import AtOpt, NhsNumberArg

Trigger = StrEnum("Trigger", {t: t for t in ("A01", "A02", "A03", "A08", "A11", "A13", "A40")})


def hl7(
    trigger: Annotated[
        Trigger,
        typer.Argument(
            help="A01 admit, A02 transfer, A03 discharge, A08 update, "
            "A11 cancel admit, A13 cancel discharge, A40 merge."
        ),
    ],
    nhs_number: NhsNumberArg,
    site: Annotated[str, typer.Option("--site", help="The hospital site's ODS code (PV1-3.4).")] = "RXM01",
    ward: Annotated[
        str, typer.Option("--ward", help="The ward (PV1-3.1): one the area profile lists counts.")
    ] = "WARD33",
    specialty: Annotated[
        str,
        typer.Option("--specialty", help="Main specialty (PV1-10): 710 adult mental illness, 700 learning disability."),
    ] = "710",
    legal_status: Annotated[
        str, typer.Option("--legal-status", help="Mental Health Act legal status code: 01 informal, 02 s2, 03 s3.")
    ] = "03",
    at: AtOpt = None,
    admitted_at: Annotated[
        str | None,
        typer.Option(
            "--admitted-at",
            callback=common.moment,
            show_default="--at",
            help="PV1-44: the admission an A01, A08 or A11 is about.",
        ),
    ] = None,
    discharged_at: Annotated[
        str | None,
        typer.Option(
            "--discharged-at",
            callback=common.moment,
            show_default="--at",
            help="PV1-45: the discharge an A03 or A13 is about.",
        ),
    ] = None,
    from_ward: Annotated[
        str | None, typer.Option("--from-ward", help="A02: the ward left (PV1-6), at --from-site.")
    ] = None,
    from_site: Annotated[str | None, typer.Option("--from-site", help="A02: the site left; --site by default.")] = None,
    merged: Annotated[
        str | None,
        typer.Option(
            "--merged",
            callback=lambda v: common.nhs_number(v) if v else None,
            help="A40: the NHS number of the record merged into NHS_NUMBER.",
        ),
    ] = None,
) -> None:
    """Send a sample HL7 v2.4 ADT message for a demo person to the hospital gateway.

    Over MLLP to DSR_GATEWAY_MLLP (default 127.0.0.1:2575), as a trust's
    integration engine would; prints the ACK (AA, AE or AR and why), never the
    NHS number. The demo person is called Testperson."""
    from dsr_hospital_gateway.samples import MllpSender, Stay, adt

    settings = common.settings()
    moment = at or datetime.now(timezone.utc)
    if trigger.value == "A40" and merged is None:
        raise typer.BadParameter("an A40 needs --merged", param_hint="--merged")
    stay = Stay(site=site, ward=ward, specialty=specialty, legal_status=legal_status)
    prior = Stay(site=from_site or site, ward=from_ward, specialty=specialty) if from_ward else None
    dated = {"A01": "admitted", "A08": "admitted", "A11": "admitted", "A03": "discharged", "A13": "discharged"}.get(
        trigger.value
    )
    message = adt(
        trigger.value,
        nhs_number,
        stay=stay,
        at=moment,
        prior=prior,
        merged_nhs_number=merged,
        admitted_at=(admitted_at or moment) if dated == "admitted" else None,
        discharged_at=(discharged_at or moment) if dated == "discharged" else None,
    )
    host, _, port = settings.gateway_mllp.rpartition(":")

    async def send():
        async with MllpSender(host or "127.0.0.1", int(port), timeout=settings.http_timeout_seconds) as sender:
            return await sender.send(message)

    try:
        ack = common.run(send())
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        raise common.fail(
            f"the hospital gateway at {settings.gateway_mllp} did not answer ({type(exc).__name__})"
        ) from None
    common.say(common.out(), f"{trigger.value} sent (control id {ack.control_id}): {ack.code} {ack.text}".rstrip())
    if ack.code != "AA":
        raise typer.Exit(1)


def add_to(app: typer.Typer) -> None:
    app.command()(hl7)
