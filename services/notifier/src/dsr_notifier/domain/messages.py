"""Who hears about what. Pure: an event, the person's contacts and the area
in; emails out, at most one per recipient. Each email names the person only by
register identifier and says what is needed, by when, with a link to the
record; the context holds nothing else (domain/wording.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import (
    FurtherReferralReceived,
    ObligationDue,
    ObligationOverdue,
    PersonRemoved,
    Rating,
    RatingChanged,
    ReferralAccepted,
    ReferralRejected,
    RemovalRequested,
    UpdateAdded,
)
from dsr_shared.rules.area import AreaProfile
from dsr_notifier.domain.demands import Change, demanded
from dsr_notifier.domain.recipients import Contacts, as_email, resolve, responsible_label
from dsr_notifier.domain.wording import obligation_title, rejection_reason, rule_id


@dataclass(frozen=True)
class Notification:
    recipient: str
    template: str
    register_id: str | None
    context: dict[str, Any] = field(default_factory=dict)


def _each(recipients: list[str], template: str, register_id: str | None, context: dict[str, Any]) -> list[Notification]:
    """One email per distinct recipient, in the order given."""
    seen: dict[str, Notification] = {}
    for recipient in recipients:
        address = recipient.lower()
        if address not in seen:
            seen[address] = Notification(address, template, register_id, context)
    return list(seen.values())


def _team(area: AreaProfile) -> str:
    return area.dsr_team_mailbox.lower()


def _demands(area: AreaProfile, change: Change) -> list[dict[str, Any]]:
    return [{**d, "responsible": responsible_label(d["responsible"])} for d in demanded(area, change)]


def _obligation(event: ObligationDue | ObligationOverdue, area: AreaProfile) -> dict[str, Any]:
    return {
        "obligation_id": str(event.obligation_id),
        "title": obligation_title(event.rule, event.kind, area),
        "rule": rule_id(event.rule),
        "due_at": event.due_at,
        "responsible": responsible_label(event.responsible),
        "needs_own_consent": event.needs_own_consent,
    }


def for_obligation_due(event: ObligationDue, contacts: Contacts, area: AreaProfile) -> list[Notification]:
    """Due (the notice period has begun): to whoever is responsible."""
    return _each(
        resolve(event.responsible, contacts, area), "obligation_due", event.register_id, _obligation(event, area)
    )


def for_obligation_overdue(event: ObligationOverdue, contacts: Contacts, area: AreaProfile) -> list[Notification]:
    """Overdue: to whoever is responsible, and to the DSR team, which sees
    every overdue obligation until it is done or cancelled."""
    recipients = resolve(event.responsible, contacts, area) + [_team(area)]
    return _each(recipients, "obligation_overdue", event.register_id, _obligation(event, area))


def for_rating_changed(event: RatingChanged, at: datetime, area: AreaProfile) -> list[Notification]:
    """Escalation to red: the DSR team and the area's escalation contacts, at
    once. An admission (blue): the DSR team, at once. Other changes: no email
    (the obligations they start are announced when due)."""
    change = Change(
        at=at,
        to_rating=event.to_rating,
        from_rating=event.from_rating,
        cohort=event.cohort,
        age_band=event.age_band,
        secure_bed=event.hospital.secure if event.hospital else None,
        cause=event.cause,
    )
    context: dict[str, Any] = {
        "from_rating": event.from_rating.value if event.from_rating else None,
        "to_rating": event.to_rating.value,
        "cause": event.cause,
        "changed_at": at,
        "demands": _demands(area, change),
    }
    if event.to_rating == Rating.RED:
        return _each([_team(area), *area.escalation_contacts], "escalation", event.register_id, context)
    if event.cause == "admission":
        stay = event.hospital
        context["hospital"] = (
            {
                "ods_code": stay.hospital_ods_code,
                "admitted_at": stay.admitted_at,
                "bed_type": stay.bed_type,
                "secure": stay.secure,
                "legal_basis": stay.legal_basis,
            }
            if stay
            else None
        )
        return _each([_team(area)], "admission", event.register_id, context)
    return []


def for_update_added(event: UpdateAdded, at: datetime, area: AreaProfile) -> list[Notification]:
    """A case-holder update: the DSR team hears of it (seed 000: referrers had
    to email them separately). The update's text is not repeated. A removal
    request's update is announced with the request (for_removal_requested)."""
    if event.kind != "update":
        return []
    context = {"written_at": event.written_at or at, "next_meeting": area.next_tracking_meeting(at)}
    return _each([_team(area)], "update_added", event.register_id, context)


