"""Subscribers: each of the register's events the scheduler reads, handed to
its use case (service/register_events.py says what each changes)."""

from __future__ import annotations

from dsr_shared.contract.events import (
    ConsentRenewed,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    UpdateAdded,
)
from dsr_shared.platform.consuming import Handler
from dsr_scheduler.service import Scheduler


def referral_handlers(scheduler: Scheduler) -> dict[str, Handler]:
    return {ReferralAccepted.EVENT_TYPE: scheduler.on_referral_accepted}


def register_handlers(scheduler: Scheduler) -> dict[str, Handler]:
    return {
        RatingChanged.EVENT_TYPE: scheduler.on_rating_changed,
        UpdateAdded.EVENT_TYPE: scheduler.on_update_added,
        ConsentRenewed.EVENT_TYPE: scheduler.on_consent_renewed,
        PersonRemoved.EVENT_TYPE: scheduler.on_person_removed,
        ProfessionalsChanged.EVENT_TYPE: scheduler.on_professionals_changed,
    }
