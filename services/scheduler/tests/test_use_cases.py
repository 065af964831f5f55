"""Every rule the scheduler carries (docs/RULES.md "Obligations": R-OB-1 to
R-OB-15), at the use-case level: the register's events through handlers.py
and the HTTP commands on the use cases, over in-memory repositories, the
in-memory unit of work and a fixed clock. No broker, no database: each test
takes milliseconds. Deadlines are checked against an independent count of
working hours (bank holidays straight from `holidays`) and plain calendar
arithmetic, not the code's WorkingCalendar. The same rules on the real broker
and database, as a process: test_obligation_rules.py."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from dateutil.relativedelta import relativedelta
from fastapi import HTTPException

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import (
    ConsentRenewed,
    Event,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    UpdateAdded,
)
from dsr_shared.platform.auth import Principal, Role
from dsr_scheduler.domain.completion import Recommendation
from dsr_scheduler.handlers import referral_handlers, register_handlers
from dsr_testing.scheduler_world import SchedulerWorld, memory_scheduler

LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG")
# Wednesday 1 April 2026, 10:00 in London (BST): Good Friday (3 April) and
# Easter Monday (6 April) fall inside the working-day deadlines that start here.
T0 = datetime(2026, 4, 1, 10, 0, tzinfo=LONDON)
NOW = T0 + timedelta(days=7)  # the clock: the events and completions below have happened
TEAM = Principal("team-1", frozenset({Role.DSR_TEAM}), email="dsr.team@example.org")
REFERRER = Principal("ref-1", frozenset({Role.REFERRER}), email="case.holder@example.org")
STRANGER = Principal("ref-2", frozenset({Role.REFERRER}), email="someone.else@example.org")


# --- an independent count of working time and calendar time --------------------------


def working_hours_after(start: datetime, hours: int) -> datetime:
    """Counted an hour at a time: Monday to Friday, 09:00-17:00 London time,
    not on an English bank holiday (start on the hour)."""
    at, counted = start.astimezone(LONDON), 0
    while counted < hours:
        if at.weekday() < 5 and at.date() not in ENGLAND and time(9) <= at.time() < time(17):
            counted += 1
        at += timedelta(hours=1)
    return at


def working_days_after(start: datetime, days: int) -> datetime:
    return working_hours_after(start, 8 * days)


def calendar_after(start: datetime, **step: int) -> datetime:
    return (start.astimezone(LONDON).replace(tzinfo=None) + relativedelta(**step)).replace(tzinfo=LONDON)


def test_the_independent_count_skips_the_easter_bank_holidays():
    assert working_days_after(T0, 10) == datetime(2026, 4, 17, 10, 0, tzinfo=LONDON)


# --- the register's events, delivered as the broker would ---------------------------------------


@pytest.fixture
def world() -> SchedulerWorld:
    return memory_scheduler("derbyshire", NOW.astimezone(timezone.utc))


async def deliver(world: SchedulerWorld, event: Event, at: datetime, event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Through handlers.py, in an envelope, as the consumer hands it on."""
    envelope = new_envelope(
        event_type=event.EVENT_TYPE,
        schema_version=event.SCHEMA_VERSION,
        occurred_at=at,
        area=world.area.code,
        data=event.model_dump(mode="json"),
        correlation_id="test",
        event_id=event_id,
    )
    handlers = {**referral_handlers(world.scheduler), **register_handlers(world.scheduler)}
    await handlers[event.EVENT_TYPE](envelope, event)
    return envelope.event_id


def rated(
    register_id: str,
    to: str,
    *,
    frm: str | None = None,
    cause: str | None = None,
    cohort: str = "adult",
    age_band: str = "adult",
    secure: bool | None = None,
    at: datetime = T0,
) -> RatingChanged:
    hospital = (
        None
        if secure is None
        else {
            "hospital_ods_code": "RXM",
            "admitted_at": at.isoformat(),
            "bed_type": "learning_disability",
            "secure": secure,
            "legal_basis": "section_3",
        }
    )
    cause = cause or {"blue": "admission"}.get(
        to, "discharge" if frm == "blue" else ("referral" if frm is None else "person")
    )
    return RatingChanged.model_validate(
        {
            "register_id": register_id,
            "from_rating": frm,
            "to_rating": to,
            "rationale": "r",
            "changed_by": "x",
            "cause": cause,
            "cohort": cohort,
            "age_band": age_band,
            "hospital": hospital,
        }
    )


