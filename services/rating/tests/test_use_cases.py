"""The register's use cases without infrastructure (milliseconds each): the
events and HTTP changes go in through handlers.py's maps and the service, on
the in-memory store and unit of work, with a clock that moves only when told.
Each test names the rule it checks (docs/RULES.md); deadlines are checked
against a calculation of their own (dateutil, the `holidays` calendar), not
the service's working-time helper."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from dateutil.relativedelta import relativedelta
from fastapi import HTTPException

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import (
    AdmissionCancelled,
    Admitted,
    AgeBandChanged,
    Discharged,
    Event,
    PatientsMerged,
    Rating,
    RatingChanged,
    ReferralAccepted,
    Transferred,
)
from dsr_shared.contract.events.referrals import DischargeSeen
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.runtime import outgoing as build_outgoing
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork
from dsr_shared.rules.area import Duration, PostDischarge
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_rating.adapters.memory import InMemoryPeople
from dsr_rating.domain import listing
from dsr_rating.handlers import hospital_handlers, own_log_handlers, referral_handlers
from dsr_rating.service import Conflict, RatingService, Refused

LONDON = ZoneInfo("Europe/London")
MONDAY = datetime(2026, 3, 2, 10, tzinfo=UTC)  # GMT; the green month ends in BST
KEY = "use-case-tests-hash-key"
REFERRER = Principal("referrer-1", frozenset({Role.REFERRER}), "case.holder@example.org")
STRANGER = Principal("referrer-2", frozenset({Role.REFERRER}), "someone.else@example.org")
DSR_TEAM = Principal("dsr-1", frozenset({Role.DSR_TEAM}), "dsr.team@example.org")
# Valid NHS numbers (modulus 11) and one with a wrong check digit.
AMY, BEN, BAD = "9434765919", "9434765870", "9434765918"


class Audit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, str]] = []

    async def record(self, principal: Principal, action: str, subject_id: str, outcome: str = "ok") -> None:
        self.entries.append((principal.subject, action, subject_id, outcome))


class World:
    """The rating service in memory, fed as the broker and the HTTP API feed it."""

    def __init__(self, **area: Any) -> None:
        settings = ServiceSettings(service_name="rating")
        self.area = settings.area.model_copy(update=area)
        self.clock = FixedClock(MONDAY)
        self.people = InMemoryPeople()
        self.uow = InMemoryUnitOfWork(self.people)
        self.audit = Audit()
        # The one way to build an event (Runtime.outgoing's), without broker or database.
        outgoing = functools.partial(build_outgoing, settings)
        self.service = RatingService(self.uow, self.people, self.audit, self.clock, self.area, outgoing, KEY)
        self.handlers = {
            **referral_handlers(self.service),
            **hospital_handlers(self.service),
            **own_log_handlers(self.service),
        }

    async def deliver(self, event: Event, at: datetime | None = None, event_id: uuid.UUID | None = None) -> uuid.UUID:
        envelope = new_envelope(
            event_type=event.EVENT_TYPE,
            schema_version=event.SCHEMA_VERSION,
            occurred_at=at or self.clock.now(),
            area=self.area.code,
            data=event.model_dump(mode="json"),
            event_id=event_id,
        )
        await self.handlers[event.EVENT_TYPE](envelope, event)
        return envelope.event_id

    async def refer(self, register_id: str, nhs_number: str = AMY, rating: str = "amber", **extra: Any) -> None:
        await self.deliver(
            ReferralAccepted(
                referral_id=uuid.uuid4(),
                register_id=register_id,
                initial_rating=Rating(rating),
                rating_rationale="Wellbeing.",
                cohort=extra.pop("cohort", "adult"),
                age_band=extra.pop("age_band", "adult"),
                nhs_number_hash=nhs_number_hash(KEY, nhs_number),
                referrer_email=REFERRER.email,
                accepted_by=REFERRER.email,
                **extra,
            )
        )

    def admitted(self, at: datetime, nhs_number: str = AMY, hospital: str = "RX1") -> Admitted:
        return Admitted(
            nhs_number=nhs_number,
            admitted_at=at,
            hospital_ods_code=hospital,
            bed_type="mental_health",
            legal_basis="section_2",
        )

    async def standing(self, register_id: str):
        record = await self.people.get(register_id)
        assert record is not None
        return self.service.standing(record)

    async def rate(self, register_id: str, to: str, who: Principal = REFERRER, **given: Any):
        return await self.service.change_rating(
            register_id,
            who,
            if_match=given.pop("if_match", None),
            correlation_id="test",
            rating=Rating(to),
            rationale=given.pop("rationale", "Because."),
            agreed_with_person=given.pop("agreed_with_person", True),
        )

    def ratings(self) -> list[tuple[str | None, str | None, str]]:
        return [
            (m.envelope.data["from_rating"], m.envelope.data["to_rating"], m.envelope.data["cause"])
            for m in self.uow.events("RatingChanged")
        ]


@pytest.fixture
def world() -> World:
    return World()


async def test_r_rag_1_a_referral_enters_with_its_rating(world):
    """R-RAG-1: the referral's rating is the person's; the entry is announced."""
    await world.refer("QJ2-AAAA-0001-X", rating="amber")
    standing = await world.standing("QJ2-AAAA-0001-X")
    assert (standing.status, standing.rating) == ("on_register", Rating.AMBER)
    assert world.ratings() == [(None, "amber", "referral")]


async def test_an_event_delivered_twice_takes_effect_once(world):
    """Idempotent by event id (delivery): the second delivery changes nothing."""
    event_id = uuid.uuid4()
    admission = world.admitted(MONDAY + timedelta(days=1))
    await world.refer("QJ2-AAAA-0002-X")
    await world.deliver(admission, event_id=event_id)
    await world.deliver(admission, event_id=event_id)
    assert world.ratings() == [(None, "amber", "referral"), ("amber", "blue", "admission")]


async def test_r_rag_2_and_r_rag_7_a_change_keeps_reason_author_and_agreement(world):
    """R-RAG-2: a rating goes up or down with a reason, who, and whether agreed;
    R-RAG-7: every change stays in the history."""
    await world.refer("QJ2-AAAA-0003-X")
    world.clock.advance(timedelta(hours=1))
    await world.rate("QJ2-AAAA-0003-X", "red", rationale="Placement breaking down.", agreed_with_person=False)
    world.clock.advance(timedelta(hours=1))
    await world.rate("QJ2-AAAA-0003-X", "amber", rationale="Settled.")
    history = (await world.standing("QJ2-AAAA-0003-X")).history
    assert [(h.from_rating, h.to_rating, h.changed_by, h.rationale, h.agreed_with_person) for h in history[1:]] == [
        ("amber", "red", REFERRER.email, "Placement breaking down.", False),
        ("red", "amber", REFERRER.email, "Settled.", True),
    ]
    assert world.audit.entries[-1] == ("referrer-1", "register.rating", "QJ2-AAAA-0003-X", "ok")


async def test_r_rag_2_the_same_rating_again_is_refused(world):
    """R-RAG-2: a change must change something (R-RAG-2.unchanged), and the refusal is audited."""
    await world.refer("QJ2-AAAA-0004-X", rating="red")
    with pytest.raises(Refused) as refused:
        await world.rate("QJ2-AAAA-0004-X", "red")
    assert [r.code for r in refused.value.refusals] == ["R-RAG-2.unchanged"]
    assert world.audit.entries[-1][-1] == "refused"


async def test_own_changes_read_back_change_nothing(world):
    """R-RAG-2: a change over HTTP is marked processed: reading dsr.ratings back applies nothing twice."""
    await world.refer("QJ2-AAAA-0005-X")
    world.clock.advance(timedelta(minutes=5))
    changed = await world.rate("QJ2-AAAA-0005-X", "red")
    version = changed.version
    for message in world.uow.events("RatingChanged")[1:]:
        event = RatingChanged.model_validate(message.envelope.data)
        await world.handlers["RatingChanged"](message.envelope, event)
    assert (await world.people.get("QJ2-AAAA-0005-X")).version == version


async def test_r_rag_3_an_admission_makes_blue_and_only_the_dsr_team_sets_blue_by_hand(world):
    """R-RAG-3: admitted → blue whatever the rating; a referrer may not set blue
    nor change the rating while the person is in hospital."""
    await world.refer("QJ2-AAAA-0006-X", rating="green")
    await world.deliver(world.admitted(MONDAY + timedelta(days=2)))
    standing = await world.standing("QJ2-AAAA-0006-X")
    assert (standing.rating, standing.in_hospital) == (Rating.BLUE, True)
    with pytest.raises(Refused) as refused:
        await world.rate("QJ2-AAAA-0006-X", "red")
    assert [r.code for r in refused.value.refusals] == ["R-RAG-3.in_hospital"]
    world.clock.advance(timedelta(days=3))
    await world.rate("QJ2-AAAA-0006-X", "red", who=DSR_TEAM)  # the DSR team corrects the record
    assert (await world.standing("QJ2-AAAA-0006-X")).rating == Rating.RED


async def test_r_rag_3_blue_by_hand_is_refused_to_a_referrer(world):
    """R-RAG-3: only an admission (or the DSR team) sets blue."""
    await world.refer("QJ2-AAAA-0007-X")
    with pytest.raises(Refused) as refused:
        await world.rate("QJ2-AAAA-0007-X", "blue")
    assert [r.code for r in refused.value.refusals] == ["R-RAG-3.blue_by_admission"]


async def test_r_rag_3_a_late_admission_outranks_a_change_made_during_the_stay(world):
    """R-RAG-3: a case holder's change made while the person was in fact in
    hospital is kept in the history but does not take effect."""
    await world.refer("QJ2-AAAA-0008-X")
    world.clock.advance(timedelta(days=2))
    await world.rate("QJ2-AAAA-0008-X", "red")
    await world.deliver(world.admitted(MONDAY + timedelta(days=1)))  # reported late
    standing = await world.standing("QJ2-AAAA-0008-X")
    assert standing.rating == Rating.BLUE
    assert [h.took_effect for h in standing.history if h.cause == "person"] == [False]


async def test_r_rag_4_a_discharge_gives_the_post_discharge_rating(world):
    """R-RAG-4: out of blue to the area's post-discharge rating (default amber)."""
    await world.refer("QJ2-AAAA-0009-X", rating="red")
    await world.deliver(world.admitted(MONDAY + timedelta(days=1)))
    await world.deliver(Discharged(nhs_number=AMY, discharged_at=MONDAY + timedelta(days=3), hospital_ods_code="RX1"))
    standing = await world.standing("QJ2-AAAA-0009-X")
    assert (standing.rating, standing.in_hospital, standing.hold_until) == (Rating.AMBER, False, None)


