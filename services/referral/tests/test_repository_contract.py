"""The referral service's store, one behaviour in two implementations: the
in-memory one the use-case tests run on (test_use_cases.py) and the MongoDB
one the service runs on (each test runs on both: the `store` fixture). Writes
are given no transaction here (None): each is its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dsr_referral.adapters.memory import InMemoryReferralStore
from dsr_referral.adapters.referrals import Conflict, ReferralStore

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
ADDRESS = {"line1": "1 Example Street", "postcode": "DE1 1AA"}


@pytest.fixture
async def people(mongo_database):
    if mongo_database is None:
        return InMemoryReferralStore()
    referrals = ReferralStore(mongo_database)
    await referrals.ensure_indexes()
    return referrals


def form(
    register_id: str,
    referral_id: str,
    *,
    outcome: str = "accepted",
    by: str = "referrer-1",
    born: str = "1990-04-12",
    family_name: str = "Testperson",
    at: datetime = AT,
) -> dict[str, Any]:
    return {
        "_id": referral_id,
        "submission_id": f"s-{referral_id}",
        "submitted_by": by,
        "submitted_at": at,
        "referrer": {"email": f"{by}@example.org"},
        "outcome": outcome,
        "register_id": register_id,
        "submission": {
            "referral_date": "2026-03-02",
            "person": {"family_name": family_name, "date_of_birth": born, "address": ADDRESS},
        },
    }


async def test_a_submitters_key_and_a_persons_nhs_number_are_taken_once(people):
    await people.add_referral(form("P1", "r1"), None)
    assert (await people.by_submission("s-r1", "referrer-1"))["_id"] == "r1"
    assert await people.by_submission("s-r1", "referrer-2") is None
    with pytest.raises(Conflict):
        await people.add_referral(form("P1", "r1b") | {"submission_id": "s-r1"}, None)
    await people.add_referral(
        form("P1", "r1c", by="referrer-2") | {"submission_id": "s-r1"}, None
    )  # another submitter's

    await people.add_person("P1", "9434765919", "r1", AT, None, address=ADDRESS, by="referrer-1", age_band="adult")
    with pytest.raises(Conflict):
        await people.add_person("P2", "9434765919", "r2", AT, None)
    person = await people.person_by_nhs_number("9434765919")
    assert person["_id"] == "P1" and person["announced_age_band"] == "adult" and person["address"] == ADDRESS
    assert (await people.by_id("r1"))["register_id"] == "P1" and await people.by_id("nope") is None


async def test_who_referred_and_whether_the_record_has_its_details(people):
    await people.add_person("P1", "9434765919", "auto", AT, None)
    auto = form("P1", "auto", by="system:discharge")
    del auto["submission"]
    await people.add_referral(auto, None)
    assert not await people.has_details("P1")
    await people.add_referral(form("P1", "further", outcome="sent_to_dsr_team", by="referrer-2"), None)
    assert not await people.has_details("P1")
    assert sorted(await people.referrers_of("P1")) == ["system:discharge", "system:discharge@example.org"]

    await people.add_referral(form("P1", "done", outcome="record_completed", by="dsr-1"), None)
    assert await people.has_details("P1")
    assert await people.births(["P1", "P9"]) == {"P1": ("1990-04-12", "2026-03-02")}


async def test_removal_return_completion_and_further_referrals_change_the_person_only_as_read(people):
    await people.add_person("P1", "9434765919", "r1", AT, None)
    assert await people.note_further_referral("P1", "r2", AT, None)
    assert await people.mark_removed("P1", AT, {"cause": "dsr_team"}, None)
    assert not await people.mark_removed("P1", AT, {"cause": "dsr_team"}, None)  # already removed
    assert not await people.mark_removed("P9", AT, {"cause": "dsr_team"}, None)  # unknown here
    assert not await people.note_further_referral("P1", "r3", AT, None)

    later = AT + timedelta(days=1)
    assert await people.return_person("P1", "r4", later, None, address=ADDRESS, by="referrer-2", age_band="cyp")
    assert not await people.return_person("P1", "r5", later, None)  # no longer removed
    person = await people.person("P1")
    assert person["referral_id"] == "r4" and person["announced_age_band"] == "cyp" and "removed_at" not in person
    assert len(person["removals"]) == 1 and [f["referral_id"] for f in person["further_referrals"]] == ["r2"]

    stale = person | {"referral_id": "r1"}
    assert not await people.complete_person(stale, "r6", later, None, address=ADDRESS, by="dsr-1", age_band="adult")
    assert await people.complete_person(person, "r6", later, None, address=ADDRESS, by="dsr-1", age_band="adult")
    assert not await people.complete_person(person, "r7", later, None, address=ADDRESS, by="dsr-1", age_band="adult")
    assert (await people.person("P1"))["record_completed"]["referral_id"] == "r6"


async def test_the_newest_timeline_is_kept_and_one_with_the_person_on_the_register_clears_their_removal(people):
    entered, left = {"at": AT, "on_register": True}, {"at": AT + timedelta(days=40), "on_register": False}
    await people.add_person("P1", "9434765919", "r1", AT, None)
    assert await people.keep_timeline("P1", 2, [entered, left], False, None)
    assert await people.mark_removed("P1", left["at"], {"cause": "green_month_ended"}, None)
    assert await people.keep_timeline("P1", 2, [entered, left], False, None)  # the same timeline again
    assert (await people.person("P1"))["removed_at"] == left["at"]  # off by it: the removal stays

    assert await people.keep_timeline("P1", 3, [entered], True, None)  # a late fact: never left
    assert not await people.keep_timeline("P1", 2, [entered, left], False, None)  # older: nothing changes
    assert not await people.keep_timeline("P9", 3, [entered], True, None)  # unknown here
    person = await people.person("P1")
    assert person["timeline_version"] == 3 and person["register_moves"] == [entered]
    assert "removed_at" not in person and "removal" not in person and len(person["removals"]) == 1


async def test_discharges_judged_on_the_register_are_kept_once_each_until_forgotten(people):
    await people.add_person("P1", "9434765919", "r1", AT, None)
    first = {"event_id": "e1", "discharged_at": AT, "hospital_ods_code": "RXM01", "destination": None}
    second = first | {"event_id": "e2", "discharged_at": AT + timedelta(days=3)}
    for kept in (first, second, first):  # the same one twice: once
        await people.keep_discharge("P1", kept, None)
    assert (await people.person("P1", None))["discharges_while_on"] == [first, second]
    await people.forget_discharge("P1", "e1", None)
    await people.forget_discharge("P1", "e9", None)  # not kept: nothing
    assert (await people.person("P1"))["discharges_while_on"] == [second]
    assert (await people.person_by_nhs_number("9434765919", None))["_id"] == "P1"


async def test_the_age_check_sees_each_person_once_a_day_and_announces_only_over_the_document_as_read(people):
    today = date(2026, 3, 2)
    await people.add_person("P1", "9434765919", "r1", AT, None, age_band="cyp")
    await people.add_person("P2", "4010232137", "r2", AT, None)
    due = sorted(await people.due_an_age_check(today), key=lambda p: p["_id"])
    assert due == [{"_id": "P1", "referral_id": "r1", "announced_age_band": "cyp"}, {"_id": "P2", "referral_id": "r2"}]

    assert await people.announce_age_band(due[0], "young_adult", today, None)
    assert not await people.announce_age_band(due[0], "young_adult", today, None)  # no longer as read
    await people.age_checked([due[1], due[0]], today, None)  # P1 changed since: left alone
    assert await people.due_an_age_check(today) == []
    assert sorted(p["_id"] for p in await people.due_an_age_check(today + timedelta(days=1))) == ["P1", "P2"]
    await people.mark_removed("P2", AT, {"cause": "dsr_team"}, None)
    assert [p["_id"] for p in await people.due_an_age_check(today + timedelta(days=1))] == ["P1"]


async def test_who_a_person_is_their_current_address_and_search_by_last_name(people):
    await people.add_person("P1", "9434765919", "r1", AT, None)
    await people.add_referral(form("P1", "r1", family_name="Testperson"), None)
    await people.add_referral(form("P1", "r2", family_name="Newname", at=AT + timedelta(days=1)), None)
    assert await people.by_family_name(" testperson ") == ["P1"]
    assert await people.by_family_name("Test") == []  # exact, any case

    details = await people.details("P1")
    assert details["family_name"] == "Newname" and details["address"] == ADDRESS and details["removed"] is False
    moved = {"line1": "9 Far Road", "postcode": "M1 1AE"}
    assert await people.change_address("P1", moved, AT, "dsr-1", None)
    assert not await people.change_address("P9", moved, AT, "dsr-1", None)
    assert (await people.details("P1"))["address"] == moved
    assert await people.details("P9") is None