def accepted(register_id: str, consent_date: date | None = None, professional: str | None = None) -> ReferralAccepted:
    return ReferralAccepted.model_validate(
        {
            "referral_id": str(uuid.uuid4()),
            "register_id": register_id,
            "initial_rating": "amber",
            "rating_rationale": "r",
            "cohort": "adult",
            "age_band": "adult",
            "nhs_number_hash": "h" * 64,
            "referrer_email": "case.holder@example.org",
            "accepted_by": "dsr.team@example.org",
            "consent_date": consent_date,
            "professionals": [{"name": "P", "role": "Nurse", "email": professional}] if professional else [],
        }
    )


def update_added(register_id: str) -> UpdateAdded:
    return UpdateAdded(register_id=register_id, update_id=uuid.uuid4(), added_by="case.holder@example.org", text="t")


def open_by_rule(world: SchedulerWorld, register_id: str) -> dict:
    return {o.rule: o for o in world.obligations.items.values() if o.register_id == register_id and o.active}


def published(world: SchedulerWorld, event_type: str, register_id: str | None = None) -> list[dict]:
    return [
        m.envelope.data
        for m in world.uow.events(event_type)
        if register_id is None or m.envelope.data["register_id"] == register_id
    ]


async def complete(world: SchedulerWorld, obligation, principal: Principal = TEAM, **body):
    fields = {"completed_at": T0, "outcome": "held", "rating_review": None, "laep": False, "recommendations": []}
    return await world.scheduler.complete(str(obligation.obligation_id), principal, "c", **{**fields, **body})


# --- what each rating demands ------------------------------------------------------------


async def test_amber_demands_the_initial_and_follow_up_meetings_and_fortnightly_updates(world):
    """R-OB-3: initial DSP meeting within 10 working days (the Easter bank
    holidays skipped); R-OB-4: follow-up every 4 weeks; R-OB-11: a case-holder
    update every 14 days. An adult is not offered keyworking (R-OB-10)."""
    await deliver(world, rated("P-1", "amber"), T0)
    held = open_by_rule(world, "P-1")
    assert set(held) == {"R-OB-3", "R-OB-4", "R-OB-11"}
    assert held["R-OB-3"].due_at == working_days_after(T0, 10) == datetime(2026, 4, 17, 10, tzinfo=LONDON)
    assert held["R-OB-4"].due_at == calendar_after(T0, weeks=4)
    assert held["R-OB-11"].due_at == calendar_after(T0, days=14)
    scheduled = published(world, "ObligationScheduled", "P-1")
    assert {e["rule"] for e in scheduled} == set(held) and not any(e["past_due"] for e in scheduled)


async def test_red_demands_a_community_cetr_in_72_working_hours_and_ends_what_amber_needed(world):
    """R-OB-1: red (on escalation) demands a community C(E)TR within 72 working
    hours; amber's meetings and updates (R-OB-3, R-OB-4, R-OB-11) are cancelled
    because the rating that caused them no longer applies."""
    await deliver(world, rated("P-1", "amber"), T0)
    red_at = T0 + timedelta(hours=2)
    await deliver(world, rated("P-1", "red", frm="amber", at=red_at), red_at)
    held = open_by_rule(world, "P-1")
    assert set(held) == {"R-OB-1"}
    assert held["R-OB-1"].due_at == working_hours_after(red_at, 72)
    assert held["R-OB-1"].kind == "community_cetr"
    cancelled = published(world, "ObligationCancelled", "P-1")
    assert {e["rule"] for e in cancelled} == {"R-OB-3", "R-OB-4", "R-OB-11"}
    assert all(e["reason"] == "rating changed to red" for e in cancelled)


