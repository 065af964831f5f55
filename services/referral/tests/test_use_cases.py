"""The referral service's use cases, each rule it carries, in milliseconds:
the use cases (dsr_referral.service) over in-memory stores, the in-memory unit
of work and a fixed clock; no broker, no database. What crosses a process
boundary is tested in test_people_on_the_register.py and the cross-service
tests. Each test names the rule ids it proves (docs/RULES.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import (
    Cohort,
    Discharged,
    PersonRemoved,
    ProfessionalsChanged,
    Rating,
    RatingChanged,
    ReferralSubmitted,
)
from dsr_shared.contract.events.ratings import Transition
from dsr_shared.contract.events.referrals import Address
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.contacts import InMemoryContacts
from dsr_shared.platform.runtime import outgoing as build_outgoing
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_referral.adapters.memory import InMemoryReferralStore
from dsr_referral.domain.register_id import is_valid_register_id
from dsr_referral.service import AgeBands, Discharges, Intake, People, Ports, Submitter

# A Monday morning in the area's winter (UTC = Europe/London).
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
NHS_NUMBER = "9434765919"
OTHER_NHS_NUMBER = "4010232137"
REFERRER = Submitter("referrer-1", email="sam.referrer@example.org")
DSR_TEAM = Submitter("dsr-1", dsr_team=True, email="dsr.team@example.org")


def referral(
    *, nhs_number: str = NHS_NUMBER, born: str = "1990-04-12", postcode: str = "DE1 1AA", **changes: Any
) -> ReferralSubmitted:
    body: dict[str, Any] = {
        "submission_id": str(uuid.uuid4()),
        "referral_date": NOW.date().isoformat(),
        "person": {
            "given_name": "Alexandra",
            "family_name": "Testperson",
            "date_of_birth": born,
            "nhs_number": nhs_number,
            "address": {"line1": "1 Example Street", "town": "Derby", "postcode": postcode},
        },
        "diagnosis": {"condition": "autism", "confirmed": True, "evidence_reference": "DOC-123"},
        "consent": {"given_by": "the person", "given_on": "2026-01-05"},
        "referrer": {
            "name": "Sam Referrer",
            "role": "Community nurse",
            "organisation": "DHCFT",
            "email": "sam.referrer@example.org",
        },
        "rating_rationale": "Wellbeing deteriorating after a change of placement.",
        "proposed_rating": "amber",
    }
    return ReferralSubmitted.model_validate(body | changes)


def envelope_of(event: Any, occurred_at: datetime = NOW) -> Any:
    return new_envelope(
        event_type=event.EVENT_TYPE,
        schema_version=1,
        occurred_at=occurred_at,
        area="QJ2",
        data=event.model_dump(mode="json"),
        correlation_id="c-1",
    )


def discharge(nhs_number: str = NHS_NUMBER) -> Discharged:
    return Discharged(nhs_number=nhs_number, discharged_at=NOW - timedelta(hours=2), hospital_ods_code="RXM01")


@dataclass
class Service:
    settings: ServiceSettings
    clock: FixedClock
    store: InMemoryReferralStore
    contacts: InMemoryContacts
    uow: InMemoryUnitOfWork
    intake: Intake
    people: People
    discharges: Discharges
    age_bands: AgeBands

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [m.envelope.data for m in self.uow.events(event_type)]

    def event_types(self) -> list[str]:
        return [m.envelope.event_type for m in self.uow.published]


@pytest.fixture
def service() -> Service:
    settings = ServiceSettings(service_name="referral", area_profile="derbyshire")
    clock, store, contacts = FixedClock(NOW), InMemoryReferralStore(), InMemoryContacts()
    uow = InMemoryUnitOfWork(store)
    # The one way to build an outgoing event (Runtime.outgoing's).
    outgoing = partial(build_outgoing, settings)
    ports = Ports(settings, clock, uow, outgoing, store, contacts)  # type: ignore[arg-type]
    return Service(
        settings, clock, store, contacts, uow, Intake(ports), People(ports), Discharges(ports), AgeBands(ports)
    )


# Who may be on the register -------------------------------------------------


async def test_r_elig_1_2_3_r_id_2_an_ineligible_referral_is_refused_with_every_reason_and_no_person_kept(service):
    bad = referral(
        nhs_number="1234567890",
        postcode="M1 1AE",
        diagnosis={"condition": "autism", "confirmed": False, "evidence_reference": ""},
        consent=None,
    )
    answer = await service.intake.submit(bad, REFERRER, "c-1")

    assert answer.outcome == "rejected"
    codes = {r.code for r in answer.reasons}
    assert {
        "R-ELIG-1.unconfirmed",
        "R-ELIG-1.no_evidence",
        "R-ELIG-2.no_consent",
        "R-ID-2.invalid_nhs_number",
        "R-ELIG-3.out_of_area",
    } <= codes
    assert service.store.people == {}  # R-ELIG-2: nothing about the person is stored
    kept = service.store.referrals[answer.referral_id]
    assert "submission" not in kept and "register_id" not in kept
    [rejected] = service.events("ReferralRejected")
    assert {r["code"] for r in rejected["reasons"]} == codes


async def test_r_rag_1_r_id_1_r_ob_13_an_eligible_referral_enters_with_its_rating_and_a_register_id(service):
    answer = await service.intake.submit(referral(proposed_rating="red"), REFERRER, "c-1")

    assert answer.outcome == "accepted" and answer.shown_register_id == answer.register_id
    assert is_valid_register_id(answer.register_id) and answer.register_id.startswith("QJ2-")
    [accepted] = service.events("ReferralAccepted")
    assert accepted["initial_rating"] == "red"  # R-RAG-1: as the referrer proposed
    assert accepted["cohort"] == "adult" and accepted["age_band"] == "adult"
    assert accepted["consent_date"] == "2026-01-05"  # R-OB-13: renewal counts from the consent
    # R-ID-1: messages carry the register id and a pseudonym, never the NHS number or a name.
    assert accepted["nhs_number_hash"] == nhs_number_hash(service.settings.nhs_hash_key.get_secret_value(), NHS_NUMBER)
    assert NHS_NUMBER not in str(service.uow.published) and "Testperson" not in str(service.uow.published)
    person = service.store.people[answer.register_id]
    assert person["nhs_number"] == NHS_NUMBER and person["announced_age_band"] == "adult"


async def test_r_elig_2_a_best_interest_decision_dates_the_consent_renewal_r_ob_13(service):
    decision = {"decision_maker": "Best-interest meeting", "decided_on": "2026-02-10"}
    await service.intake.submit(referral(consent=None, best_interest_decision=decision), REFERRER, "c-1")
    [accepted] = service.events("ReferralAccepted")
    assert accepted["consent_date"] == "2026-02-10"


async def test_the_same_submission_twice_gives_one_record_and_the_same_answer(service):
    once = referral()
    first = await service.intake.submit(once, REFERRER, "c-1")
    again = await service.intake.submit(once, REFERRER, "c-1")
    assert again == first
    assert len(service.store.referrals) == 1 and service.event_types() == ["ReferralAccepted"]
    # Another submitter's same key is their own referral: a further referral.
    other = await service.intake.submit(once, Submitter("referrer-2"), "c-2")
    assert other.outcome == "sent_to_dsr_team" and other.referral_id != first.referral_id


async def test_r_id_1_a_further_referral_is_kept_and_sent_to_the_dsr_team_showing_the_id_only_to_who_may_see(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    second = await service.intake.submit(referral(proposed_rating="red"), Submitter("referrer-2"), "c-2")

    assert second.outcome == "sent_to_dsr_team" and second.register_id == first.register_id
    assert second.shown_register_id is None  # the second referrer did not put them on the register
    [further] = service.events("FurtherReferralReceived")
    assert further["register_id"] == first.register_id and further["proposed_rating"] == "red"
    assert service.store.people[first.register_id]["further_referrals"][0]["referral_id"] == second.referral_id
    by_team = await service.intake.submit(referral(), DSR_TEAM, "c-3")
    assert by_team.outcome == "sent_to_dsr_team" and by_team.shown_register_id == first.register_id


async def test_a_kept_referral_is_read_without_the_register_id_by_a_referrer_who_may_not_see_the_person(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    second = await service.intake.submit(referral(), Submitter("referrer-2", email="kim@example.org"), "c-2")
    doc = await service.intake.referral(second.referral_id)
    assert service.intake.contacts_of(doc).referrers == {"referrer-2", "sam.referrer@example.org"}

    shown, register_id = await service.intake.referral_as_seen_by(doc, Submitter("referrer-2"))
    assert "register_id" not in shown and shown["referral_id"] == second.referral_id
    assert register_id == first.register_id  # for the audit
    shown, _ = await service.intake.referral_as_seen_by(await service.intake.referral(second.referral_id), REFERRER)
    assert shown["register_id"] == first.register_id


# Removal and return ---------------------------------------------------------


async def remove(service: Service, register_id: str, cause: str = "dsr_team") -> uuid.UUID:
    event = PersonRemoved(register_id=register_id, removed_by="dsr.team@example.org", cause=cause, reason="Settled.")
    envelope = envelope_of(event)
    await service.people.removed(envelope, event)
    return envelope.event_id


async def test_r_rag_6_r_id_1_a_removed_person_returns_on_a_new_referral_under_the_same_register_id(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    await remove(service, first.register_id)
    assert service.store.people[first.register_id]["removal"]["cause"] == "dsr_team"

    back = await service.intake.submit(referral(proposed_rating="green"), Submitter("referrer-2"), "c-2")
    assert back.outcome == "accepted" and back.register_id == first.register_id
    person = service.store.people[first.register_id]
    assert "removed_at" not in person and len(person["removals"]) == 1  # the history stays
    assert [e["register_id"] for e in service.events("ReferralAccepted")] == [first.register_id] * 2


async def test_r_rag_5_a_removal_at_the_end_of_the_green_month_takes_effect_once(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    event = PersonRemoved(
        register_id=first.register_id, removed_by="system", cause="green_month_ended", reason="No news."
    )
    envelope = envelope_of(event)
    await service.people.removed(envelope, event)
    await service.people.removed(envelope, event)  # delivered twice
    assert len(service.store.people[first.register_id]["removals"]) == 1
    await remove(service, "QJ2-0000-0000-0")  # someone unknown here: nothing, and no failure


# R-ELIG-4: the automatic referral on discharge ------------------------------


async def test_r_elig_4_r_ob_5_someone_discharged_who_is_not_on_the_register_is_referred_automatically_as_amber(
    service,
):
    envelope = envelope_of(discharge())
    await service.discharges.discharged(envelope, discharge())
    await service.discharges.discharged(envelope, discharge())  # delivered twice: once

    [accepted] = service.events("ReferralAccepted")
    assert (
        accepted["initial_rating"] == "amber" and accepted["cohort"] == "unknown" and accepted["age_band"] == "unknown"
    )
    assert accepted["accepted_by"] == "system:discharge"
    assert accepted["referrer_email"] == service.settings.area.dsr_team_mailbox
    assert accepted["discharge"]["hospital_ods_code"] == "RXM01"  # R-OB-5 counts from this discharge
    assert is_valid_register_id(accepted["register_id"])
    [published] = service.uow.published
    assert published.envelope.causation_id == str(envelope.event_id)
    assert service.store.people[accepted["register_id"]]["nhs_number"] == NHS_NUMBER


async def test_r_elig_4_a_discharge_of_someone_on_the_register_refers_nobody_r_rag_4_is_the_rating_services(service):
    await service.intake.submit(referral(), REFERRER, "c-1")
    await service.discharges.discharged(envelope_of(discharge()), discharge())
    assert service.event_types() == ["ReferralAccepted"]


async def test_r_elig_4_r_id_1_a_removed_person_discharged_is_referred_again_under_the_same_register_id(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    await remove(service, first.register_id)
    await service.discharges.discharged(envelope_of(discharge()), discharge())
    assert [e["register_id"] for e in service.events("ReferralAccepted")] == [first.register_id] * 2
    assert "removed_at" not in service.store.people[first.register_id]


async def test_r_elig_4_a_discharge_is_judged_where_the_person_stood_at_its_time_by_the_newest_timeline(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    register_id, removed_at = first.register_id, NOW + timedelta(days=40)
    entered = Transition(transition_id=uuid.uuid4(), at=NOW, from_rating=None, to_rating=Rating.AMBER, cause="referral")
    left = Transition(
        transition_id=uuid.uuid4(), at=removed_at, from_rating=Rating.GREEN, to_rating=None, cause="removal"
    )
    removal = PersonRemoved(
        register_id=register_id,
        removed_by="system",
        cause="green_month_ended",
        timeline=[entered, left],
        timeline_version=3,
    )
    await service.people.removed(envelope_of(removal, removed_at), removal)
    service.clock.advance(timedelta(days=45))

    # Late: discharged on day 20, when the person was on the register (R-RAG-4 is the rating service's).
    late = Discharged(nhs_number=NHS_NUMBER, discharged_at=NOW + timedelta(days=20), hospital_ods_code="RXM01")
    await service.discharges.discharged(envelope_of(late, late.discharged_at), late)
    assert service.event_types() == ["ReferralAccepted"]

    # An older timeline heard again changes nothing; a newer one without the removal makes it untrue.
    changed = RatingChanged(
        register_id=register_id,
        from_rating=Rating.GREEN,
        to_rating=Rating.BLUE,
        rationale="Admitted.",
        changed_by="system",
        cause="admission",
        cohort=Cohort.ADULT,
        timeline=[entered],
        timeline_version=4,
    )
    await service.people.rating_changed(envelope_of(changed), changed)
    await service.people.removed(envelope_of(removal, removed_at), removal)
    assert "removed_at" not in service.store.people[register_id]
    after = Discharged(nhs_number=NHS_NUMBER, discharged_at=NOW + timedelta(days=44), hospital_ods_code="RXM01")
    await service.discharges.discharged(envelope_of(after, after.discharged_at), after)
    assert service.event_types() == ["ReferralAccepted"]


def _moved(at: datetime, to_rating: Rating | None, from_rating: Rating | None = None, cause: str = "referral"):
    return Transition(transition_id=uuid.uuid4(), at=at, from_rating=from_rating, to_rating=to_rating, cause=cause)


async def referred_back(service: Service, register_id: str, before: list[Transition], at: datetime) -> None:
    """The rating service's timeline (version 3) with an automatic referral on a discharge at `at`."""
    changed = RatingChanged(
        register_id=register_id,
        from_rating=None,
        to_rating=Rating.AMBER,
        rationale="r",
        changed_by="system",
        cause="discharge",
        cohort=Cohort.ADULT,
        timeline=[*before, _moved(at, Rating.AMBER, None, "discharge")],
        timeline_version=3,
    )
    await service.people.rating_changed(envelope_of(changed), changed)


