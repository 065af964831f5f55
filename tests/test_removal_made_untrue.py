"""Found by the chaos run (pure: no broker, no database). A green month ends
(R-RAG-5) and the rating service announces PersonRemoved; then an admission
from inside that month arrives late: the person was blue, never removed, and
the rating service says so (RatingChanged to blue, with a timeline that has no
removal). A referral service that heard only PersonRemoved on dsr.ratings
still held the person removed, and their next discharge referred them again
automatically (R-ELIG-4): a second ReferralAccepted, a second entry on the
rating service's record, for someone who never left the register. It now keeps
the newest timeline (RatingChanged's too) and judges the discharge by it.

Every event the rating domain announces is delivered to the handlers the
referral service subscribes to dsr.ratings, as its consumer would (other
types skipped); the discharge then goes to its discharge handler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import Admitted, AgeBand, Cohort, Discharged, Rating, ReferralSubmitted
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.contacts import InMemoryContacts
from dsr_shared.platform.runtime import outgoing
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork
from dsr_shared.rules.area import load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.announce import announcements
from dsr_rating.domain.event_facts import admission_fact, discharged_fact, green_month_ended
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_referral.adapters.memory import InMemoryReferralStore
from dsr_referral.handlers import discharge_handlers, register_handlers
from dsr_referral.service import Discharges, Intake, People, Ports, Submitter
from dsr_testing.support import referral_body

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # referral_body dates the referral today
NHS_NUMBER = "9434765919"


def _envelope(event, occurred_at: datetime, event_id: uuid.UUID | None = None):
    return new_envelope(
        event_type=event.EVENT_TYPE,
        schema_version=1,
        occurred_at=occurred_at,
        area="QJ2",
        data=event.model_dump(mode="json"),
        event_id=event_id,
        correlation_id="c-1",
    )


async def test_a_removal_a_late_admission_made_untrue_does_not_refer_the_person_again_on_discharge():
    settings = ServiceSettings(service_name="referral", area_profile="derbyshire")
    store = InMemoryReferralStore()
    uow = InMemoryUnitOfWork(store)
    clock = FixedClock(T0)
    ports = Ports(
        settings,
        clock,
        uow,  # type: ignore[arg-type]
        partial(outgoing, settings),
        store,
        InMemoryContacts(),
    )
    people, intake = People(ports), Intake(ports)
    on_ratings, on_discharges = register_handlers(people), discharge_handlers(Discharges(ports))

    body = referral_body(nhs_number=NHS_NUMBER, rating="green", date_of_birth="1980-01-01", postcode="DE1 1AA")
    accepted = await intake.submit(
        ReferralSubmitted.model_validate(body | {"submission_id": "s-1"}),
        Submitter("dsr-1", dsr_team=True, email="dsr.team@example.org"),
        "c-1",
    )
    assert accepted.register_id, accepted
    register_id = accepted.register_id

    area = load_profile("derbyshire")
    calendar = WorkingCalendar(area.working_time)
    record = PersonRecord(register_id=register_id, cohort=Cohort.ADULT)
    record.set_age_band(AgeBand.ADULT, T0, counted=False)

    async def rating_service_adds(fact: Fact) -> None:
        before = record.timeline(record.standing(area, calendar))
        record.add_fact(fact)
        for told in announcements(record, before, record.standing(area, calendar), version=len(record.facts)):
            handler = on_ratings.get(told.event.EVENT_TYPE)
            if handler is not None:
                await handler(_envelope(told.event, told.entry.at, told.event_id), told.event)

    await rating_service_adds(
        Fact(
            id=str(uuid.uuid4()),
            kind="entry",
            at=T0,
            by="dsr.team@example.org",
            rationale="Referred.",
            rating=Rating.GREEN,
        )
    )
    # The sweep after the month: nothing heard, so the green month ended.
    await rating_service_adds(green_month_ended(register_id, record.standing(area, calendar), T0 + timedelta(days=40)))
    # Late: admitted on day 20, inside the green month; discharged on day 45.
    admitted = Admitted.model_validate(
        {
            "nhs_number": NHS_NUMBER,
            "admitted_at": (T0 + timedelta(days=20)).isoformat(),
            "hospital_ods_code": "RXM",
            "bed_type": "learning_disability",
            "secure": False,
            "legal_basis": "section_3",
        }
    )
    await rating_service_adds(admission_fact(uuid.uuid4(), admitted))
    assert record.standing(area, calendar).on_register and record.standing(area, calendar).rating == Rating.BLUE

    clock.advance(timedelta(days=45))
    discharged = Discharged(nhs_number=NHS_NUMBER, discharged_at=T0 + timedelta(days=45), hospital_ods_code="RXM")
    await on_discharges[Discharged.EVENT_TYPE](_envelope(discharged, discharged.discharged_at), discharged)
    await rating_service_adds(discharged_fact(uuid.uuid4(), discharged))

    referrals = [m.envelope.data for m in uow.events("ReferralAccepted")]
    assert [r["accepted_by"] for r in referrals] == ["dsr-1"], "referred again on discharge"
