"""Who hears about what, and what the emails say, without a broker: the pure
domain and the templates. The same behaviours run end to end, over Kafka,
MongoDB and a real SMTP server, in test_notifier.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from dsr_shared.contract.events import (
    FurtherReferralReceived,
    ObligationDue,
    ObligationOverdue,
    PersonRemoved,
    RatingChanged,
    ReferralAccepted,
    ReferralRejected,
    RemovalRequested,
    UpdateAdded,
)
from dsr_shared.rules.area import load_profile
from dsr_notifier.adapters.rendering import Renderer
from dsr_notifier.domain import messages
from dsr_notifier.domain.digest import digests
from dsr_notifier.domain.meetings import digest_at, meeting_to_announce
from dsr_notifier.domain.messages import queued
from dsr_notifier.domain.recipients import Contacts, resolve

STAFFS = load_profile("staffordshire")
DERBY = load_profile("derbyshire")
TEAM = STAFFS.dsr_team_mailbox
LONDON = ZoneInfo("Europe/London")
AT = datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc)
RID = "QNC-7KD4-X9MQ-R"
# What a careless upstream might let through: none of it may reach an email.
PERSONAL = ("Philippa", "Quennell", "9434765870", "943 476 5870", "1987-06-21", "21/06/1987", "ST4 1AA")
LEAKY = "Philippa Quennell (NHS 943 476 5870, born 21/06/1987) of ST4 1AA"
CONTACTS = Contacts(referrer_email="sam.referrer@example.org", case_holders=("casey.holder@example.org",))


def obligation(
    cls,
    responsible: str,
    rule: str = "R-OB-11",
    kind: str = "case_holder_update",
    title: str = "Case-holder update (amber)",
):
    return cls(
        obligation_id=uuid.uuid4(),
        register_id=RID,
        kind=kind,
        title=title,
        rule=rule,
        responsible=responsible,
        due_at=AT + timedelta(days=2),
    )


def rendered(note: messages.Notification, area=STAFFS) -> EmailMessage:
    row = queued(uuid.uuid4(), "Test", "c", note, AT)
    return Renderer(area, "dsr-no-reply@nhs.invalid").render(row, AT)


def assert_clean(message: EmailMessage) -> None:
    whole = message.as_string()
    for text in (whole, message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()):
        for personal in PERSONAL:
            assert personal not in text, f"{personal!r} leaked into {message['Subject']!r}"


@pytest.mark.parametrize(
    ("responsible", "expected"),
    [
        ("dsr_team", [TEAM]),
        ("case_holder", ["casey.holder@example.org"]),
        ("commissioner", [TEAM]),
        ("keyworking_service", [TEAM]),
        ("Action.Owner@Example.org", ["action.owner@example.org"]),
        ("Dr Philippa Quennell", [TEAM]),
    ],
)
def test_who_is_responsible(responsible, expected):
    assert resolve(responsible, CONTACTS, STAFFS) == expected


def test_a_case_holder_falls_back_to_the_referrer_then_the_dsr_team():
    assert resolve("case_holder", Contacts(referrer_email="sam.referrer@example.org"), STAFFS) == [
        "sam.referrer@example.org"
    ]
    assert resolve("case_holder", Contacts(), STAFFS) == [TEAM]


def test_an_area_may_name_mailboxes_for_the_commissioner_and_the_keyworking_service():
    area = STAFFS.model_copy(
        update={
            "commissioner_mailbox": "commissioning@example.org",
            "keyworking_service_mailbox": "keyworking@example.org",
        }
    )
    assert resolve("commissioner", CONTACTS, area) == ["commissioning@example.org"]
    assert resolve("keyworking_service", CONTACTS, area) == ["keyworking@example.org"]


def test_due_goes_to_the_responsible_and_overdue_also_to_the_dsr_team():
    due = messages.for_obligation_due(obligation(ObligationDue, "case_holder"), CONTACTS, STAFFS)
    assert [(n.recipient, n.template) for n in due] == [("casey.holder@example.org", "obligation_due")]
    overdue = messages.for_obligation_overdue(obligation(ObligationOverdue, "case_holder"), CONTACTS, STAFFS)
    assert [n.recipient for n in overdue] == ["casey.holder@example.org", TEAM]
    team_overdue = messages.for_obligation_overdue(
        obligation(ObligationOverdue, "dsr_team", "R-OB-3"), CONTACTS, STAFFS
    )
    assert [n.recipient for n in team_overdue] == [TEAM], "one email per recipient"


def test_an_actions_free_text_title_and_owner_are_not_repeated():
    action = obligation(ObligationDue, f"owner {LEAKY}", rule="R-OB-15", kind="cetr_action", title=f"Call {LEAKY}")
    [note] = messages.for_obligation_due(action, CONTACTS, STAFFS)
    assert note.recipient == TEAM
    message = rendered(note)
    assert_clean(message)
    assert "An action recommended at a C(E)TR" in message.get_body(("plain",)).get_content()


def rating(to: str, frm: str | None, cause: str, **extra) -> RatingChanged:
    return RatingChanged(
        register_id=RID,
        from_rating=frm,
        to_rating=to,
        rationale=LEAKY,
        changed_by="x",
        cause=cause,
        cohort="adult",
        age_band="adult",
        **extra,
    )


def test_escalation_to_red_alerts_the_team_and_the_escalation_contacts():
    area = STAFFS.model_copy(update={"escalation_contacts": ["on.call@example.org", TEAM]})
    notes = messages.for_rating_changed(rating("red", "amber", "person"), AT, area)
    assert [(n.recipient, n.template) for n in notes] == [(TEAM, "escalation"), ("on.call@example.org", "escalation")]
    message = rendered(notes[0], area)
    assert_clean(message)
    text = message.get_body(("plain",)).get_content()
    assert "Community C(E)TR (R-OB-1)" in text and RID in text and "Staffordshire and Stoke-on-Trent" in text


def test_an_admission_alerts_the_team_and_other_changes_send_nothing():
    hospital = {
        "hospital_ods_code": "RXM",
        "admitted_at": AT,
        "bed_type": "learning_disability",
        "secure": False,
        "legal_basis": "section_3",
    }
    [note] = messages.for_rating_changed(rating("blue", "amber", "admission", hospital=hospital), AT, STAFFS)
    assert (note.recipient, note.template) == (TEAM, "admission")
    text = rendered(note).get_body(("plain",)).get_content()
    assert "RXM" in text and "Post-admission C(E)TR (adult) (R-OB-7)" in text
    assert messages.for_rating_changed(rating("amber", "red", "person"), AT, STAFFS) == []
    assert messages.for_rating_changed(rating("green", "amber", "person"), AT, STAFFS) == []


def test_updates_removal_requests_and_green_month_removals_go_to_the_team():
    update = UpdateAdded(register_id=RID, update_id=uuid.uuid4(), added_by="casey.holder@example.org", text=LEAKY)
    [note] = messages.for_update_added(update, AT, STAFFS)
    assert (note.recipient, note.template) == (TEAM, "update_added")
    assert_clean(rendered(note))
    # A removal request's update is announced with the request, not twice.
    request_update = update.model_copy(update={"kind": "removal_request"})
    assert messages.for_update_added(request_update, AT, STAFFS) == []
    [asked] = messages.for_removal_requested(
        RemovalRequested(register_id=RID, requested_by="x", best_interest_meeting=True), AT, STAFFS
    )
    assert (asked.recipient, asked.template) == (TEAM, "removal_requested")
    assert "best-interest meeting" in rendered(asked).get_body(("plain",)).get_content()
    [removed] = messages.for_person_removed(
        PersonRemoved(register_id=RID, removed_by="x", cause="green_month_ended", reason=LEAKY), AT, STAFFS
    )
    assert (removed.recipient, removed.template) == (TEAM, "person_removed")
    assert (
        messages.for_person_removed(PersonRemoved(register_id=RID, removed_by="x", cause="dsr_team"), AT, STAFFS) == []
    )


def test_the_referrer_hears_the_outcome_with_reasons_in_the_notifiers_own_words():
    accepted = ReferralAccepted(
        referral_id=uuid.uuid4(),
        register_id=RID,
        initial_rating="amber",
        rating_rationale=LEAKY,
        cohort="adult",
        age_band="young_adult",
        nhs_number_hash="h" * 64,
        referrer_email="Sam.Referrer@example.org",
        accepted_by="x",
    )
    [note] = messages.for_referral_accepted(accepted, AT, STAFFS)
    assert (note.recipient, note.template) == ("sam.referrer@example.org", "referral_accepted")
    text = rendered(note).get_body(("plain",)).get_content()
    assert RID in text and "Initial DSP meeting (R-OB-3)" in text and "keyworking" in text
    rejected = ReferralRejected(
        referral_id=uuid.uuid4(),
        referrer_email="sam.referrer@example.org",
        reasons=[
            {"code": "R-ELIG-2.no_consent", "message": f"No consent from {LEAKY}", "field": "consent"},
            {"code": "R-ELIG-3.out_of_area", "message": f"{LEAKY} lives elsewhere", "field": "person.address.postcode"},
            {"code": "9434765870", "message": LEAKY, "field": "Philippa Quennell"},
        ],
    )
    [note] = messages.for_referral_rejected(rejected, AT, STAFFS)
    assert note.register_id is None and note.recipient == "sam.referrer@example.org"
    message = rendered(note)
    assert_clean(message)
    assert message["X-DSR-Register-Id"] is None
    text = message.get_body(("plain",)).get_content()
    assert "[R-ELIG-2.no_consent, consent]" in text and "connection to Staffordshire and Stoke-on-Trent" in text


@pytest.mark.parametrize(
    ("proposed", "current", "higher", "says"),
    [
        (
            "red",
            "amber",
            True,
            "It proposes a HIGHER rating than the current one: red (in crisis, at risk of admission), "
            "where the record says amber (wellbeing deteriorating).",
        ),
        ("amber", "green", True, "HIGHER rating"),
        ("amber", "amber", False, "It proposes amber (wellbeing deteriorating); the record says amber"),
        ("green", "red", False, "the record says red"),
        ("red", "blue", False, "the record says blue (in hospital)"),
        ("red", None, False, "The current rating was not known when this was sent"),
    ],
)
def test_a_further_referral_alerts_the_team_and_says_plainly_when_it_proposes_a_higher_rating(
    proposed, current, higher, says
):
    event = FurtherReferralReceived(
        register_id=RID,
        referral_id=uuid.uuid4(),
        proposed_rating=proposed,
        referrer_email="Kim.Second@example.org",
        submitted_by="kim.second@example.org",
        received_at=AT,
    )
    [note] = messages.for_further_referral(event, current, STAFFS)
    assert (note.recipient, note.template, note.register_id) == (TEAM, "further_referral", RID)
    message = rendered(note)
    assert_clean(message)
    text = message.get_body(("plain",)).get_content()
    assert says in text and "kim.second@example.org" in text and str(event.referral_id) in text
    assert ("HIGHER" in text) is higher and ("higher rating" in message["Subject"]) is higher
    assert RID in message["Subject"] and message["X-DSR-Register-Id"] == RID


def test_the_digest_goes_out_one_working_day_before_the_tracking_meeting():
    wednesday_noon = datetime(2026, 11, 18, 12, 0, tzinfo=LONDON)
    meeting = STAFFS.next_tracking_meeting(wednesday_noon)
    assert meeting == datetime(2026, 11, 19, 9, 30, tzinfo=LONDON)
    assert digest_at(STAFFS, meeting) == datetime(2026, 11, 18, 9, 30, tzinfo=LONDON)
    started = datetime(2026, 11, 16, 8, 0, tzinfo=LONDON)  # when the notifier first looked
    assert meeting_to_announce(STAFFS, wednesday_noon, started) == meeting
    assert meeting_to_announce(STAFFS, datetime(2026, 11, 18, 9, 29, tzinfo=LONDON), started) is None
    # Not running at the digest time: the latest meeting's digest, late; never older ones.
    assert meeting_to_announce(STAFFS, datetime(2026, 11, 20, 12, 0, tzinfo=LONDON), started) == meeting
    assert meeting_to_announce(STAFFS, datetime(2026, 11, 26, 12, 0, tzinfo=LONDON), started) == meeting + timedelta(
        days=7
    )
    # Nothing for a meeting whose digest time came before the notifier first looked.
    assert meeting_to_announce(STAFFS, wednesday_noon, datetime(2026, 11, 18, 10, 0, tzinfo=LONDON)) is None
    # Christmas Day is a Friday in 2026; the Thursday before Boxing Day's substitute
    # holiday is a normal meeting, but a Thursday after a bank holiday Wednesday is not.
    new_year_meeting = datetime(2026, 12, 31, 9, 30, tzinfo=LONDON)
    assert digest_at(STAFFS, new_year_meeting) == datetime(2026, 12, 30, 9, 30, tzinfo=LONDON)
    assert (
        DERBY.next_tracking_meeting(wednesday_noon) is None
        and meeting_to_announce(DERBY, wednesday_noon, started) is None
    )


def test_the_digest_lists_by_register_id_and_tells_each_case_holder_their_updates():
    meeting = datetime(2026, 11, 19, 9, 30, tzinfo=LONDON)
    now = datetime(2026, 11, 18, 9, 31, tzinfo=LONDON)
    pending = [
        {
            "register_id": "QNC-AAAA-AAAA-A",
            "rule": "R-OB-3",
            "kind": "initial_dsp_meeting",
            "due_at": now + timedelta(hours=5),
            "state": "due",
        },
        {
            "register_id": "QNC-AAAA-AAAA-A",
            "rule": "R-OB-11",
            "kind": "case_holder_update",
            "due_at": now - timedelta(days=1),
            "state": "overdue",
        },
        {
            "register_id": "QNC-BBBB-BBBB-B",
            "rule": "R-OB-11",
            "kind": "case_holder_update",
            "due_at": now + timedelta(hours=2),
            "state": "due",
        },
        {
            "register_id": "QNC-CCCC-CCCC-C",
            "rule": "R-OB-12",
            "kind": "case_holder_update",
            "due_at": now + timedelta(hours=3),
            "state": "open",
        },
    ]
    contacts = {"QNC-AAAA-AAAA-A": CONTACTS, "QNC-BBBB-BBBB-B": CONTACTS}  # C: nobody known → only the team's digest
    on_register = {"amber": ["QNC-AAAA-AAAA-A", "QNC-BBBB-BBBB-B"], "green": ["QNC-CCCC-CCCC-C"]}
    notes = digests(STAFFS, meeting, now, pending, contacts, on_register)
    assert [(n.recipient, n.template) for n in notes] == [
        (TEAM, "digest_team"),
        ("casey.holder@example.org", "digest_case_holder"),
    ]
    team = rendered(notes[0]).get_body(("plain",)).get_content()
    assert "QNC-AAAA-AAAA-A: Initial DSP meeting (R-OB-3), due" in team
    assert "QNC-AAAA-AAAA-A: Case-holder update (amber) (R-OB-11), OVERDUE" in team
    assert "QNC-CCCC-CCCC-C" in team
    assert "- amber (wellbeing deteriorating), 2: QNC-AAAA-AAAA-A, QNC-BBBB-BBBB-B\n" in team
    holder = rendered(notes[1])
    assert holder["Subject"].startswith("[DSR QNC] 2 updates due before the tracking meeting")
    assert "QNC-CCCC-CCCC-C" not in holder.get_body(("plain",)).get_content()
    assert holder["X-DSR-Register-Id"] is None