async def test_discharge_demands_a_post_discharge_meeting_and_ends_the_inpatient_ones(world):
    """R-OB-5: discharged (blue to amber): a post-discharge DSP meeting within
    10 working days; the inpatient obligations (R-OB-7, R-OB-8, R-OB-9) end."""
    await deliver(world, rated("P-1", "blue", frm="amber", secure=False), T0)
    home_at = T0 + timedelta(days=6)  # Tuesday 7 April, 10:00
    await deliver(world, rated("P-1", "amber", frm="blue", at=home_at), home_at)
    held = open_by_rule(world, "P-1")
    assert set(held) == {"R-OB-5", "R-OB-4", "R-OB-11"}
    assert held["R-OB-5"].due_at == working_days_after(home_at, 10)
    assert {e["rule"] for e in published(world, "ObligationCancelled", "P-1")} == {"R-OB-7", "R-OB-8", "R-OB-9"}


async def test_green_demands_a_removal_review_and_monthly_updates_until_amber_again(world):
    """R-OB-6: the removal review at the end of the green month; R-OB-12: a
    case-holder update at least monthly; back to amber cancels both."""
    await deliver(world, rated("P-1", "green"), T0)
    held = open_by_rule(world, "P-1")
    assert set(held) == {"R-OB-6", "R-OB-12"}
    assert held["R-OB-6"].due_at == held["R-OB-12"].due_at == calendar_after(T0, months=1)
    later = T0 + timedelta(days=3)
    await deliver(world, rated("P-1", "amber", frm="green", at=later), later)
    assert set(open_by_rule(world, "P-1")) == {"R-OB-3", "R-OB-4", "R-OB-11"}
    assert {e["rule"] for e in published(world, "ObligationCancelled", "P-1")} == {"R-OB-6", "R-OB-12"}


@pytest.mark.parametrize(
    ("cohort", "secure", "expected"),
    [
        ("adult", False, {"R-OB-7": {"days": 28}, "R-OB-8": {"months": 6}, "R-OB-9": {"weeks": 8}}),
        ("adult", True, {"R-OB-7": {"days": 28}, "R-OB-8s": {"months": 12}, "R-OB-9": {"weeks": 8}}),
        ("cyp", False, {"R-OB-7c": {"weeks": 2}, "R-OB-8c": {"months": 3}, "R-OB-9c": {"weeks": 6}}),
    ],
    ids=["adult", "adult-secure", "cyp"],
)
async def test_an_admission_demands_the_inpatient_cetrs_and_oversight_visits(world, cohort, secure, expected):
    """R-OB-7 (adult 28 days; R-OB-7c CYP 2 weeks), R-OB-8 (adult 6 months;
    R-OB-8s secure bed 12 months; R-OB-8c CYP 3 months), R-OB-9 (adult 8
    weeks; R-OB-9c CYP 6 weeks)."""
    await deliver(world, rated("P-1", "blue", frm="red", cohort=cohort, age_band=cohort, secure=secure), T0)
    held = open_by_rule(world, "P-1")
    assert {rule: o.due_at for rule, o in held.items()} == {
        rule: calendar_after(T0, **step) for rule, step in expected.items()
    }
    assert {o.responsible for o in held.values()} == {"commissioner"}


async def test_a_young_adult_rated_red_or_amber_is_offered_keyworking_with_their_own_consent(world):
    """R-OB-10: under 25 (the area's keyworking age limit) and red or amber:
    the keyworking service offers, and it needs the young person's own consent."""
    await deliver(world, rated("P-1", "amber", age_band="young_adult"), T0)
    offer = open_by_rule(world, "P-1")["R-OB-10"]
    assert offer.needs_own_consent and offer.responsible == "keyworking_service"
    assert [
        e["needs_own_consent"] for e in published(world, "ObligationScheduled", "P-1") if e["rule"] == "R-OB-10"
    ] == [True]
    await deliver(world, rated("P-2", "green", age_band="young_adult"), T0)
    assert "R-OB-10" not in open_by_rule(world, "P-2")


async def test_an_update_completes_the_update_that_was_due_and_starts_the_clock_again(world):
    """R-OB-11 (amber, every 14 days) and R-OB-12 (green, monthly): the case
    holder's update completes the one due; the next counts from the update."""
    await deliver(world, rated("P-A", "amber"), T0)
    await deliver(world, rated("P-G", "green"), T0)
    update_at = T0 + timedelta(days=3)
    for register_id in ("P-A", "P-G"):
        await deliver(world, update_added(register_id), update_at)
    assert open_by_rule(world, "P-A")["R-OB-11"].due_at == calendar_after(update_at, days=14)
    assert open_by_rule(world, "P-G")["R-OB-12"].due_at == calendar_after(update_at, months=1)
    completed = published(world, "ObligationCompleted")
    assert sorted(e["rule"] for e in completed) == ["R-OB-11", "R-OB-12"]
    assert world.obligations.people["P-A"]["last_update_at"] == update_at