async def test_r_elig_4_a_discharge_judged_on_the_register_refers_them_when_a_late_removal_had_them_off(service):
    """Found by the chaos run: the rating service recorded the end of a green
    month (day 30) after the referral service had read a discharge of day 35,
    when the person still seemed on the register."""
    register_id = (await service.intake.submit(referral(), REFERRER, "c-1")).register_id
    on_day_35 = Discharged(nhs_number=NHS_NUMBER, discharged_at=NOW + timedelta(days=35), hospital_ods_code="RXM01")
    await service.discharges.discharged(envelope_of(on_day_35, on_day_35.discharged_at), on_day_35)
    assert service.event_types() == ["ReferralAccepted"]  # on the register then, as far as was known

    entered, ended = _moved(NOW, Rating.GREEN), _moved(NOW + timedelta(days=30), None, Rating.GREEN, "removal")
    removal = PersonRemoved(
        register_id=register_id,
        removed_by="system",
        cause="green_month_ended",
        timeline=[entered, ended],
        timeline_version=2,
    )
    envelope = envelope_of(removal, ended.at)
    await service.people.removed(envelope, removal)
    await service.people.removed(envelope, removal)  # delivered twice: once
    accepted = service.events("ReferralAccepted")
    assert len(accepted) == 2 and accepted[1]["register_id"] == register_id
    assert accepted[1]["discharge"]["discharged_at"] == on_day_35.discharged_at.isoformat().replace("+00:00", "Z")
    person = service.store.people[register_id]
    assert "removed_at" not in person and not person["discharges_while_on"]

    # The rating service's next timeline (back on at day 35) refers nobody again.
    await referred_back(service, register_id, [entered, ended], on_day_35.discharged_at)
    assert len(service.events("ReferralAccepted")) == 2