async def test_r_rag_4_an_area_holds_the_post_discharge_rating_for_working_days():
    """R-RAG-4: an area setting red held for 2 working days: nobody but the DSR
    team lowers it until then. Discharged on the Thursday before Easter 2026:
    Good Friday and Easter Monday are bank holidays in England."""
    world = World(post_discharge=PostDischarge(rating=Rating.RED, holds_for=Duration(amount=2, unit="working_days")))
    thursday = datetime(2026, 4, 2, 11, tzinfo=UTC)  # 12:00 BST
    await world.refer("QJ2-AAAA-0010-X", rating="amber")
    await world.deliver(world.admitted(datetime(2026, 3, 30, 9, tzinfo=UTC)))
    world.clock.advance(thursday + timedelta(hours=1) - MONDAY)
    await world.deliver(Discharged(nhs_number=AMY, discharged_at=thursday, hospital_ods_code="RX1"))
    standing = await world.standing("QJ2-AAAA-0010-X")
    assert standing.rating == Rating.RED
    assert standing.hold_until == _working_days_after(thursday, 2)
    assert standing.hold_until == datetime(2026, 4, 8, 12, tzinfo=LONDON)
    with pytest.raises(Refused) as refused:
        await world.rate("QJ2-AAAA-0010-X", "amber")
    assert [r.code for r in refused.value.refusals] == ["R-RAG-4.hold"]
    world.clock.advance(standing.hold_until - world.clock.now())
    await world.rate("QJ2-AAAA-0010-X", "amber")
    assert (await world.standing("QJ2-AAAA-0010-X")).rating == Rating.AMBER


