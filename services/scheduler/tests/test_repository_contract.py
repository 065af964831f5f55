"""The scheduler's repositories keep one contract (service/ports.py): the
in-memory ones the use-case tests run on (adapters/memory.py) and the
MongoDB ones the service runs on (adapters/obligations.py, the shared contacts
projection). Each test runs on both (the `store` fixture); the database half
in `make test`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.contacts import ContactsProjection, InMemoryContacts
from dsr_scheduler.adapters.memory import InMemoryObligations
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.domain.obligations import Listing, Obligation

# Whole seconds: the database keeps milliseconds.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
async def repositories(mongo_database):
    if mongo_database is None:
        return InMemoryObligations(), InMemoryContacts()
    obligations = ObligationStore(mongo_database)
    await obligations.ensure_indexes()
    return obligations, ContactsProjection(mongo_database)


@pytest.fixture
def obligations(repositories):
    return repositories[0]


@pytest.fixture
def contacts(repositories):
    return repositories[1]


def obligation(
    register_id: str = "P-1",
    *,
    rule: str = "R-OB-4",
    kind: str = "follow_up_dsp_meeting",
    state: str = "open",
    due_in_days: int = 10,
) -> Obligation:
    due_at = T0 + timedelta(days=due_in_days)
    return Obligation(
        obligation_id=uuid.uuid4(),
        register_id=register_id,
        rule=rule,
        kind=kind,
        title="t",
        responsible="dsr_team",
        started_at=T0,
        due_at=due_at,
        notice_at=due_at - timedelta(days=2),
        state=state,
        triggered_by_event_id=uuid.uuid4(),
    )


async def test_obligations_are_added_read_and_replaced(obligations):
    first, second, other = obligation(), obligation(state="done"), obligation("P-2")
    await obligations.add_all([first, second, other], None)
    await obligations.add_all([], None)
    assert await obligations.get(str(first.obligation_id)) == first
    assert await obligations.get(str(uuid.uuid4())) is None
    assert {o.obligation_id for o in await obligations.all_for("P-1", None)} == {
        first.obligation_id,
        second.obligation_id,
    }
    assert await obligations.active_for("P-1", None) == [first]
    with pytest.raises(Exception):  # noqa: B017 - a duplicate key, as each store reports it
        await obligations.add_all([first], None)

    cancelled = first.model_copy(update={"state": "cancelled", "cancelled_reason": "r", "ended_at": T0})
    await obligations.replace(cancelled, None)
    assert await obligations.get(str(first.obligation_id)) == cancelled
    again = [cancelled.model_copy(update={"generation": 1}), other.model_copy(update={"state": "due"})]
    await obligations.replace_all(again, None)
    assert [await obligations.get(str(o.obligation_id)) for o in again] == again
    stranger = obligation("P-3")
    await obligations.replace(stranger, None)  # replacing what is not held adds nothing
    assert await obligations.get(str(stranger.obligation_id)) is None


async def test_a_listing_shows_what_it_asks_for_soonest_due_first(obligations):
    late, soon = obligation(due_in_days=20), obligation(due_in_days=5)
    update = obligation(rule="R-OB-11", kind="case_holder_update", due_in_days=10)
    withdrawn = obligation(state="withdrawn", due_in_days=1)
    others = obligation("P-2", due_in_days=3)
    await obligations.add_all([late, soon, update, withdrawn, others], None)

    async def shown(limit: int = 100, **query) -> list[uuid.UUID]:
        return [o.obligation_id for o in await obligations.listing(Listing(**query), limit)]

    assert await shown() == [others.obligation_id, soon.obligation_id, update.obligation_id, late.obligation_id]
    assert await shown(people=frozenset({"P-1"})) == [soon.obligation_id, update.obligation_id, late.obligation_id]
    assert await shown(people=frozenset({"P-1", "P-2"}), limit=2) == [others.obligation_id, soon.obligation_id]
    assert await shown(people=frozenset()) == []
    assert await shown(state="withdrawn") == [withdrawn.obligation_id]
    assert await shown(kind="case_holder_update") == await shown(rule="R-OB-11") == [update.obligation_id]
    assert await shown(due_before=T0 + timedelta(days=10)) == [others.obligation_id, soon.obligation_id]
    assert await obligations.count(Listing(people=frozenset({"P-1"}))) == 3
    assert await obligations.count(Listing()) == 4


async def test_the_sweep_finds_what_has_come_and_claims_each_move_once(obligations):
    come, later = obligation(due_in_days=1), obligation(due_in_days=30)
    await obligations.add_all([later, come], None)
    now = T0 + timedelta(days=1)
    assert await obligations.ids_to_announce("open", "notice_at", now, 10) == [str(come.obligation_id)]
    assert await obligations.ids_to_announce("due", "due_at", now, 10) == []
    moved = await obligations.move(str(come.obligation_id), "open", "due", None)
    assert moved == come.model_copy(update={"state": "due"})
    assert await obligations.move(str(come.obligation_id), "open", "due", None) is None  # claimed already
    assert await obligations.ids_to_announce("due", "due_at", now, 10) == [str(come.obligation_id)]
    assert await obligations.count_due_and_overdue() == {"due": 1, "overdue": 0}
    assert [o.obligation_id for o in await obligations.pending_until(now, 10)] == [come.obligation_id]
    assert len(await obligations.pending_until(T0 + timedelta(days=30), 10)) == 2


async def test_the_people_the_scheduler_knows(obligations):
    await obligations.set_person("P-2", {"on_register": True, "rating": "amber"}, None)
    await obligations.set_person("P-1", {"on_register": True, "rating": "red", "timeline_version": 3}, None)
    await obligations.set_person("P-3", {"on_register": False}, None)
    await obligations.set_person("P-1", {"rating_since": T0}, None)
    assert await obligations.person("P-1", None) == {
        "_id": "P-1",
        "on_register": True,
        "rating": "red",
        "timeline_version": 3,
        "rating_since": T0,
    }
    assert await obligations.person("P-9", None) is None
    assert [p["_id"] for p in await obligations.people_on_register()] == ["P-1", "P-2"]


async def test_only_a_newer_timeline_changes_the_person(obligations):
    assert await obligations.newer_timeline("P-1", 2, {"rating": "amber"}, None)  # first heard of
    assert not await obligations.newer_timeline("P-1", 2, {"rating": "blue"}, None)  # the same again
    assert not await obligations.newer_timeline("P-1", 1, {"rating": "green"}, None)  # older
    assert await obligations.newer_timeline("P-1", 3, {"rating": "red"}, None)
    await obligations.set_person("P-2", {"on_register": True}, None)  # known, no timeline yet
    assert await obligations.newer_timeline("P-2", 0, {"rating": "blue"}, None)
    assert await obligations.person("P-1", None) == {"_id": "P-1", "rating": "red", "timeline_version": 3}
    assert await obligations.person("P-2", None) == {
        "_id": "P-2",
        "on_register": True,
        "rating": "blue",
        "timeline_version": 0,
    }


def envelope(event, at: datetime):
    return new_envelope(
        event_type=event.EVENT_TYPE,
        schema_version=event.SCHEMA_VERSION,
        occurred_at=at,
        area="QJ2",
        data=event.model_dump(mode="json"),
    )


async def test_contacts_say_who_may_see_whom_and_the_newest_list_wins(contacts):
    accepted = ReferralAccepted.model_validate(
        {
            "referral_id": str(uuid.uuid4()),
            "register_id": "P-1",
            "initial_rating": "amber",
            "rating_rationale": "r",
            "cohort": "adult",
            "age_band": "adult",
            "nhs_number_hash": "h" * 64,
            "referrer_email": "Ref@Example.org",
            "accepted_by": "system:QJ2",
            "professionals": [{"name": "N", "role": "Nurse", "email": "old@example.org"}],
        }
    )
    await contacts.referral_accepted(envelope(accepted, T0), accepted, None)
    newer = ProfessionalsChanged.model_validate(
        {
            "register_id": "P-1",
            "changed_by": "x",
            "professionals": [{"name": "N", "role": "Nurse", "email": "new@example.org", "case_holder": True}],
        }
    )
    older = ProfessionalsChanged.model_validate({"register_id": "P-1", "changed_by": "x", "professionals": []})
    await contacts.professionals_changed(envelope(newer, T0 + timedelta(hours=2)), newer, None)
    await contacts.professionals_changed(envelope(older, T0 + timedelta(hours=1)), older, None)

    known = await contacts.of("P-1")
    assert known.referrers == {"ref@example.org"} and known.professionals == {"new@example.org"}
    assert await contacts.of("P-2") is None
    for email, seen in (("ref@example.org", ["P-1"]), ("new@example.org", ["P-1"]), ("old@example.org", [])):
        assert await contacts.seen_by(Principal("s", frozenset({Role.REFERRER}), email=email)) == seen
