"""The notifier's use cases (dsr_notifier.service) on the in-memory unit of
work and repositories, with a fixed clock: what each event leaves queued and
kept, what the digest sweeper makes, and how the sender records each outcome.
No infrastructure; the rule ids each test covers are in its name or docstring.
Deadlines are checked against a calculation of their own over `holidays`."""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from dsr_shared.contract.envelope import Envelope, new_envelope
from dsr_shared.contract.events import (
    FurtherReferralReceived,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
    PersonRemoved,
    RatingChanged,
    ReferralAccepted,
    ReferralRejected,
    RemovalRequested,
    UpdateAdded,
)
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.runtime import outgoing as build_outgoing
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork
from dsr_notifier.adapters.mailer import Refused
from dsr_notifier.adapters.memory import MemoryNotificationStore, MemoryProjection
from dsr_notifier.adapters.rendering import Renderer
from dsr_notifier.service import Courier, NotifierService
from dsr_notifier.settings import NotifierSettings

LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG")
TEAM = "dynamicsupportregister@mpft.nhs.uk"
ON_CALL = "on.call@example.org"
COMMISSIONER = "commissioning@example.org"
REFERRER = "sam.referrer@example.org"
CASE_HOLDER = "casey.holder@example.org"
RID = "QNC-7KD4-X9MQ-R"
# Wednesday 23 December 2026, 10:00: Christmas, Boxing Day (on Monday 28th) and New Year's Day follow.
AT = datetime(2026, 12, 23, 10, tzinfo=LONDON)


def working_days_after(start: datetime, days: int) -> datetime:
    """The same time of day, `days` working days (Monday to Friday, not an
    English bank holiday) later."""
    day = start.date()
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in ENGLAND:
            days -= 1
    return datetime.combine(day, start.timetz())