async def test_r_elig_4_of_two_discharges_while_off_the_register_the_earlier_refers_them_whatever_the_order(service):
    register_id = (await service.intake.submit(referral(), REFERRER, "c-1")).register_id
    entered, left = _moved(NOW, Rating.AMBER), _moved(NOW + timedelta(days=1), None, Rating.AMBER, "removal")
    removal = PersonRemoved(
        register_id=register_id,
        removed_by="dsr.team@example.org",
        cause="dsr_team",
        timeline=[entered, left],
        timeline_version=2,
    )
    await service.people.removed(envelope_of(removal, left.at), removal)
    early, late = (
        Discharged(nhs_number=NHS_NUMBER, discharged_at=NOW + timedelta(days=d), hospital_ods_code="RXM01")
        for d in (5, 9)
    )
    await service.discharges.discharged(envelope_of(late, late.discharged_at), late)  # read first: referred
    await service.discharges.discharged(envelope_of(early, early.discharged_at), early)  # back on: kept
    await service.discharges.discharged(envelope_of(early, early.discharged_at), early)  # its twin: kept too
    assert len(service.events("ReferralAccepted")) == 2

    # The timeline with the late one's referral: the early discharge had them off the register.
    await referred_back(service, register_id, [entered, left], late.discharged_at)
    times = [e["discharge"]["discharged_at"] for e in service.events("ReferralAccepted")[1:]]
    assert times == [d.discharged_at.isoformat().replace("+00:00", "Z") for d in (late, early)]


