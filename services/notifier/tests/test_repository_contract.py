"""The notifier's repositories keep one contract in memory (adapters/memory.py,
which the use-case tests rely on) and on MongoDB (adapters/): each check runs
on both (the root conftest's `store` fixture; the SecantusDB half in `make test`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_notifier.adapters.memory import MemoryNotificationStore, MemoryProjection
from dsr_notifier.adapters.notifications import DigestAlreadyMade, NotificationStore
from dsr_notifier.adapters.projection import Projection
from dsr_notifier.domain.recipients import Contacts

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
RID, OTHER = "QNC-7KD4-X9MQ-R", "QNC-8KD4-X9MQ-S"
LEASE = timedelta(seconds=60)


@pytest.fixture
def repositories(mongo_database):
    if mongo_database is None:
        return MemoryNotificationStore(), MemoryProjection()
    return NotificationStore(mongo_database), Projection(mongo_database)


async def claim(mail, owner: str, lease: timedelta = LEASE) -> list[dict]:
    return await mail.claim(owner, lease, await mail.due(10))


def row(register_id: str = RID, recipient: str = "a@example.org", created_at: datetime = AT) -> dict:
    return {
        "_id": str(uuid.uuid4()),
        "source_event_id": str(uuid.uuid4()),
        "source_event_type": "RatingChanged",
        "correlation_id": None,
        "register_id": register_id,
        "recipient": recipient,
        "template": "escalation",
        "context": {"to_rating": "red"},
        "created_at": created_at,
    }


async def test_an_email_is_queued_once_claimed_once_and_marked_sent_by_its_owner(repositories):
    mail, _ = repositories
    email = row()
    await mail.enqueue([email], None)
    await mail.enqueue([{**email, "recipient": "changed@example.org"}], None)
    [claimed] = await claim(mail, "me")
    assert (claimed["_id"], claimed["recipient"], claimed["attempts"], claimed["context"]) == (
        email["_id"],
        "a@example.org",
        1,
        {"to_rating": "red"},
    )
    assert await claim(mail, "other") == []
    assert await mail.mark_sent(email["_id"], "other", "Subject", AT, None) is False
    assert await mail.mark_sent(email["_id"], "me", "Subject", AT, None) is True
    shown = await mail.get(email["_id"])
    assert (shown["state"], shown["subject"], shown["sent_at"], shown["attempts"]) == ("sent", "Subject", AT, 1)
    assert "wake_at" not in shown and "context" not in shown
    assert await mail.get(str(uuid.uuid4())) is None


async def test_an_email_waits_for_its_retry_fails_for_good_and_can_be_requeued(repositories):
    mail, _ = repositories
    email = row()
    await mail.enqueue([email], None)
    await claim(mail, "me")
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await mail.retry_later(email["_id"], "me", "421 busy", later, alerted=True) is True
    shown = await mail.get(email["_id"])
    assert (shown["state"], shown["last_error"]) == ("pending", "421 busy")
    assert await claim(mail, "me") == []  # not before its time
    assert await mail.requeue(email["_id"]) is None  # only a failed one
    await mail.release([email["_id"]], "me")  # not claimed: nothing to give back
    assert (await mail.get(email["_id"]))["attempts"] == 1


async def test_an_email_claimed_by_another_since_it_was_read_is_not_claimed_again(repositories):
    mail, _ = repositories
    theirs, mine = row(), row()
    await mail.enqueue([theirs, mine], None)
    due = await mail.due(10)
    assert len(due) == 2 and len(await mail.due(1)) == 1
    [taken] = await mail.claim("other", LEASE, [d for d in due if d["_id"] == theirs["_id"]])
    assert taken["_id"] == theirs["_id"]
    assert [r["_id"] for r in await mail.claim("me", LEASE, due)] == [mine["_id"]]
    assert await mail.claim("me", LEASE, due) == []


async def test_a_failed_email_is_requeued_and_a_released_one_given_back(repositories):
    mail, _ = repositories
    failing, released = row(), row()
    await mail.enqueue([failing, released], None)
    assert len(await claim(mail, "me")) == 2
    assert await mail.mark_failed(failing["_id"], "other", "550", AT, None) is False
    assert await mail.mark_failed(failing["_id"], "me", "550 no such mailbox", AT, None) is True
    assert (await mail.get(failing["_id"]))["failed_at"] == AT
    requeued = await mail.requeue(failing["_id"])
    assert (requeued["state"], requeued["attempts"], "failed_at" in requeued) == ("pending", 1, False)
    await mail.release([released["_id"]], "me")
    shown = await mail.get(released["_id"])
    assert (shown["state"], shown["attempts"]) == ("pending", 0)
    assert {r["_id"] for r in await claim(mail, "me")} == {failing["_id"], released["_id"]}


async def test_the_record_of_what_was_sent_lists_newest_first_by_filter(repositories):
    mail, _ = repositories
    old, new, other = row(created_at=AT), row(created_at=AT + timedelta(hours=1)), row(OTHER, "b@example.org")
    await mail.enqueue([old, new, other], None)
    assert [r["_id"] for r in await mail.recent({"register_id": RID})] == [new["_id"], old["_id"]]
    assert [r["_id"] for r in await mail.recent({"register_id": RID}, limit=1)] == [new["_id"]]
    assert [r["_id"] for r in await mail.recent({"register_id": {"$in": [OTHER]}})] == [other["_id"]]
    assert [r["_id"] for r in await mail.recent({"recipient": "b@example.org", "state": "pending"})] == [other["_id"]]


async def test_a_meetings_digests_are_recorded_once(repositories):
    mail, _ = repositories
    assert await mail.digests_since(AT) == AT
    assert await mail.digests_since(AT + timedelta(days=1)) == AT
    assert await mail.digest_made("QNC:meeting") is False
    await mail.record_digest("QNC:meeting", AT, AT, None)
    assert await mail.digest_made("QNC:meeting") is True
    with pytest.raises(DigestAlreadyMade):
        await mail.record_digest("QNC:meeting", AT, AT, None)


async def test_who_stands_where_on_the_register(repositories):
    _, projection = repositories
    await projection.set_standing(RID, True, "green", None)
    await projection.set_standing(OTHER, True, "red", None)
    await projection.set_standing("QNC-9KD4-X9MQ-T", True, "green", None)
    assert await projection.rating_of(RID) == "green"
    assert await projection.on_register_by_rating() == {"red": [OTHER], "green": [RID, "QNC-9KD4-X9MQ-T"]}
    await projection.set_standing(RID, False, None, None)
    assert await projection.rating_of(RID) is None
    assert await projection.rating_of("QNC-0000-0000-0") is None


async def test_an_obligation_only_moves_forward_and_is_listed_while_pending(repositories):
    _, projection = repositories
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    fields = {
        "register_id": RID,
        "rule": "R-OB-11",
        "kind": "case_holder_update",
        "responsible": "case_holder",
        "due_at": AT + timedelta(days=2),
        "needs_own_consent": False,
        "state": "open",
        "updated_at": AT,
    }
    await projection.advance_obligations([(first, fields, [])])
    await projection.advance_obligations([(first, fields, [])])  # twice: the same
    await projection.advance_obligations(
        [
            (first, {**fields, "state": "overdue"}, ["open", "due"]),
            (first, {**fields, "state": "due"}, ["open"]),  # late: stays overdue
            (first, fields, []),  # late: stays overdue
            (second, {**fields, "state": "due", "due_at": AT + timedelta(days=1)}, ["open"]),
        ]
    )
    assert [o["_id"] for o in await projection.pending_by(AT + timedelta(days=3))] == [second, first]
    assert [o["_id"] for o in await projection.pending_by(AT + timedelta(days=1))] == [second]
    # In one write, in either order: the state only moves forward.
    await projection.advance_obligations(
        [
            (second, {**fields, "state": "overdue"}, ["open", "due"]),
            (second, {**fields, "state": "done"}, ["open", "due", "overdue"]),
            (second, {**fields, "state": "overdue"}, ["open", "due"]),  # late: stays done
        ]
    )
    await projection.advance_obligations([])
    [pending] = await projection.pending_by(AT + timedelta(days=3))
    assert (pending["_id"], pending["state"], pending["kind"]) == (first, "overdue", "case_holder_update")


async def test_contacts_keep_the_newest_referrer_and_professionals_whatever_the_order(repositories):
    _, projection = repositories

    def envelope(event, at):
        return new_envelope(
            event_type=event.EVENT_TYPE,
            schema_version=1,
            occurred_at=at,
            area="QNC",
            data=event.model_dump(mode="json"),
        )

    def professional(email: str, case_holder: bool = True) -> dict:
        return {"name": "Pat", "role": "Nurse", "email": email, "case_holder": case_holder}

    newer = ReferralAccepted(
        referral_id=uuid.uuid4(),
        register_id=RID,
        initial_rating="amber",
        rating_rationale="why",
        cohort="adult",
        age_band="adult",
        nhs_number_hash="h" * 64,
        referrer_email="New.Referrer@example.org",
        accepted_by="x",
        professionals=[professional("holder@example.org"), professional("other@example.org", False)],
    )
    older = newer.model_copy(update={"referrer_email": "old@example.org", "professionals": []})
    await projection.referral_accepted(envelope(newer, AT + timedelta(days=1)), newer, None)
    await projection.referral_accepted(envelope(older, AT), older, None)
    assert await projection.contacts_of(RID) == Contacts("new.referrer@example.org", ("holder@example.org",))
    late = ProfessionalsChanged(register_id=RID, professionals=[professional("late@example.org")], changed_by="x")
    await projection.professionals_changed(envelope(late, AT), late, None)
    assert (await projection.contacts_of(RID)).case_holders == ("holder@example.org",)
    await projection.professionals_changed(envelope(late, AT + timedelta(days=2)), late, None)
    assert await projection.contacts_for({RID, OTHER}) == {
        RID: Contacts("new.referrer@example.org", ("late@example.org",))
    }
    assert await projection.contacts_of(OTHER) == Contacts()


async def test_an_email_whose_sender_stopped_is_taken_over_and_says_so(repositories):
    mail, _ = repositories
    email = row()
    await mail.enqueue([email], None)
    [first] = await claim(mail, "stopped", timedelta(seconds=-1))  # a lease already run out
    assert not first.get("taken_over")
    [again] = await claim(mail, "me")
    assert (again["_id"], again["attempts"], again["taken_over"]) == (email["_id"], 2, True)
    assert (await mail.get(email["_id"]))["taken_over"] is True
    # Told again later (a retry), it is not taken over again: the row keeps the mark.
    assert await mail.retry_later(email["_id"], "me", "421 busy", AT, alerted=False) is True
    [later] = await claim(mail, "me")
    assert (later["attempts"], later["taken_over"]) == (3, False)
    assert (await mail.get(email["_id"]))["taken_over"] is True