async def test_consent_is_renewed_every_year_from_the_consent_date(world):
    """R-OB-13: consent renewal a year from the consent date (the start of that
    day in London), completed by ConsentRenewed; the next is a year on."""
    await deliver(world, accepted("P-1", consent_date=date(2026, 3, 15)), T0)
    renewal = open_by_rule(world, "P-1")["R-OB-13"]
    assert renewal.due_at == datetime(2027, 3, 15, 0, 0, tzinfo=LONDON)
    renewed_at = T0 + timedelta(days=30)
    await deliver(world, ConsentRenewed(register_id="P-1", renewed_by="case.holder@example.org"), renewed_at)
    assert open_by_rule(world, "P-1")["R-OB-13"].due_at == calendar_after(renewed_at, years=1)
    assert [e["outcome"] for e in published(world, "ObligationCompleted", "P-1")] == ["consent renewed"]


async def test_a_follow_up_meeting_completed_schedules_the_next_from_the_meeting(world):
    """R-OB-4: completing a follow-up DSP meeting (with its date and outcome)
    schedules the next, 4 weeks from the meeting; it cannot be completed twice."""
    await deliver(world, rated("P-1", "amber"), T0)
    meeting = open_by_rule(world, "P-1")["R-OB-4"]
    held_at = T0 + timedelta(days=5)
    result = await complete(world, meeting, completed_at=held_at, outcome="plan agreed")
    assert result.outcome == "done" and len(result.scheduled) == 1
    assert open_by_rule(world, "P-1")["R-OB-4"].due_at == calendar_after(held_at, weeks=4)
    done = world.obligations.items[str(meeting.obligation_id)]
    assert done.state == "done" and done.completion.outcome == "plan agreed" and done.completion.at == held_at
    assert (await complete(world, meeting, completed_at=held_at)).outcome == "conflict"
    assert [e[2] for e in world.audit.entries] == ["ok", "conflict"]


async def test_a_laep_is_recorded_as_an_exception_and_the_cetr_stays_open(world):
    """R-OB-2: a Local Area Emergency Protocol stands in only for a community
    C(E)TR, and does not complete it."""
    await deliver(world, rated("P-1", "red"), T0)
    cetr = open_by_rule(world, "P-1")["R-OB-1"]
    result = await complete(world, cetr, laep=True, outcome="LAEP held")
    assert result.outcome == "exception_recorded"
    still = world.obligations.items[str(cetr.obligation_id)]
    assert still.active and "LAEP" in still.exceptions[0]
    assert published(world, "ObligationCompleted") == []
    await deliver(world, rated("P-2", "amber"), T0)
    meeting = open_by_rule(world, "P-2")["R-OB-4"]
    refused = await complete(world, meeting, laep=True)
    assert [r["code"] for r in refused.reasons] == ["R-OB-2.laep"]


async def test_a_cetr_records_the_rating_review_and_its_recommendations_become_actions(world):
    """R-OB-15: a C(E)TR is refused without the rating review; with it, each
    recommendation becomes an obligation with its owner and date (due at the
    end of that working day); only a C(E)TR records actions."""
    await deliver(world, rated("P-1", "red"), T0)
    cetr = open_by_rule(world, "P-1")["R-OB-1"]
    refused = await complete(world, cetr)
    assert refused.outcome == "rejected" and [r["code"] for r in refused.reasons] == ["R-OB-15.rating_review"]
    plan = Recommendation("Crisis plan to the GP", "ana.worker@example.org", date(2026, 4, 20))
    result = await complete(world, cetr, rating_review="red", recommendations=[plan])
    assert result.outcome == "done"
    action = open_by_rule(world, "P-1")["R-OB-15"]
    assert (action.title, action.responsible, action.kind) == (plan.description, plan.owner, "cetr_action")
    assert action.due_at == datetime(2026, 4, 20, 17, 0, tzinfo=LONDON)
    assert [str(action.obligation_id)] == result.scheduled
    [completed] = published(world, "ObligationCompleted", "P-1")
    assert completed["rating_review"] == "red" and completed["actions"] == 1
    await deliver(world, rated("P-2", "amber"), T0)
    refused = await complete(world, open_by_rule(world, "P-2")["R-OB-4"], recommendations=[plan])
    assert [r["code"] for r in refused.reasons] == ["R-OB-15.actions"]