def previous_working_day(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5 or day in ENGLAND:
        day -= timedelta(days=1)
    return day


class World:
    """The service on in-memory parts, and a way to deliver it events."""

    def __init__(self, tmp_path: Path, at: datetime = AT, **settings) -> None:
        # Staffordshire (it has a tracking meeting), with escalation contacts and a commissioner mailbox.
        staffordshire = resources.files("dsr_shared.rules.profiles").joinpath("staffordshire.toml").read_text("utf-8")
        profile = tmp_path / "area.toml"
        head = f"escalation_contacts = {json.dumps([ON_CALL])}\ncommissioner_mailbox = {json.dumps(COMMISSIONER)}\n"
        profile.write_text(head + staffordshire)
        self.settings = NotifierSettings(area_profile=str(profile), **settings)
        self.clock = FixedClock(at)
        self.store, self.projection = MemoryNotificationStore(), MemoryProjection()
        self.uow = InMemoryUnitOfWork(self.store, self.projection)
        self.service = NotifierService(self.settings, self.clock, self.uow, self.store, self.projection)

    async def deliver(self, event, envelope: Envelope | None = None) -> Envelope:
        envelope = envelope or self.envelope(event)
        method = {
            "ObligationScheduled": "obligation_changed",
            "ObligationDue": "obligation_changed",
            "ObligationOverdue": "obligation_changed",
            "ObligationCompleted": "obligation_changed",
            "RatingChanged": "rating_changed",
            "PersonRemoved": "person_removed",
            "UpdateAdded": "update_added",
            "RemovalRequested": "removal_requested",
            "ReferralAccepted": "referral_accepted",
            "ReferralRejected": "referral_rejected",
            "FurtherReferralReceived": "further_referral_received",
        }[event.EVENT_TYPE]
        await getattr(self.service, method)(envelope, event)
        return envelope

    def envelope(self, event) -> Envelope:
        return new_envelope(
            event_type=event.EVENT_TYPE,
            schema_version=event.SCHEMA_VERSION,
            occurred_at=self.clock.now(),
            area="QNC",
            data=event.model_dump(mode="json"),
        )

    def queued(self, template: str | None = None) -> list[dict]:
        rows = sorted(self.store.rows.values(), key=lambda r: (r["template"], r["recipient"]))
        return [r for r in rows if template is None or r["template"] == template]

    def emails(self) -> list[tuple[str, str]]:
        return [(r["recipient"], r["template"]) for r in self.queued()]


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def rating(to: str, frm: str | None, cause: str = "person", **extra) -> RatingChanged:
    return RatingChanged(
        register_id=RID,
        from_rating=frm,
        to_rating=to,
        rationale="why",
        changed_by="x",
        cause=cause,
        cohort="adult",
        age_band="adult",
        transition_id=uuid.uuid4(),
        **extra,
    )


def accepted(initial: str = "amber", **extra) -> ReferralAccepted:
    return ReferralAccepted(
        referral_id=uuid.uuid4(),
        register_id=RID,
        initial_rating=initial,
        rating_rationale="why",
        cohort="adult",
        age_band="adult",
        nhs_number_hash="h" * 64,
        referrer_email=REFERRER,
        accepted_by="x",
        professionals=[{"name": "Casey", "role": "Social worker", "email": CASE_HOLDER, "case_holder": True}],
        **extra,
    )


def obligation(
    cls,
    responsible: str,
    *,
    obligation_id: uuid.UUID | None = None,
    rule: str = "R-OB-11",
    kind: str = "case_holder_update",
    due_at: datetime = AT + timedelta(days=2),
    **extra,
):
    return cls(
        obligation_id=obligation_id or uuid.uuid4(),
        register_id=RID,
        kind=kind,
        title="Case-holder update",
        rule=rule,
        responsible=responsible,
        due_at=due_at,
        **extra,
    )


def demand(row: dict, rule: str) -> dict:
    return next(d for d in row["context"]["demands"] if d["rule"] == rule)


async def test_escalation_to_red_tells_the_team_and_escalation_contacts_what_red_demands_by_when_r_ob_1(world):
    """R-OB-1: red demands a community C(E)TR within 72 working hours: nine
    8-hour working days, the Christmas and New Year bank holidays skipped."""
    await world.deliver(rating("red", "amber"))
    assert world.emails() == [(TEAM, "escalation"), (ON_CALL, "escalation")]
    assert demand(world.queued()[0], "R-OB-1")["due_at"] == working_days_after(AT, 9)
    assert working_days_after(AT, 9) == datetime(2027, 1, 8, 10, tzinfo=LONDON)
    assert await world.projection.rating_of(RID) == "red"


async def test_an_accepted_referral_tells_the_referrer_of_the_initial_meeting_r_ob_3(world):
    """R-OB-3: entering as amber demands an initial DSP meeting within 10 working days."""
    await world.deliver(accepted("amber"))
    [row] = world.queued()
    assert (row["recipient"], row["template"], row["register_id"]) == (REFERRER, "referral_accepted", RID)
    assert demand(row, "R-OB-3")["due_at"] == working_days_after(AT, 10) == datetime(2027, 1, 11, 10, tzinfo=LONDON)


async def test_an_admission_tells_the_team_and_the_person_stands_blue_r_rag_3(world):
    """R-RAG-3: an admission makes the person blue; the DSR team hears at once,
    with the post-admission C(E)TR due in 28 calendar days (R-OB-7)."""
    hospital = {
        "hospital_ods_code": "RXM",
        "admitted_at": AT,
        "bed_type": "learning_disability",
        "secure": False,
        "legal_basis": "section_3",
    }
    await world.deliver(rating("blue", "amber", "admission", hospital=hospital))
    [row] = world.queued()
    assert (row["recipient"], row["template"]) == (TEAM, "admission")
    assert demand(row, "R-OB-7")["due_at"] == AT + timedelta(days=28)
    assert await world.projection.rating_of(RID) == "blue"


async def test_other_rating_changes_send_nothing_but_keep_the_standing(world):
    await world.deliver(rating("green", "amber"))
    assert world.queued() == []
    assert await world.projection.on_register_by_rating() == {"green": [RID]}


async def test_a_green_month_removal_tells_the_team_and_a_team_removal_does_not_r_rag_5(world):
    """R-RAG-5: the person leaves the register when the green month ends; the team hears of it."""
    await world.deliver(rating("green", "amber"))
    await world.deliver(PersonRemoved(register_id=RID, removed_by="x", cause="green_month_ended"))
    assert world.emails() == [(TEAM, "person_removed")]
    assert await world.projection.rating_of(RID) is None
    await world.deliver(PersonRemoved(register_id=RID, removed_by="x", cause="dsr_team"))
    assert world.emails() == [(TEAM, "person_removed")]


async def test_a_removal_request_and_updates_go_to_the_team_r_rag_6(world):
    """R-RAG-6: a referrer asks for removal; only the DSR team removes, so the team is told."""
    await world.deliver(RemovalRequested(register_id=RID, requested_by="x", best_interest_meeting=True))
    await world.deliver(UpdateAdded(register_id=RID, update_id=uuid.uuid4(), added_by=CASE_HOLDER, text="fine"))
    assert world.emails() == [(TEAM, "removal_requested"), (TEAM, "update_added")]


async def test_a_rejected_referral_tells_the_referrer_why_by_rule_r_elig_1_r_elig_2_r_elig_3_r_id_2(world):
    """R-ELIG-1, R-ELIG-2, R-ELIG-3, R-ID-2: the referrer hears each rule the referral failed."""
    codes = ["R-ELIG-1.unconfirmed", "R-ELIG-2.no_consent", "R-ELIG-3.out_of_area", "R-ID-2.invalid_nhs_number"]
    await world.deliver(
        ReferralRejected(
            referral_id=uuid.uuid4(),
            referrer_email=REFERRER,
            reasons=[{"code": c, "message": "no", "field": "f"} for c in codes],
        )
    )
    [row] = world.queued()
    assert (row["recipient"], row["template"], row["register_id"]) == (REFERRER, "referral_rejected", None)
    assert [r["code"] for r in row["context"]["reasons"]] == codes


async def test_a_further_referral_says_whether_it_proposes_a_higher_rating_than_the_notifier_knows(world):
    await world.deliver(rating("amber", None, "referral"))
    await world.deliver(
        FurtherReferralReceived(
            register_id=RID,
            referral_id=uuid.uuid4(),
            proposed_rating="red",
            referrer_email=REFERRER,
            received_at=AT,
            submitted_by="x",
        )
    )
    [row] = world.queued("further_referral")
    assert (row["recipient"], row["context"]["current_rating"], row["context"]["higher"]) == (TEAM, "amber", True)


async def test_a_due_case_holder_update_goes_to_the_case_holder_and_overdue_also_to_the_team_r_ob_11(world):
    """R-OB-11: the case holder (from the referral's professionals) owes the update."""
    await world.deliver(accepted())
    await world.deliver(obligation(ObligationDue, "case_holder"))
    assert (CASE_HOLDER, "obligation_due") in world.emails()
    await world.deliver(obligation(ObligationOverdue, "case_holder"))
    assert {(CASE_HOLDER, "obligation_overdue"), (TEAM, "obligation_overdue")} <= set(world.emails())


async def test_an_actions_owner_and_the_commissioner_are_told_r_ob_15_r_ob_7_r_ob_10(world):
    """R-OB-15: a C(E)TR action goes to its owner's address; R-OB-7: the
    commissioner's to the area's commissioner mailbox; R-OB-10: the keyworking
    offer says it needs the young person's own consent."""
    await world.deliver(obligation(ObligationDue, "Action.Owner@Example.org", rule="R-OB-15", kind="cetr_action"))
    await world.deliver(obligation(ObligationDue, "commissioner", rule="R-OB-7", kind="cetr"))
    await world.deliver(
        obligation(ObligationDue, "keyworking_service", rule="R-OB-10", kind="keyworking_offer", needs_own_consent=True)
    )
    assert world.emails() == [
        ("action.owner@example.org", "obligation_due"),
        (COMMISSIONER, "obligation_due"),
        (TEAM, "obligation_due"),
    ]
    assert world.queued()[2]["context"]["needs_own_consent"] is True


async def test_an_event_delivered_twice_gives_each_recipient_one_email(world):
    event = rating("red", "amber")
    envelope = await world.deliver(event)
    await world.deliver(event, envelope)
    # The same transition announced again (a new event) still gives one email each.
    await world.deliver(event)
    assert world.emails() == [(TEAM, "escalation"), (ON_CALL, "escalation")]


async def test_an_obligation_only_moves_forward_whatever_order_its_events_come_in(world):
    """Late and out of order: a Scheduled after Due does not reopen it; an
    Overdue after Completed does not bring it back."""
    oid = uuid.uuid4()
    await world.deliver(obligation(ObligationDue, "dsr_team", obligation_id=oid))
    await world.deliver(
        obligation(ObligationScheduled, "dsr_team", obligation_id=oid, triggered_by_event_id=uuid.uuid4())
    )
    assert world.projection.obligations[str(oid)]["state"] == "due"
    await world.deliver(
        obligation(
            ObligationCompleted, "dsr_team", obligation_id=oid, completed_at=AT, outcome="held", completed_by="x"
        )
    )
    await world.deliver(obligation(ObligationOverdue, "dsr_team", obligation_id=oid))
    assert world.projection.obligations[str(oid)]["state"] == "done"


async def test_while_rebuilding_the_projection_is_kept_and_nothing_is_queued(tmp_path):
    world = World(tmp_path, rebuild=True)
    await world.deliver(rating("red", "amber"))
    assert world.queued() == []
    assert await world.projection.rating_of(RID) == "red"


async def test_the_digests_go_out_one_working_day_before_the_tracking_meeting_once_r_ob_14(tmp_path):
    """R-OB-14: Staffordshire meets on Thursdays at 09:30. Before Thursday 2
    January 2025 the working day before is Tuesday 31 December (New Year's Day
    between): the team's digest and each case holder's go out then, once."""
    meeting = datetime(2025, 1, 2, 9, 30, tzinfo=LONDON)
    digest_time = datetime.combine(previous_working_day(meeting.date()), meeting.timetz())
    assert digest_time == datetime(2024, 12, 31, 9, 30, tzinfo=LONDON)
    world = World(tmp_path, at=digest_time - timedelta(hours=1))
    await world.deliver(accepted())
    await world.deliver(rating("amber", None, "referral"))
    await world.deliver(
        obligation(
            ObligationScheduled, "case_holder", due_at=meeting - timedelta(hours=1), triggered_by_event_id=uuid.uuid4()
        )
    )
    assert await world.service.make_digests() == 0  # not yet
    world.clock.advance(timedelta(hours=1) - timedelta(minutes=1))
    assert await world.service.make_digests() == 0
    world.clock.advance(timedelta(minutes=1))
    assert await world.service.make_digests() == 2
    assert [
        (r["recipient"], r["template"]) for r in world.queued() if r["source_event_type"] == "TrackingMeetingDigest"
    ] == [(CASE_HOLDER, "digest_case_holder"), (TEAM, "digest_team")]
    world.clock.advance(timedelta(hours=2))
    assert await world.service.make_digests() == 0


class Relay:
    """A mail relay that takes everything, or refuses for good."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.sent = refuse, []

    @contextlib.asynccontextmanager
    async def connect(self):
        yield self

    async def send(self, message) -> None:
        if self.refuse:
            raise Refused("550 no such mailbox", permanent=True)
        self.sent.append(message)


def courier(world: World, relay: Relay) -> Courier:
    # This service's events in their envelopes, as the running service builds them.
    outgoing = functools.partial(build_outgoing, world.settings)
    return Courier(world.service, outgoing, Renderer(world.settings.area, world.settings.mail_from), relay)


async def test_the_sender_records_each_email_sent_with_notification_sent(world):
    await world.deliver(rating("red", "amber"))
    relay = Relay()
    assert await courier(world, relay).round() is True
    assert len(relay.sent) == 2
    assert {r["state"] for r in world.queued()} == {"sent"}
    assert sorted(e.envelope.data["recipient"] for e in world.uow.events("NotificationSent")) == [TEAM, ON_CALL]
    assert await courier(world, relay).round() is False


async def test_an_email_refused_for_good_fails_and_can_be_sent_again_on_request(world):
    await world.deliver(RemovalRequested(register_id=RID, requested_by="x", best_interest_meeting=False))
    await courier(world, Relay(refuse=True)).round()
    [row] = world.queued()
    assert row["state"] == "failed"
    [failed] = world.uow.events("NotificationFailed")
    assert failed.envelope.data["permanent"] is True
    retried = await world.service.retry(row["_id"])
    assert retried.notification is not None and retried.notification["state"] == "pending"
    assert (await world.service.retry(row["_id"])).state == "pending"
    assert (await world.service.retry(str(uuid.uuid4()))).state is None
    assert [n["_id"] for n in await world.service.notifications({"register_id": RID}, 10)] == [row["_id"]]


def test_the_independent_calendar_knows_the_bank_holidays_the_deadlines_skip():
    assert {date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1), date(2025, 1, 1)} <= set(ENGLAND)
