"""What a rating demands does not depend on the order facts arrive in (pure:
no broker, no database). The register's announcements (rating service) feed
the scheduler's use case over an in-memory store; the same facts delivered in
time order and in a shuffled order, with duplicates and twins, end with the
same history, the same obligations (rule, trigger time, deadline, state) and
the same admission and escalation emails. The same property runs on the real
stack in test_order_independence_stack.py.

One thing no order-independent register can promise: an email already sent
on what was known then. When a referral names someone the register believes
is in hospital (an admission, no discharge yet) the DSR team is told at once;
if the discharge that came before the referral arrives later, that email
stays sent. So the emails of a shuffled delivery are those of time order,
plus at most one, about the person's entry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dsr_shared.contract.events import AgeBand, Cohort, Rating
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_shared.platform.runtime import Context
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_testing.register_oracle import expected
from dsr_testing.scheduler_world import memory_scheduler

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
RID = "QJ2-TEST-0000-X"


def _at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def _fact(kind: str, hours: int, **extra) -> Fact:
    ods = "RXM"
    if kind == "admission":
        extra["hospital"] = HospitalStay(
            hospital_ods_code=ods, admitted_at=_at(hours), bed_type="mental_health", legal_basis="section_3"
        )
    return Fact(id=str(uuid.uuid4()), kind=kind, at=_at(hours), by=f"hospital:{ods}", hospital_ods_code=ods, **extra)


@st.composite
def histories(draw):
    """A referral and hospital stays (admission then discharge, the last one
    perhaps still open), with redeliveries and twins, in time and shuffled."""
    times = sorted(draw(st.lists(st.integers(1, 3000), min_size=1, max_size=7, unique=True)))
    entry_at = times.pop(draw(st.integers(0, len(times) - 1)))
    facts = [
        Fact(
            id=str(uuid.uuid4()),
            kind="entry",
            at=_at(entry_at),
            by="referrer@nhs.net",
            rationale="r",
            rating=draw(st.sampled_from([Rating.RED, Rating.AMBER, Rating.GREEN])),
        )
    ]
    facts += [_fact("admission" if i % 2 == 0 else "discharge", hours) for i, hours in enumerate(times)]
    deliveries = list(facts)
    for fact in draw(st.lists(st.sampled_from(facts), max_size=3)):
        deliveries.append(fact)  # the same event again
    for fact in draw(st.lists(st.sampled_from(facts[1:] or facts), max_size=2)):
        if fact.kind != "entry":
            deliveries.append(fact.model_copy(update={"id": str(uuid.uuid4())}))  # a twin under a new id
    shuffled = draw(st.permutations(deliveries))
    in_time = sorted(deliveries, key=lambda f: (f.at, f.kind == "entry"))
    cohort = draw(st.sampled_from([Cohort.ADULT, Cohort.CYP]))
    return in_time, shuffled, cohort


def _run(deliveries: list[Fact], cohort: Cohort, area_name: str):
    record = PersonRecord(register_id=RID, cohort=cohort)
    record.set_age_band(AgeBand.CYP if cohort == Cohort.CYP else AgeBand.ADULT, T0, counted=False)
    ended = expected(record, deliveries, area_name)
    return ended.rating, ended.history, ended.obligations, ended.final_emails, ended.emails


@settings(max_examples=120, deadline=None)
@given(histories(), st.sampled_from(["derbyshire", "staffordshire"]))
def test_what_a_rating_demands_does_not_depend_on_the_order_of_facts(history, area_name):
    in_time, shuffled, cohort = history
    *ended, emails = _run(shuffled, cohort, area_name)
    *expected, expected_emails = _run(in_time, cohort, area_name)
    assert ended == expected
    final = ended[-1]
    assert final <= emails and final <= expected_emails  # what the final timeline keeps, in any order
    entry = next(f for f in in_time if f.kind == "entry")
    extra = emails - expected_emails
    assert expected_emails <= emails and len(extra) <= 1
    assert all(transition == PersonRecord(register_id=RID).transition_id(entry.identity) for transition, _ in extra)


def test_a_discharge_before_its_admission_gives_the_admission_and_the_post_discharge_meeting():
    entry = Fact(id=str(uuid.uuid4()), kind="entry", at=_at(0), by="r@nhs.net", rationale="r", rating=Rating.AMBER)
    admitted, discharged = _fact("admission", 10), _fact("discharge", 20)
    rating, history, demanded, _, emails = _run([entry, discharged, admitted], Cohort.ADULT, "derbyshire")
    assert rating == Rating.AMBER
    assert [(h["from_rating"], h["to_rating"], h["cause"]) for h in history] == [
        (None, Rating.AMBER, "referral"),
        (Rating.AMBER, Rating.BLUE, "admission"),
        (Rating.BLUE, Rating.AMBER, "discharge"),
    ]
    assert {rule for rule, start, _, state in demanded if state == "open"} >= {"R-OB-5", "R-OB-4", "R-OB-11"}
    assert ("R-OB-7", admitted.at) in {(rule, start) for rule, start, _, _ in demanded}  # scheduled, then cancelled
    assert len([e for e in emails if e[1] == "admission"]) == 1


def test_an_admission_before_the_referral_makes_the_person_blue_at_once():
    admitted = _fact("admission", 0)
    entry = Fact(id=str(uuid.uuid4()), kind="entry", at=_at(5), by="r@nhs.net", rationale="r", rating=Rating.AMBER)
    for order in ([admitted, entry], [entry, admitted]):
        rating, history, demanded, _, emails = _run(order, Cohort.ADULT, "derbyshire")
        assert rating == Rating.BLUE
        assert [(h["to_rating"], h["cause"]) for h in history] == [(Rating.BLUE, "admission")]
        assert {rule for rule, _, _, state in demanded if state == "open"} == {"R-OB-7", "R-OB-8", "R-OB-9"}
        assert len(emails) == 1


def test_an_admission_after_a_green_month_ended_is_emailed_only_if_it_arrives_first():
    """Found by the chaos run: green, the green month ended (the register's own
    fact), then an admission and a discharge (an automatic referral). An
    admission read before the month's end was true when announced: the DSR
    team was told, and the email stays sent. Read after, it is of someone off
    the register and tells no one. The final timeline keeps no admission."""
    from dsr_shared.rules.area import load_profile
    from dsr_shared.rules.working_time import WorkingCalendar
    from dsr_rating.domain.event_facts import green_month_ended

    area = load_profile("derbyshire")
    entry = Fact(id=str(uuid.uuid4()), kind="entry", at=_at(0), by="r@nhs.net", rationale="r", rating=Rating.GREEN)
    record = PersonRecord(register_id=RID, cohort=Cohort.ADULT)
    record.add_fact(entry)
    standing = record.standing(area, WorkingCalendar(area.working_time))
    ended = green_month_ended(RID, standing, standing.green_until + timedelta(days=1))
    assert ended is not None
    hours = int((ended.at - T0).total_seconds() // 3600)
    admitted, discharged = _fact("admission", hours + 48), _fact("discharge", hours + 96)
    again = Fact(
        id=str(uuid.uuid4()),
        kind="entry",
        at=discharged.at,
        by="system:discharge",
        rationale="r",
        rating=Rating.AMBER,
        after_discharge=True,
    )
    told_first = _run([entry, admitted, ended, discharged, again], Cohort.ADULT, "derbyshire")
    in_time = _run([entry, ended, admitted, discharged, again], Cohort.ADULT, "derbyshire")
    assert told_first[:4] == in_time[:4]
    assert [kind for _, kind in told_first[4]] == ["admission"] and not in_time[4]
    assert not in_time[3]  # the final timeline keeps no admission: none is owed


def test_an_obligation_cancelled_then_withdrawn_is_announced_twice_under_two_ids():
    """Found by the chaos run: the withdrawal of an obligation already
    cancelled took the cancellation's event id, so the scheduler's outbox
    refused it and the rating change that caused it was dead-lettered."""
    from dsr_shared.contract.events import Transition

    def transition(hours: int, from_rating, to_rating, cause: str) -> Transition:
        return Transition(
            transition_id=uuid.uuid4(), at=_at(hours), from_rating=from_rating, to_rating=to_rating, cause=cause
        )

    scheduler = memory_scheduler("derbyshire").scheduler
    entry = transition(0, None, Rating.AMBER, "referral")
    greener = transition(5, Rating.AMBER, Rating.GREEN, "person")
    # A late fact: the person entered green, so the amber entry's obligations were never demanded.
    timelines = [[entry], [entry, greener], [transition(0, None, Rating.GREEN, "referral")]]
    announced = []
    for timeline in timelines:
        announced += asyncio.run(scheduler.reconcile(RID, timeline, Context("c", uuid.uuid4()), None))
    ids = [m.envelope.event_id for m in announced]
    assert len(ids) == len(set(ids))
    withdrawn = [m for m in announced if m.envelope.data.get("withdrawn")]
    assert {m.envelope.data["rule"] for m in withdrawn} >= {"R-OB-3", "R-OB-4", "R-OB-11"}