async def test_a_completion_in_the_future_is_refused_with_every_reason(world):
    """R-OB-15 and the completion's date: every reason at once."""
    await deliver(world, rated("P-1", "red"), T0)
    cetr = open_by_rule(world, "P-1")["R-OB-1"]
    refused = await complete(world, cetr, completed_at=NOW + timedelta(hours=1))
    assert [r["code"] for r in refused.reasons] == ["completion.in_future", "R-OB-15.rating_review"]
    assert world.obligations.items[str(cetr.obligation_id)].active


@pytest.mark.parametrize(("profile", "meeting"), [("staffordshire", "Thursday 09:30"), ("derbyshire", None)])
async def test_the_tracking_meeting_agenda(profile, meeting):
    """R-OB-14: the weekly tracking meeting (Staffordshire: Thursday 09:30;
    Derbyshire names none, and its agenda looks a week ahead): people by
    rating, what is due or overdue by then, and whose update is missing."""
    world = memory_scheduler(profile, NOW.astimezone(timezone.utc))
    await deliver(world, rated("P-1", "red"), T0 - timedelta(days=10))  # the C(E)TR is due before the meeting
    await deliver(world, rated("P-2", "amber"), T0 - timedelta(days=20))  # update due 14 days on: missing
    agenda = await world.scheduler.tracking_meeting(TEAM)
    if meeting:
        assert agenda["meeting_at"].astimezone(LONDON).strftime("%A %H:%M") == meeting
        assert NOW <= agenda["meeting_at"] < NOW + timedelta(days=7)
        assert agenda["agenda_until"] == agenda["meeting_at"]
    else:
        assert agenda["meeting_at"] is None and agenda["agenda_until"] == NOW + timedelta(days=7)
    assert agenda["people_by_rating"] == {"red": ["P-1"], "amber": ["P-2"]}
    assert [i["rule"] for i in agenda["updates_missing"]] == ["R-OB-11"]
    assert "R-OB-1" in {i["rule"] for i in agenda["due_or_overdue"]}
    assert world.audit.entries == [("tracking_meeting.read", "*", "ok")]


# --- time, redelivery, removal, order -------------------------------------------------------


async def test_each_obligation_is_announced_due_then_overdue_once(world):
    """Obligations: due at the area's notice (2 working days before the
    deadline), overdue at the deadline; each announced once, however often
    time is swept (R-OB-1 here)."""
    await deliver(world, rated("P-1", "red"), T0)
    cetr = open_by_rule(world, "P-1")["R-OB-1"]
    assert cetr.notice_at == working_hours_after(T0, 72 - 16)
    world.clock._at = cetr.notice_at  # the notice time comes
    assert await world.scheduler.sweep() == {"due": 1, "overdue": 0}
    world.clock._at = cetr.due_at
    assert await world.scheduler.sweep() == {"due": 0, "overdue": 1}
    assert await world.scheduler.sweep() == {"due": 0, "overdue": 0}
    assert [e["obligation_id"] for e in published(world, "ObligationDue")] == [str(cetr.obligation_id)]
    assert [e["obligation_id"] for e in published(world, "ObligationOverdue")] == [str(cetr.obligation_id)]
    assert world.obligations.items[str(cetr.obligation_id)].state == "overdue"


async def test_an_event_delivered_twice_schedules_once(world):
    """Handlers are idempotent by event id: R-OB-1 is scheduled once."""
    event = rated("P-1", "red")
    event_id = await deliver(world, event, T0)
    await deliver(world, event, T0, event_id=event_id)
    assert len(published(world, "ObligationScheduled")) == 1 and len(world.obligations.items) == 1


async def test_removal_cancels_everything_still_open(world):
    """A person removed from the register: everything still open is cancelled."""
    await deliver(world, rated("P-1", "amber"), T0)
    await deliver(world, PersonRemoved(register_id="P-1", removed_by="dsr.team@example.org", reason="r"), T0)
    assert open_by_rule(world, "P-1") == {}
    assert len(published(world, "ObligationCancelled", "P-1")) == 3
    assert world.obligations.people["P-1"]["on_register"] is False


