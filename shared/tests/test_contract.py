"""The checked-in AsyncAPI document matches the event models (`make asyncapi`)."""

from pathlib import Path

from dsr_shared.contract.asyncapi import render
from dsr_shared.contract.events import EVENT_TYPES

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi" / "asyncapi.json"


def test_the_checked_in_asyncapi_document_is_current():
    assert DOCUMENT.read_text() == render(), "docs/asyncapi/asyncapi.json is stale: run `make asyncapi`"


def test_every_event_of_the_contract_is_modelled():
    contract = {
        "ReferralSubmitted",
        "ReferralAccepted",
        "ReferralRejected",
        "RatingChanged",
        "Admitted",
        "Discharged",
        "ObligationScheduled",
        "ObligationDue",
        "ObligationOverdue",
        "ObligationCompleted",
        "ObligationCancelled",
        "NotificationSent",
        "NotificationFailed",
    }
    assert contract <= set(EVENT_TYPES)
