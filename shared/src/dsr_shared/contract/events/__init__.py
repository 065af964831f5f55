"""Every event of the public contract, and how to read one from an envelope."""

from dsr_shared.contract.events.base import Event
from dsr_shared.contract.events.common import AgeBand, Cohort, Rating
from dsr_shared.contract.events.hospital import (
    AdmissionCancelled,
    Admitted,
    DischargeCancelled,
    Discharged,
    PatientsMerged,
    Transferred,
)
from dsr_shared.contract.events.notifications import NotificationFailed, NotificationSent
from dsr_shared.contract.events.obligations import (
    ObligationCancelled,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
)
from dsr_shared.contract.events.ratings import (
    ConsentRenewed,
    HospitalStay,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    RemovalRequested,
    Transition,
    UpdateAdded,
)
from dsr_shared.contract.events.referrals import (
    AgeBandChanged,
    DischargeSeen,
    FurtherReferralReceived,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
)
from dsr_shared.contract.events.registry import (
    EVENT_TYPES,
    UnknownEventType,
    UnsupportedSchemaVersion,
    decode_event,
)

__all__ = [
    "EVENT_TYPES",
    "AgeBand",
    "AgeBandChanged",
    "AdmissionCancelled",
    "Admitted",
    "Cohort",
    "ConsentRenewed",
    "DischargeCancelled",
    "DischargeSeen",
    "Discharged",
    "Event",
    "FurtherReferralReceived",
    "HospitalStay",
    "NotificationFailed",
    "NotificationSent",
    "ObligationCancelled",
    "ObligationCompleted",
    "ObligationDue",
    "ObligationOverdue",
    "ObligationScheduled",
    "PatientsMerged",
    "PersonRemoved",
    "ProfessionalsChanged",
    "Rating",
    "RatingChanged",
    "ReferralAccepted",
    "ReferralRejected",
    "ReferralSubmitted",
    "RemovalRequested",
    "Transferred",
    "Transition",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "UpdateAdded",
    "decode_event",
]