def _working_days_after(at: datetime, days: int) -> datetime:
    """Independently: the same local time `days` England working days later."""
    bank_holidays = holidays.country_holidays("GB", subdiv="ENG", years=at.year)
    local, counted = at.astimezone(LONDON), 0
    day = local.date()
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in bank_holidays:
            counted += 1
    return datetime.combine(day, local.time(), LONDON)


async def test_r_rag_5_a_green_month_over_removes_the_person(world):
    """R-RAG-5: green lasts one calendar month (local time, across the change
    to summer time); a sweep before then removes nobody, one after removes them."""
    await world.refer("QJ2-AAAA-0011-X", rating="green")
    ends = (MONDAY.astimezone(LONDON).replace(tzinfo=None) + relativedelta(months=1)).replace(tzinfo=LONDON)
    assert (await world.standing("QJ2-AAAA-0011-X")).green_until == ends == datetime(2026, 4, 2, 9, tzinfo=UTC)
    world.clock.advance(ends - MONDAY - timedelta(seconds=1))
    assert await world.service.end_green_months() == 0
    world.clock.advance(timedelta(seconds=1))
    assert await world.service.end_green_months() == 1
    assert await world.service.end_green_months() == 0  # once
    assert (await world.standing("QJ2-AAAA-0011-X")).status == "removed"
    removed = world.uow.events("PersonRemoved")[-1].envelope
    assert (removed.data["cause"], removed.occurred_at) == ("green_month_ended", ends)


