"""Subscribers: referrals from other systems (through the same path as HTTP),
discharges (R-ELIG-4) and who is on the register (removals and timelines,
dsr.ratings). Each turns an envelope into one call on the use cases (service/)."""

from __future__ import annotations

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import Discharged, PersonRemoved, RatingChanged, ReferralSubmitted
from dsr_shared.platform.consuming import Handler
from dsr_referral.service import Discharges, Intake, People, Submitter


def referral_handlers(intake: Intake) -> dict[str, Handler]:
    async def on_submitted(envelope: Envelope, event: ReferralSubmitted) -> None:
        referral = event if event.submission_id else event.model_copy(update={"submission_id": str(envelope.event_id)})
        # The topic door names no sender: its idempotency keys are the area's systems'.
        await intake.submit(referral, Submitter(f"system:{envelope.area}"), envelope.correlation_id)

    return {ReferralSubmitted.EVENT_TYPE: on_submitted}


def discharge_handlers(discharges: Discharges) -> dict[str, Handler]:
    async def on_discharged(envelope: Envelope, event: Discharged) -> None:
        await discharges.discharged(envelope, event)

    return {Discharged.EVENT_TYPE: on_discharged}


def register_handlers(people: People) -> dict[str, Handler]:
    """PersonRemoved and RatingChanged (their timeline says who is on the
    register): the other events on dsr.ratings are skipped, not dead-lettered."""

    async def on_removed(envelope: Envelope, event: PersonRemoved) -> None:
        await people.removed(envelope, event)

    async def on_rating_changed(envelope: Envelope, event: RatingChanged) -> None:
        await people.rating_changed(envelope, event)

    return {PersonRemoved.EVENT_TYPE: on_removed, RatingChanged.EVENT_TYPE: on_rating_changed}