def for_removal_requested(event: RemovalRequested, at: datetime, area: AreaProfile) -> list[Notification]:
    """R-RAG-6: a referrer asks for removal; only the DSR team removes."""
    context = {
        "requested_at": at,
        "best_interest_meeting": event.best_interest_meeting,
        "next_meeting": area.next_tracking_meeting(at),
    }
    return _each([_team(area)], "removal_requested", event.register_id, context)


def for_person_removed(event: PersonRemoved, at: datetime, area: AreaProfile) -> list[Notification]:
    """R-RAG-5: removed because the green month ended. A removal by the DSR
    team needs no email: the team made it."""
    if event.cause != "green_month_ended":
        return []
    return _each([_team(area)], "person_removed", event.register_id, {"removed_at": at})


def for_referral_accepted(event: ReferralAccepted, at: datetime, area: AreaProfile) -> list[Notification]:
    """To the referrer: on the register under this identifier, and what the
    initial rating demands."""
    change = Change(
        at=at,
        to_rating=event.initial_rating,
        cohort=event.cohort,
        age_band=event.age_band,
        cause="discharge" if event.discharge else "referral",
    )
    context = {
        "referral_id": str(event.referral_id),
        "initial_rating": event.initial_rating.value,
        "accepted_at": at,
        "demands": _demands(area, change),
    }
    recipient = as_email(event.referrer_email) or _team(area)
    return _each([recipient], "referral_accepted", event.register_id, context)


def for_referral_rejected(event: ReferralRejected, at: datetime, area: AreaProfile) -> list[Notification]:
    """To the referrer: not accepted, and why, by rule (the reasons' own
    sentences are not repeated; the referral service's answer has them)."""
    reasons = [rejection_reason(r.code, r.field, area) for r in event.reasons]
    unique = [dict(t) for t in dict.fromkeys(tuple(r.items()) for r in reasons)]
    context = {"referral_id": str(event.referral_id), "rejected_at": at, "reasons": unique}
    recipient = as_email(event.referrer_email) or _team(area)
    return _each([recipient], "referral_rejected", None, context)


# Red > amber > green: what "a higher rating" means for a referral (blue is
# an admission, not a rating a referral can propose).
_RAG_RANK = {Rating.GREEN: 0, Rating.AMBER: 1, Rating.RED: 2}


def for_further_referral(
    event: FurtherReferralReceived, current_rating: str | None, area: AreaProfile
) -> list[Notification]:
    """To the DSR team: a referral for someone already on the register, kept
    with their record in the referral service. Says plainly when it proposes a
    higher rating than the current one (`current_rating`: the notifier's view,
    None when it has not heard one yet)."""
    current = Rating(current_rating) if current_rating and current_rating in Rating._value2member_map_ else None
    higher = current is not None and current in _RAG_RANK and _RAG_RANK[event.proposed_rating] > _RAG_RANK[current]
    context = {
        "referral_id": str(event.referral_id),
        "received_at": event.received_at,
        "referrer_email": as_email(event.referrer_email),
        "proposed_rating": event.proposed_rating.value,
        "current_rating": current.value if current else None,
        "higher": higher,
        "next_meeting": area.next_tracking_meeting(event.received_at),
    }
    return _each([_team(area)], "further_referral", event.register_id, context)


def queued(
    source_event_id, source_event_type: str, correlation_id: str | None, note: Notification, at: datetime, key=None
) -> dict[str, Any]:
    """The queue's document for one email (adapters/notifications.py). Its id
    derives from the event and the recipient, so an event gives each recipient
    one email however often it is delivered; or from `key` (and the template)
    when several events may tell of the same thing (a transition the register
    announces again as it learns more)."""
    mail_id = (
        derived_event_id(key, f"notify:{note.template}:{note.recipient}")
        if key
        else derived_event_id(source_event_id, f"notify:{note.recipient}")
    )
    return {
        "_id": str(mail_id),
        "source_event_id": str(source_event_id),
        "source_event_type": source_event_type,
        "correlation_id": correlation_id,
        "register_id": note.register_id,
        "recipient": note.recipient,
        "template": note.template,
        "context": note.context,
        "created_at": at,
    }