async def test_r_rag_5_back_to_amber_within_the_month_keeps_the_person(world):
    """R-RAG-5: during the green month the person can go back to amber without a new referral."""
    await world.refer("QJ2-AAAA-0012-X", rating="green")
    world.clock.advance(timedelta(days=10))
    await world.rate("QJ2-AAAA-0012-X", "amber")
    world.clock.advance(timedelta(days=40))
    assert await world.service.end_green_months() == 0
    assert (await world.standing("QJ2-AAAA-0012-X")).status == "on_register"


async def test_r_rag_6_a_referrer_asks_and_the_dsr_team_removes(world):
    """R-RAG-6: a referrer's removal is a request with its update (UpdateAdded,
    RemovalRequested: the DSR team is alerted); only the DSR team removes."""
    await world.refer("QJ2-AAAA-0013-X")
    world.clock.advance(timedelta(days=1))
    asked = await world.service.remove(
        "QJ2-AAAA-0013-X",
        REFERRER,
        if_match=None,
        correlation_id="t",
        reason="Agreed with family.",
        best_interest_meeting=True,
    )
    assert asked.outcome == "removal_requested"
    assert [m.envelope.event_type for m in world.uow.published[-2:]] == ["UpdateAdded", "RemovalRequested"]
    waiting = await world.service.removal_requests(DSR_TEAM)
    assert [(w["register_id"], w["best_interest_meeting"]) for w in waiting] == [("QJ2-AAAA-0013-X", True)]
    assert (await world.standing("QJ2-AAAA-0013-X")).status == "on_register"
    removed = await world.service.remove(
        "QJ2-AAAA-0013-X", DSR_TEAM, if_match=None, correlation_id="t", reason="Agreed.", best_interest_meeting=False
    )
    assert removed.outcome == "removed"
    assert (await world.standing("QJ2-AAAA-0013-X")).status == "removed"
    assert await world.service.removal_requests(DSR_TEAM) == []
    with pytest.raises(Refused) as refused:
        await world.service.remove(
            "QJ2-AAAA-0013-X", DSR_TEAM, if_match=None, correlation_id="t", reason="Again.", best_interest_meeting=False
        )
    assert [r.code for r in refused.value.refusals] == ["R-RAG-6.removed"]
    with pytest.raises(Refused):  # nothing more is kept up to date for someone removed
        await world.service.add_update("QJ2-AAAA-0013-X", DSR_TEAM, if_match=None, correlation_id="t", text="x")


