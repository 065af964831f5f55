"""What a rating demands does not depend on the order facts arrive in, nor on
what the register does not know yet (issue 11), on the whole stack, on both
area profiles: a discharge before its admission, an admission before the
referral, an automatic referral on discharge (R-ELIG-4) and its readmission
with the cohort not known yet, a young person who turns 18, and an admission
the hospital cancelled (issue 17), read after it or before it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from dsr_testing.register_world import TEAM, World, running_world
from dsr_testing.support import eventually

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module", params=["derbyshire", "staffordshire"])
async def world(request, infra, identity, tmp_path_factory):
    async with running_world(infra, identity, tmp_path_factory.mktemp(request.param), request.param) as running:
        yield running


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _causes(record: dict) -> list[tuple]:
    return [(h["from_rating"], h["to_rating"], h["cause"]) for h in record["history"] if h["took_effect"]]


async def _hospital_events(world: World, register_id: str, n: int) -> dict:
    async def probe():
        record = await world.record(register_id)
        return record if record and len(record["hospital_events"]) >= n else None

    return await eventually(probe, timeout=90)


async def test_a_discharge_read_before_its_admission_still_gives_the_admission_and_the_post_discharge_meeting(world):
    nhs = world.new_nhs_number()
    register_id = (await world.refer(nhs, "amber"))["register_id"]
    await world.wait_for_rules(register_id, "R-OB-3")
    entered = _at((await world.record(register_id))["history"][0]["at"])
    admitted_at, discharged_at = entered + timedelta(seconds=1), entered + timedelta(seconds=3)
    await world.discharge(nhs, discharged_at)
    await _hospital_events(world, register_id, 1)
    await world.admit(nhs, admitted_at)

    rules = await world.wait_for_rules(register_id, "R-OB-5")
    assert _at(rules["R-OB-5"]["due_at"]) == world.deadline(
        discharged_at.replace(microsecond=discharged_at.microsecond // 1000 * 1000), "R-OB-5"
    )
    record = await world.record(register_id)
    assert record["rating"] == "amber" and not record["in_hospital"]
    assert _causes(record) == [
        (None, "amber", "referral"),
        ("amber", "blue", "admission"),
        ("blue", "amber", "discharge"),
    ]
    # The admission's obligations were scheduled and then cancelled by the discharge.
    cancelled = {o["rule"] for o in await world.obligations(register_id, "cancelled")}
    assert {"R-OB-7", "R-OB-9"} <= cancelled
    await eventually(lambda: len(world.emails(register_id, "admission")) == 1, timeout=90)


async def test_a_referral_naming_someone_already_admitted_makes_them_blue_at_once(world):
    nhs = world.new_nhs_number()
    admitted_at = await world.now() - timedelta(hours=1)
    await world.admit(nhs, admitted_at)

    async def kept():
        answer = await world.http.get(f"{world.url('rating')}/hospital-events/unmatched", headers=TEAM)
        return any(
            e["kind"] == "admission"
            and _at(e["at"]) == admitted_at.replace(microsecond=admitted_at.microsecond // 1000 * 1000)
            for e in answer.json()["not_on_register"]
        )

    await eventually(kept, timeout=90)
    register_id = (await world.refer(nhs, "amber"))["register_id"]
    rules = await world.wait_for_rules(register_id, "R-OB-7", "R-OB-8", "R-OB-9")
    assert "R-OB-3" not in rules
    record = await world.record(register_id)
    assert record["rating"] == "blue" and record["in_hospital"]
    assert _causes(record) == [(None, "blue", "admission")]
    await eventually(lambda: len(world.emails(register_id, "admission")) == 1, timeout=90)


async def test_an_automatic_referral_on_discharge_gets_the_post_discharge_meeting_and_its_readmission_the_inpatient_reviews(
    world,
):
    nhs = world.new_nhs_number()
    discharged_at = await world.now() - timedelta(hours=2)
    await world.discharge(nhs, discharged_at)
    register_id = await world.register_id_of(nhs)

    rules = await world.wait_for_rules(register_id, "R-OB-5")
    assert "R-OB-3" not in rules
    exact = discharged_at.replace(microsecond=discharged_at.microsecond // 1000 * 1000)
    assert _at(rules["R-OB-5"]["started_at"]) == exact
    assert _at(rules["R-OB-5"]["due_at"]) == world.deadline(exact, "R-OB-5")
    record = await world.record(register_id)
    assert record["cohort"] == "unknown" and record["needs_completion"]
    queue = await world.http.get(f"{world.url('rating')}/register", params={"needs_completion": "true"}, headers=TEAM)
    assert register_id in {p["register_id"] for p in queue.json()["people"]}

    # Admitted again, cohort still unknown: the inpatient reviews on the stricter (CYP) deadlines.
    admitted_at = await world.now()
    await world.admit(nhs, admitted_at)
    rules = await world.wait_for_rules(register_id, "R-OB-7c", "R-OB-8c", "R-OB-9c")
    assert "R-OB-5" not in rules  # moot: a new admission; the next discharge sets its own
    await eventually(lambda: len(world.emails(register_id, "admission")) == 1, timeout=90)

    discharged_again = admitted_at + timedelta(minutes=1)
    await world.discharge(nhs, discharged_again)
    rules = await world.wait_for_rules(register_id, "R-OB-5")
    exact = discharged_again.replace(microsecond=discharged_again.microsecond // 1000 * 1000)
    assert _at(rules["R-OB-5"]["started_at"]) == exact


async def test_the_dsr_team_completes_an_automatic_referral_and_the_cohort_follows(world):
    nhs = world.new_nhs_number()
    await world.discharge(nhs, await world.now() - timedelta(hours=3))
    register_id = await world.register_id_of(nhs)
    await world.wait_for_rules(register_id, "R-OB-5")

    answer = await world.refer(nhs, "amber", date_of_birth="1979-05-04")
    assert answer["outcome"] == "record_completed" and answer["register_id"] == register_id

    async def completed():
        record = await world.record(register_id)
        return record if record["cohort"] == "adult" and not record["needs_completion"] else None

    await eventually(completed, timeout=90)
    await world.admit(nhs, await world.now())
    await world.wait_for_rules(register_id, "R-OB-7", "R-OB-8", "R-OB-9")


async def test_a_young_person_who_turns_18_becomes_an_adult_on_the_register(world):
    nhs = world.new_nhs_number()
    today = (await world.now()).date()
    birthday = date(today.year - 18, today.month, today.day) + timedelta(days=2)
    register_id = (await world.refer(nhs, "amber", date_of_birth=birthday.isoformat()))["register_id"]
    await world.wait_for_rules(register_id, "R-OB-3")
    assert (await world.record(register_id))["cohort"] == "cyp"

    await world.advance(timedelta(days=3))

    async def adult():
        record = await world.record(register_id)
        return record if record["cohort"] == "adult" else None

    await eventually(adult, timeout=120)
    adults = await world.http.get(f"{world.url('rating')}/register", params={"cohort": "adult"}, headers=TEAM)
    assert register_id in {p["register_id"] for p in adults.json()["people"]}

    admitted_at = await world.now()
    await world.admit(nhs, admitted_at)
    rules = await world.wait_for_rules(register_id, "R-OB-7", "R-OB-9")
    assert not {"R-OB-7c", "R-OB-9c"} & set(rules)
    exact = admitted_at.replace(microsecond=admitted_at.microsecond // 1000 * 1000)
    assert _at(rules["R-OB-7"]["due_at"]) == world.deadline(exact, "R-OB-7")


async def test_a_cancelled_admission_withdraws_what_it_demanded_whichever_arrives_first(world):
    """HL7 A11 through the gateway becomes AdmissionCancelled: the admission's
    transition drops out of the timeline, so what it demanded is withdrawn and
    what it ended is open again; no post-discharge meeting. Read before its
    admission, the cancellation gives the same end."""
    late, early = world.new_nhs_number(), world.new_nhs_number()
    people = {
        late: (await world.refer(late, "amber"))["register_id"],
        early: (await world.refer(early, "amber"))["register_id"],
    }
    stays = {}
    for nhs, register_id in people.items():
        await world.wait_for_rules(register_id, "R-OB-3")
        entered = _at((await world.record(register_id))["history"][0]["at"])
        stays[nhs] = (entered + timedelta(seconds=1), entered + timedelta(seconds=5))

    admitted_at, cancelled_at = stays[late]
    await world.admit(late, admitted_at)
    await world.wait_for_rules(people[late], "R-OB-7", "R-OB-9")
    await world.cancel_admission(late, admitted_at, cancelled_at)
    admitted_at, cancelled_at = stays[early]
    await world.cancel_admission(early, admitted_at, cancelled_at)
    await _hospital_events(world, people[early], 1)
    await world.admit(early, admitted_at)
    await _hospital_events(world, people[early], 2)

    async def settled(register_id: str):
        rules = await world.open_rules(register_id)
        return rules if "R-OB-3" in rules and not {"R-OB-5", "R-OB-7", "R-OB-9"} & set(rules) else None

    ends = {
        nhs: set(await eventually(lambda r=register_id: settled(r), timeout=90)) for nhs, register_id in people.items()
    }
    assert ends[late] == ends[early]
    answer = await world.http.get(
        f"{world.url('scheduler')}/obligations",
        headers=TEAM,
        params={"register_id": people[late], "state": "withdrawn"},
    )
    assert {"R-OB-7", "R-OB-9"} <= {o["rule"] for o in answer.json()["obligations"]}
    assert not {o["rule"] for o in await world.obligations(people[early])} & {"R-OB-5", "R-OB-7", "R-OB-9"}
    for register_id in people.values():
        record = await world.record(register_id)
        assert (record["rating"], record["in_hospital"]) == ("amber", False)
        assert _causes(record) == [(None, "amber", "referral"), ("amber", "amber", "admission_cancelled")]
