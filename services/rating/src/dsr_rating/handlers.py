"""Subscribers: each event type to its use case (service/on_events.py says
what each does). Translation only."""

from __future__ import annotations

from dsr_shared.contract.events import (
    AdmissionCancelled,
    Admitted,
    AgeBandChanged,
    DischargeCancelled,
    Discharged,
    PatientsMerged,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    RemovalRequested,
    Transferred,
    UpdateAdded,
)
from dsr_shared.platform.consuming import Handler
from dsr_rating.service import RatingService


def referral_handlers(service: RatingService) -> dict[str, Handler]:
    return {
        ReferralAccepted.EVENT_TYPE: service.referral_accepted,
        AgeBandChanged.EVENT_TYPE: service.age_band_changed,
    }


def hospital_handlers(service: RatingService) -> dict[str, Handler]:
    return {
        Admitted.EVENT_TYPE: service.admitted,
        Discharged.EVENT_TYPE: service.discharged,
        AdmissionCancelled.EVENT_TYPE: service.hospital_cancelled,
        DischargeCancelled.EVENT_TYPE: service.hospital_cancelled,
        Transferred.EVENT_TYPE: service.transferred,
        PatientsMerged.EVENT_TYPE: service.patients_merged,
    }


def own_log_handlers(service: RatingService) -> dict[str, Handler]:
    """Changes made over HTTP, read back from dsr.ratings."""
    return {
        RatingChanged.EVENT_TYPE: service.own_rating_changed,
        PersonRemoved.EVENT_TYPE: service.own_person_removed,
        UpdateAdded.EVENT_TYPE: service.own_update_added,
        RemovalRequested.EVENT_TYPE: service.own_removal_requested,
        ProfessionalsChanged.EVENT_TYPE: service.own_professionals_changed,
    }
