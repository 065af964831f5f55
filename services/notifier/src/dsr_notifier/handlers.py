"""Subscribers: each event the notifier reads becomes one call on the use
cases (service/), which own the transaction."""

from __future__ import annotations

from dsr_shared.contract.events import (
    FurtherReferralReceived,
    ObligationCancelled,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    ReferralRejected,
    RemovalRequested,
    UpdateAdded,
)
from dsr_shared.platform.consuming import Handler
from dsr_notifier.service import NotifierService


def obligation_handlers(service: NotifierService) -> dict[str, Handler]:
    return {
        cls.EVENT_TYPE: service.obligation_changed
        for cls in (ObligationScheduled, ObligationDue, ObligationOverdue, ObligationCompleted, ObligationCancelled)
    }


def rating_handlers(service: NotifierService) -> dict[str, Handler]:
    return {
        RatingChanged.EVENT_TYPE: service.rating_changed,
        UpdateAdded.EVENT_TYPE: service.update_added,
        RemovalRequested.EVENT_TYPE: service.removal_requested,
        PersonRemoved.EVENT_TYPE: service.person_removed,
        ProfessionalsChanged.EVENT_TYPE: service.professionals_changed,
    }


def referral_handlers(service: NotifierService) -> dict[str, Handler]:
    return {
        ReferralAccepted.EVENT_TYPE: service.referral_accepted,
        ReferralRejected.EVENT_TYPE: service.referral_rejected,
        FurtherReferralReceived.EVENT_TYPE: service.further_referral_received,
    }