async def test_r_elig_4_an_automatic_referral_enters_at_its_discharge_and_twins_are_one(world):
    """R-ELIG-4: referred automatically on discharge: entered at the discharge
    with the post-discharge rating (R-RAG-4); the hospital's own Discharged is
    the same fact (a twin), whichever arrives first."""
    discharged_at = MONDAY - timedelta(days=1)
    await world.deliver(world.admitted(MONDAY - timedelta(days=9)))  # not on the register yet: kept
    await world.deliver(Discharged(nhs_number=AMY, discharged_at=discharged_at, hospital_ods_code="RX1"))
    await world.refer(
        "QJ2-AAAA-0014-X",
        rating="amber",
        cohort="unknown",
        age_band="unknown",
        discharge=DischargeSeen(hospital_ods_code="RX1", discharged_at=discharged_at),
    )
    standing = await world.standing("QJ2-AAAA-0014-X")
    assert (standing.rating, standing.rating_since, standing.in_hospital) == (Rating.AMBER, discharged_at, False)
    record = await world.people.get("QJ2-AAAA-0014-X")
    assert [f.kind for f in record.facts].count("discharge") == 1 and len(record.twin_ids) == 1
    assert world.ratings()[-1] == (None, "amber", "discharge")


async def test_hospital_events_before_the_referral_are_kept_until_it_names_the_person(world):
    """R-RAG-3: an admission of someone not on the register is kept (listed for
    the DSR team) and applied when a referral names them: they enter blue."""
    await world.deliver(world.admitted(MONDAY - timedelta(days=1), nhs_number=BEN))
    kept, _ = await world.service.unmatched(DSR_TEAM)
    assert [f.kind for f in kept] == ["admission"]
    await world.refer("QJ2-AAAA-0015-X", nhs_number=BEN, rating="red")
    assert (await world.standing("QJ2-AAAA-0015-X")).rating == Rating.BLUE
    assert (await world.service.unmatched(DSR_TEAM))[0] == []


async def test_r_id_2_a_hospital_event_with_an_invalid_nhs_number_is_refused(world):
    """R-ID-2: refused (the consumer dead-letters it); nothing is kept."""
    with pytest.raises(ValueError, match="R-ID-2"):
        await world.deliver(world.admitted(MONDAY, nhs_number=BAD))
    with pytest.raises(ValueError, match="R-ID-2"):
        await world.deliver(
            PatientsMerged(nhs_number=AMY, merged_nhs_number=BAD, merged_at=MONDAY, hospital_ods_code="RX1")
        )
    assert world.people.unmatched == {} and world.uow.processed == set()


async def test_hospital_corrections_a_cancelled_admission_puts_the_rating_back(world):
    """R-RAG-3 with HL7 A11: the register stands as if the admission had never
    been sent; a transfer keeps the person blue in the new hospital."""
    await world.refer("QJ2-AAAA-0016-X", rating="red")
    admitted_at = MONDAY + timedelta(days=1)
    await world.deliver(world.admitted(admitted_at))
    await world.deliver(
        Transferred(
            nhs_number=AMY,
            transferred_at=admitted_at + timedelta(hours=5),
            hospital_ods_code="RX2",
            bed_type="mental_health",
            legal_basis="section_3",
        )
    )
    standing = await world.standing("QJ2-AAAA-0016-X")
    assert (standing.rating, standing.hospital.hospital_ods_code) == (Rating.BLUE, "RX2")
    await world.refer("QJ2-AAAA-0017-X", nhs_number=BEN, rating="red")
    await world.deliver(world.admitted(admitted_at, nhs_number=BEN))
    await world.deliver(
        AdmissionCancelled(
            nhs_number=BEN,
            hospital_ods_code="RX1",
            admitted_at=admitted_at,
            cancelled_at=admitted_at + timedelta(hours=2),
        )
    )
    assert (await world.standing("QJ2-AAAA-0017-X")).rating == Rating.RED


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
async def test_the_register_ends_the_same_whatever_the_order(order):
    """Facts arrive late and out of order (R-RAG-3, R-RAG-4): the same standing from any order."""
    world = World()
    events = [
        ReferralAccepted(
            referral_id=uuid.UUID(int=1),
            register_id="QJ2-AAAA-0018-X",
            initial_rating=Rating.RED,
            rating_rationale="Wellbeing.",
            cohort="adult",
            age_band="adult",
            nhs_number_hash=nhs_number_hash(KEY, AMY),
            referrer_email=REFERRER.email,
            accepted_by=REFERRER.email,
        ),
        world.admitted(MONDAY + timedelta(days=1)),
        Discharged(nhs_number=AMY, discharged_at=MONDAY + timedelta(days=4), hospital_ods_code="RX1"),
    ]
    ids = [uuid.UUID(int=10 + i) for i in range(3)]
    at = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=4)]
    for i in order:
        await world.deliver(events[i], at=at[i], event_id=ids[i])
    standing = await world.standing("QJ2-AAAA-0018-X")
    assert (standing.rating, standing.in_hospital, len(standing.history)) == (Rating.AMBER, False, 3)