async def test_an_admission_learned_after_the_discharge_schedules_then_cancels_what_it_set(world):
    """Facts arrive late: from the register's timeline, the admission (R-OB-7,
    R-OB-8, R-OB-9) is scheduled and cancelled at the discharge, the discharge's
    R-OB-5 scheduled; an older timeline delivered afterwards changes nothing."""
    entry, admitted, home = (uuid.uuid4() for _ in range(3))
    admitted_at, home_at = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    stay = {
        "hospital_ods_code": "RXM",
        "admitted_at": admitted_at.isoformat(),
        "bed_type": "mental_health",
        "secure": False,
        "legal_basis": "section_3",
    }
    timeline = [
        {
            "transition_id": str(entry),
            "at": T0.isoformat(),
            "from_rating": None,
            "to_rating": "amber",
            "cause": "referral",
            "cohort": "adult",
            "age_band": "adult",
        },
        {
            "transition_id": str(admitted),
            "at": admitted_at.isoformat(),
            "from_rating": "amber",
            "to_rating": "blue",
            "cause": "admission",
            "cohort": "adult",
            "age_band": "adult",
            "hospital": stay,
        },
        {
            "transition_id": str(home),
            "at": home_at.isoformat(),
            "from_rating": "blue",
            "to_rating": "amber",
            "cause": "discharge",
            "cohort": "adult",
            "age_band": "adult",
        },
    ]

    def announced(version: int, transitions: list[dict]) -> RatingChanged:
        event = rated("P-1", "amber", frm="blue").model_dump(mode="json")
        return RatingChanged.model_validate({**event, "timeline": transitions, "timeline_version": version})

    await deliver(world, announced(2, timeline), home_at)
    assert set(open_by_rule(world, "P-1")) == {"R-OB-5", "R-OB-4", "R-OB-11"}
    cancelled = {e["rule"]: e for e in published(world, "ObligationCancelled", "P-1")}
    assert set(cancelled) == {"R-OB-3", "R-OB-4", "R-OB-11", "R-OB-7", "R-OB-8", "R-OB-9"}
    assert cancelled["R-OB-7"]["reason"] == "rating changed to amber"
    assert open_by_rule(world, "P-1")["R-OB-5"].due_at == working_days_after(home_at, 10)
    before = len(world.uow.published)
    await deliver(world, announced(1, timeline[:2]), admitted_at)
    assert len(world.uow.published) == before and world.obligations.people["P-1"]["timeline_version"] == 2


# --- who may see whom ---------------------------------------------------------------------


async def test_a_referrer_sees_and_completes_only_the_obligations_of_their_people(world):
    """Data protection: a referrer acts on the people they referred or are
    named on as a professional; anyone else gets the 404 of a missing id."""
    await deliver(world, accepted("P-1"), T0)
    await deliver(world, rated("P-1", "amber"), T0)
    await deliver(world, rated("P-2", "amber"), T0)
    await deliver(
        world,
        ProfessionalsChanged(
            register_id="P-2",
            changed_by="x",
            professionals=[{"name": "N", "role": "Nurse", "email": "someone.else@example.org"}],
        ),
        T0,
    )
    listing = dict(register_id=None, people=None, kind=None, state=None, rule=None, due_before=None, limit=1000)
    mine = await world.scheduler.list_obligations(REFERRER, **listing)
    assert {o["register_id"] for o in mine["obligations"]} == {"P-1"} and mine["total"] == 4
    everyone = await world.scheduler.list_obligations(TEAM, **{**listing, "people": ["P-2", "P-1"], "rule": "R-OB-4"})
    assert {o["register_id"] for o in everyone["obligations"]} == {"P-1", "P-2"}
    meeting = open_by_rule(world, "P-1")["R-OB-4"]
    with pytest.raises(HTTPException) as refused:
        await complete(world, meeting, principal=STRANGER)
    assert refused.value.status_code == 404
    assert (await complete(world, meeting, principal=REFERRER)).outcome == "done"
    assert {o["register_id"] for o in (await world.scheduler.list_obligations(STRANGER, **listing))["obligations"]} == {
        "P-2"
    }
