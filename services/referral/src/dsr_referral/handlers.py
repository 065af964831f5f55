"""The intake topic: referrals from other systems, through the same path."""

from __future__ import annotations

from dsr_shared.envelope import Envelope
from dsr_shared.events import Discharged, ReferralSubmitted
from dsr_shared.messaging import Handler
from dsr_referral.intake import Intake


def referral_handlers(intake: Intake) -> dict[str, Handler]:
    async def on_submitted(envelope: Envelope, event: ReferralSubmitted) -> None:
        referral = event if event.submission_id else event.model_copy(update={"submission_id": str(envelope.event_id)})
        await intake.submit(referral, f"system:{envelope.area}", envelope.correlation_id)

    return {ReferralSubmitted.EVENT_TYPE: on_submitted}


def discharge_handlers(intake: Intake) -> dict[str, Handler]:
    async def on_discharged(envelope: Envelope, event: Discharged) -> None:
        await intake.refer_on_discharge(envelope, event)

    return {Discharged.EVENT_TYPE: on_discharged}