async def test_r_id_2_a_discharge_with_an_invalid_nhs_number_is_refused_for_the_dead_letter_topic(service):
    with pytest.raises(ValueError, match="R-ID-2"):
        await service.discharges.discharged(envelope_of(discharge("1234567890")), discharge("1234567890"))
    assert service.uow.published == [] and service.store.people == {}


async def test_r_elig_4_r_ob_10_the_dsr_teams_full_referral_completes_an_automatic_record_and_announces_the_age_band(
    service,
):
    await service.discharges.discharged(envelope_of(discharge()), discharge())
    [automatic] = service.events("ReferralAccepted")

    # Someone else's full referral is a further referral; the DSR team's completes the record, once.
    assert (await service.intake.submit(referral(), REFERRER, "c-1")).outcome == "sent_to_dsr_team"
    completed = await service.intake.submit(referral(born="2009-03-03"), DSR_TEAM, "c-2")
    assert completed.outcome == "record_completed" and completed.register_id == automatic["register_id"]
    [band] = service.events("AgeBandChanged")
    # Born 3 March 2009: 16 on 2 March 2026 (a child or young person), as of the area's today.
    assert band == {"register_id": automatic["register_id"], "age_band": "cyp", "effective_on": "2026-03-02"}
    assert "2009" not in str(service.uow.published)  # the date of birth stays here
    again = await service.intake.submit(referral(), DSR_TEAM, "c-3")
    assert again.outcome == "sent_to_dsr_team"


