"""The register's store keeps one contract in memory (adapters/memory.py, what
the use-case tests run on) and on MongoDB (adapters/people.py, what the
service runs on): each test runs on both (the `store` fixture), so the
in-memory one cannot drift."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dsr_shared.contract.events import Rating
from dsr_shared.platform.db import VersionConflict
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.adapters.memory import InMemoryPeople
from dsr_rating.adapters.people import PeopleStore
from dsr_rating.domain import listing
from dsr_rating.domain.facts import Fact, ProfessionalsList, RemovalRequest, Update
from dsr_rating.domain.record import PersonRecord
from dsr_rating.service import ClaimMissing
from dsr_rating.views import summary_view

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
AREA = ServiceSettings(service_name="rating").area
CALENDAR = WorkingCalendar(AREA.working_time)


@pytest.fixture
async def people(mongo_database):
    if mongo_database is None:
        return InMemoryPeople()
    found = PeopleStore(mongo_database)
    await found.ensure_indexes()
    return found


def person(
    register_id: str, rating: str = "amber", *, cohort: str = "adult", digest: str | None = None, at: datetime = NOW
) -> PersonRecord:
    record = PersonRecord(
        register_id=register_id,
        nhs_number_hash=digest or f"hash-{register_id}",
        cohort=cohort,
        referrer_emails=["Case.Holder@example.org"],
    )
    record.add_fact(Fact(id=f"entry-{register_id}", kind="entry", at=at, by="r@example.org", rating=Rating(rating)))
    return record


def fact(kind: str, at: datetime, fact_id: str | None = None, **given) -> Fact:
    return Fact(id=fact_id or str(uuid.uuid4()), kind=kind, at=at, by="hospital:RX1", hospital_ods_code="RX1", **given)


async def save(people, record: PersonRecord) -> PersonRecord:
    await people.save(record, record.standing(AREA, CALENDAR), None)
    return record


async def test_a_record_reads_back_as_saved_and_a_stale_save_conflicts(people):
    record = person("QJ2-0001")
    record.add_update(Update(id=uuid.uuid4(), at=NOW, by="r@example.org", text="Visited."))
    record.add_fact(fact("admission", NOW + timedelta(hours=1)))
    await save(people, record)
    read = await people.get("QJ2-0001")
    assert read == record.model_copy(update={"version": record.next_version()})
    assert await people.by_nhs_number_hash("hash-QJ2-0001", None) == read
    assert await people.get("QJ2-0404") is None and await people.by_nhs_number_hash("nobody", None) is None
    read.add_fact(fact("discharge", NOW + timedelta(days=1)))
    await save(people, read)
    with pytest.raises(VersionConflict):
        await save(people, record)  # read before the change above
    with pytest.raises(VersionConflict):
        await save(people, person("QJ2-0001"))  # a second first save


async def test_listing_pages_and_counts(people):
    await save(people, person("QJ2-0003", "red"))
    await save(people, person("QJ2-0001", "amber", cohort="cyp"))
    await save(people, person("QJ2-0002", "amber", cohort="unknown"))
    removed = person("QJ2-0004")
    removed.add_fact(fact("removal", NOW + timedelta(hours=1)))
    await save(people, removed)

    async def ids(filters: listing.Filters, after: str | None = None, skip: int = 0, limit: int = 10) -> list[str]:
        return [doc["_id"] for doc in await people.page(listing.after_cursor(filters.query(), after), skip, limit)]

    assert await ids(listing.Filters()) == ["QJ2-0001", "QJ2-0002", "QJ2-0003"]
    assert await ids(listing.Filters(), after="QJ2-0001", limit=1) == ["QJ2-0002"]
    assert await ids(listing.Filters(), skip=2) == ["QJ2-0003"]
    assert await ids(listing.Filters(), limit=0) == []
    assert await ids(listing.Filters(rating="amber", needs_completion=False)) == ["QJ2-0001"]
    assert await ids(listing.Filters(needs_completion=True)) == ["QJ2-0002"]
    assert await ids(listing.Filters(cohort="cyp", needs_completion=True)) == []
    assert await ids(listing.Filters(register_ids=("QJ2-0003", "QJ2-0004")), after="QJ2-0001") == ["QJ2-0003"]
    assert await ids(listing.Filters(status="removed")) == ["QJ2-0004"]
    assert await ids(listing.Filters(in_hospital=False)) == ["QJ2-0001", "QJ2-0002", "QJ2-0003"]
    counts = listing.counts_of(await people.groups(listing.Filters().query()))
    assert (counts.total, counts.by_rating, counts.by_cohort) == (
        3,
        {"red": 1, "amber": 2},
        {"adult": 1, "cyp": 1, "unknown": 1},
    )
    [line] = await people.page({"_id": "QJ2-0003"}, 0, 1)
    assert summary_view(line) == summary_view(
        {
            "_id": "QJ2-0003",
            "status": "on_register",
            "rating": "red",
            "rating_since": NOW,
            "cohort": "adult",
            "age_band": "unknown",
        }
    )


async def test_green_months_over(people):
    await save(people, person("QJ2-0001", "green"))
    await save(people, person("QJ2-0002", "green", at=NOW + timedelta(days=5)))
    await save(people, person("QJ2-0003", "amber"))
    green_until = (await people.get("QJ2-0001")).standing(AREA, CALENDAR).green_until
    assert await people.green_month_over(green_until - timedelta(seconds=1)) == []
    assert await people.green_month_over(green_until) == ["QJ2-0001"]


async def test_a_claim_must_be_prepared(people):
    with pytest.raises(ClaimMissing):
        await people.claim("digest", None)
    await people.prepare_claim("digest")
    await people.prepare_claim("digest")
    await people.claim("digest", None)
    await people.claim("digest", None)


async def test_hospital_events_kept_for_someone_not_on_the_register(people):
    admission = fact("admission", NOW, "b-admission")
    twin = fact("admission", NOW, "a-admission")  # the same admission under a smaller id
    await people.keep_unmatched("digest", admission, None)
    await people.keep_unmatched("digest", admission, None)  # delivered twice: kept once
    await people.keep_unmatched("digest", twin, None)
    await people.keep_unmatched("other", fact("discharge", NOW - timedelta(days=1)), None)
    assert [(f.kind, f.id) for f in await people.list_unmatched()][1:] == [("admission", "a-admission")]
    assert sorted(f.id for f in await people.take_unmatched("digest", None)) == ["a-admission", "b-admission"]
    assert await people.take_unmatched("digest", None) == []
    assert [f.kind for f in await people.list_unmatched()] == ["discharge"]


async def test_removed_in_hospital_caseload_and_removal_requests(people):
    in_hospital = person("QJ2-0001")
    in_hospital.add_fact(fact("admission", NOW + timedelta(hours=1)))
    in_hospital.add_fact(Fact(id="removal", kind="removal", at=NOW + timedelta(hours=2), by="dsr@example.org"))
    await save(people, in_hospital)
    kept = person("QJ2-0002")
    kept.set_professionals(
        ProfessionalsList(
            id="p",
            at=NOW,
            by="r@example.org",
            professionals=[{"name": "A", "role": "Nurse", "email": "Nurse.A@example.org", "case_holder": True}],
        )
    )
    kept.add_removal_request(RemovalRequest(id="q", at=NOW + timedelta(hours=1), by="r@example.org"))
    await save(people, kept)
    await save(people, person("QJ2-0003"))
    assert await people.removed_in_hospital() == ["QJ2-0001"]
    assert [d["_id"] for d in await people.keeping(frozenset({"nurse.a@example.org"}))] == ["QJ2-0002"]
    assert [d["_id"] for d in await people.keeping(frozenset({"case.holder@example.org"}))] == ["QJ2-0002", "QJ2-0003"]
    [doc] = await people.keeping(frozenset({"nurse.a@example.org"}))
    assert doc["professionals"]["professionals"][0]["email"] == "Nurse.A@example.org"
    assert [r.register_id for r in await people.with_removal_requests()] == ["QJ2-0002"]


async def test_a_merge_is_kept_once_until_resolved(people):
    record = await save(people, person("QJ2-0001"))
    for _ in range(2):
        await people.keep_merge("kept", "merged", None, record, "RX1", NOW, "event-1", None)
    [waiting] = await people.list_merges()
    assert (waiting["kept_register_id"], waiting["merged_register_id"], waiting["merged_at"]) == (None, "QJ2-0001", NOW)
    resolved = await people.resolve_merge(waiting["_id"], "dsr@example.org", "Checked.", NOW + timedelta(days=1))
    assert (resolved["resolved_by"], resolved["note"], resolved["resolved_at"]) == (
        "dsr@example.org",
        "Checked.",
        NOW + timedelta(days=1),
    )
    assert await people.resolve_merge(waiting["_id"], "dsr@example.org", "Again.", NOW) is None
    assert await people.list_merges() == [] and len(await people.list_merges(resolved=True)) == 1