async def test_r_ob_10_the_age_band_moves_on(world):
    """R-OB-10: the register keeps the band the referral service announces (the newest wins)."""
    await world.refer("QJ2-AAAA-0019-X", cohort="cyp", age_band="cyp")
    await world.deliver(
        AgeBandChanged(register_id="QJ2-AAAA-0019-X", age_band="young_adult", effective_on=date(2026, 3, 9)),
        at=MONDAY + timedelta(days=7),
    )
    assert (await world.people.get("QJ2-AAAA-0019-X")).age_band == "young_adult"


async def test_r_ob_11_and_r_ob_12_an_update_is_announced_for_the_update_clocks(world):
    """R-OB-11, R-OB-12: a case holder's update is announced (UpdateAdded) for the scheduler's update clocks."""
    await world.refer("QJ2-AAAA-0020-X")
    added = await world.service.add_update(
        "QJ2-AAAA-0020-X", REFERRER, if_match="1", correlation_id="t", text="Visited; plan agreed."
    )
    event = world.uow.events("UpdateAdded")[-1].envelope
    assert (event.data["update_id"], event.data["added_by"]) == (str(added.update_id), REFERRER.email)


async def test_r_ob_14_the_tracking_meeting_list_counts_by_rating_and_cohort(world):
    """R-OB-14: people by rating and adult/CYP, a page at a time, with counts."""
    await world.refer("QJ2-AAAA-0021-X", rating="red")
    await world.refer("QJ2-AAAA-0022-X", nhs_number=BEN, rating="amber", cohort="cyp", age_band="cyp")
    page = await world.service.list_register(DSR_TEAM, listing.Filters(), after=None, page=1, limit=1)
    assert (page.counts.by_rating, page.counts.by_cohort) == ({"red": 1, "amber": 1}, {"adult": 1, "cyp": 1})
    assert ([p["_id"] for p in page.people], page.next_after) == (["QJ2-AAAA-0021-X"], "QJ2-AAAA-0021-X")
    red = await world.service.list_register(DSR_TEAM, listing.Filters(rating="red"), after=None, page=1, limit=10)
    assert red.counts.total == 1 and red.next_after is None


async def test_a_record_is_missing_to_who_may_not_see_it_and_a_stale_version_conflicts(world):
    """Access per person (404, audited as denied) and optimistic concurrency (409) on a change."""
    await world.refer("QJ2-AAAA-0023-X")
    with pytest.raises(HTTPException) as missing:
        await world.rate("QJ2-AAAA-0023-X", "red", who=STRANGER)
    assert missing.value.status_code == 404 and world.audit.entries[-1][-1] == "denied"
    with pytest.raises(Conflict):
        await world.rate("QJ2-AAAA-0023-X", "red", if_match='"7"')
    assert [doc["_id"] for doc in await world.service.caseload(REFERRER)] == ["QJ2-AAAA-0023-X"]
    assert await world.service.caseload(STRANGER) == []


async def test_a_merge_of_patient_records_waits_for_the_dsr_team(world):
    """Never applied: kept by register id for the DSR team, once, until resolved."""
    await world.refer("QJ2-AAAA-0024-X")
    merge = PatientsMerged(nhs_number=BEN, merged_nhs_number=AMY, merged_at=MONDAY, hospital_ods_code="RX1")
    await world.deliver(merge)
    await world.deliver(merge)
    [waiting] = await world.service.merges(DSR_TEAM, resolved=False)
    assert (waiting["kept_register_id"], waiting["merged_register_id"]) == (None, "QJ2-AAAA-0024-X")
    assert await world.service.resolve_merge(waiting["_id"], DSR_TEAM, "Checked with the hospital.")
    assert await world.service.resolve_merge(waiting["_id"], DSR_TEAM, "Again.") is None
    assert [m["_id"] for m in await world.service.merges(DSR_TEAM, resolved=True)] == [waiting["_id"]]