# R-OB-10: age bands move on as people grow older -----------------------------


def birthday(born: date, years: int) -> date:
    """Independent of the code's own age arithmetic: a 29 February birthday comes on 1 March."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


@pytest.mark.parametrize(
    ("born", "years", "band"),
    [(date(2008, 3, 4), 18, "young_adult"), (date(2001, 3, 5), 25, "adult"), (date(2012, 2, 29), 18, "young_adult")],
)
async def test_r_ob_10_an_age_band_change_is_announced_once_on_the_birthday_without_the_date_of_birth(
    service, born, years, band
):
    answer = await service.intake.submit(referral(born=born.isoformat()), REFERRER, "c-1")
    assert await service.age_bands.announce() == 0  # nothing has changed yet
    turns = birthday(born, years)

    service.clock.advance(datetime(turns.year, turns.month, turns.day, 9, tzinfo=UTC) - NOW - timedelta(days=1))
    assert await service.age_bands.announce() == 0  # the day before
    service.clock.advance(timedelta(days=1))
    assert await service.age_bands.announce() == 1
    assert await service.age_bands.announce() == 0  # checked today already
    service.clock.advance(timedelta(days=1))
    assert await service.age_bands.announce() == 0  # announced already

    [changed] = service.events("AgeBandChanged")
    assert changed == {"register_id": answer.register_id, "age_band": band, "effective_on": turns.isoformat()}


async def test_r_ob_10_no_age_band_is_announced_for_an_automatic_record_or_a_removed_person(service):
    await service.discharges.discharged(envelope_of(discharge()), discharge())
    first = await service.intake.submit(referral(nhs_number=OTHER_NHS_NUMBER, born="2008-03-04"), REFERRER, "c-1")
    await remove(service, first.register_id)
    service.clock.advance(timedelta(days=3))
    assert await service.age_bands.announce() == 0
    assert service.events("AgeBandChanged") == []


# The current address, and who a person is ------------------------------------


async def test_r_elig_3_a_changed_address_says_whether_it_alone_ties_the_person_to_the_area(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    moved = await service.people.change_address(
        first.register_id, Address(line1="9 Far Road", postcode="M1 1AE"), "dsr-1"
    )
    assert moved is not None and moved.in_area is False  # nobody is removed for it
    home = await service.people.change_address(
        first.register_id, Address(line1="2 Near Road", postcode="DE22 3LZ"), "dsr-1"
    )
    assert home is not None and home.in_area is True
    assert (
        await service.people.change_address("QJ2-0000-0000-0", Address(line1="x", postcode="DE1 1AA"), "dsr-1") is None
    )
    assert service.uow.events("ReferralAccepted") == service.uow.published  # addresses are never published
    details = await service.people.details(first.register_id)
    assert details["address"]["postcode"] == "DE22 3LZ" and details["family_name"] == "Testperson"


async def test_who_may_act_on_a_person_referrers_and_listed_professionals_and_search_by_nhs_number_or_name(service):
    first = await service.intake.submit(referral(), REFERRER, "c-1")
    listed = ProfessionalsChanged.model_validate(
        {
            "register_id": first.register_id,
            "changed_by": "dsr-1",
            "professionals": [{"name": "Kit Casey", "role": "Nurse", "email": "kit.casey@example.org"}],
        }
    )
    await service.contacts.professionals_changed(envelope_of(listed), listed)
    contacts = await service.people.contacts(first.register_id)
    assert contacts.referrers == {"referrer-1", "sam.referrer@example.org"}
    assert contacts.professionals == {"kit.casey@example.org"}
    assert await service.people.contacts("QJ2-0000-0000-0") is None

    assert (await service.people.search(nhs_number=NHS_NUMBER))[0] == [first.register_id]
    ids, found = await service.people.search(family_name=" testPERSON ")
    assert ids == [first.register_id] and found[0]["nhs_number"] == NHS_NUMBER
    assert await service.people.search(family_name="Nobody") == ([], [])
