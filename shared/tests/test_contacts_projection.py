"""The contacts projection (dsr_shared/platform/contacts.py), on the real database and
in memory (the one the use-case tests use; the root conftest's `store`): the
same events in any order, each delivered twice, leave the same document; who
may see whom follows from it (dsr_shared/platform/access.py)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.platform.access import Contacts, PersonAccess
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.contacts import ContactsProjection, InMemoryContacts

T0 = datetime(2027, 3, 1, 9, tzinfo=timezone.utc)
REGISTER_ID = "QJ2-TEST-0001-A"


def envelope(event, at: datetime):
    return new_envelope(
        event_type=event.EVENT_TYPE, schema_version=1, occurred_at=at, area="QJ2", data=event.model_dump(mode="json")
    )


def accepted(referrer: str, by: str, professionals: list[dict], at: datetime):
    event = ReferralAccepted(
        referral_id=uuid.uuid4(),
        register_id=REGISTER_ID,
        initial_rating="amber",
        rating_rationale="r",
        cohort="adult",
        age_band="adult",
        nhs_number_hash="h" * 64,
        referrer_email=referrer,
        accepted_by=by,
        professionals=professionals,
    )
    return envelope(event, at), event


def changed(professionals: list[dict], at: datetime):
    event = ProfessionalsChanged(register_id=REGISTER_ID, professionals=professionals, changed_by="x@example.org")
    return envelope(event, at), event


def professional(email: str, case_holder: bool = False) -> dict:
    return {"name": "N", "role": "R", "email": email, "case_holder": case_holder}


async def apply(projection: ContactsProjection | InMemoryContacts, item) -> None:
    env, event = item
    if isinstance(event, ReferralAccepted):
        await projection.referral_accepted(env, event)
    else:
        await projection.professionals_changed(env, event)


@pytest.fixture
def new_projection(mongo_database):
    """A fresh, empty projection at each call: in memory, or a collection of its own."""
    made = itertools.count()

    def new() -> ContactsProjection | InMemoryContacts:
        if mongo_database is None:
            return InMemoryContacts()
        projection = ContactsProjection(mongo_database)
        projection.contacts = mongo_database[f"contacts_{next(made)}"]
        return projection

    return new


async def test_any_order_twice_over_ends_the_same(new_projection):
    events = [
        accepted("First.Referrer@example.org", "first-sub", [professional("early@example.org")], T0),
        changed(
            [professional("Case.Holder@example.org", True), professional("other@example.org")], T0 + timedelta(days=1)
        ),
        accepted("second.referrer@example.org", "system:discharge", [], T0 + timedelta(days=2)),
        changed([professional("late@example.org", True)], T0 + timedelta(days=3)),
    ]
    ends = set()
    for order in itertools.permutations(events):
        projection = new_projection()
        for item in [*order, *reversed(order)]:
            await apply(projection, item)
        doc = await projection.document(REGISTER_ID)
        doc.pop("_id")
        doc["referrers"] = sorted(doc["referrers"])
        ends.add(repr(sorted(doc.items())))
    assert len(ends) == 1
    contacts = await projection.of(REGISTER_ID)
    assert contacts == Contacts.of(
        ["first.referrer@example.org", "first-sub", "second.referrer@example.org"], ["late@example.org"]
    )
    assert doc["referrer_email"] == "second.referrer@example.org"  # the latest referral's
    assert doc["case_holders"] == ["late@example.org"]
    assert await projection.of("QJ2-NONE-0000-A") is None

    def principal(email: str, *roles: Role) -> Principal:
        return Principal(subject=email, roles=frozenset(roles or (Role.REFERRER,)), email=email)

    access = PersonAccess(audit=None)  # type: ignore[arg-type]
    assert access.may_act(principal("Late@Example.org"), contacts)  # the current list, any case
    assert not access.may_act(principal("early@example.org"), contacts)  # a list replaced since
    assert access.may_act(principal("first-sub"), contacts)  # the submitting user
    assert not access.may_act(principal("system:discharge"), contacts)
    assert access.may_act(principal("team@example.org", Role.DSR_TEAM), contacts)
    assert not access.may_act(principal("team@example.org", Role.DSR_TEAM), None)  # no such record
    assert await projection.seen_by(principal("late@example.org")) == [REGISTER_ID]
    assert await projection.seen_by(principal("early@example.org")) == []
