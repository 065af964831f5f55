"""Where referrals and the people they put on the register are stored. This
is the only store that holds names, dates of birth, addresses and NHS numbers.

A person's document (`_id` = register id, R-ID-1) lives as long as the
service: removal from the register marks it (`removed_at`, `removal`), and a
new referral returns the person under the same register id. It also keeps the
age band last announced for the person (`announced_age_band`, on
ReferralAccepted or AgeBandChanged) and the area day on which the age sweeper
last compared it with their age (`age_band_checked_on`, YYYY-MM-DD), and the
newest timeline heard from the rating service (`timeline_version`, and its
moves on and off the register, `register_moves`: R-ELIG-4 reads them), and
the discharges judged while the person was on the register
(`discharges_while_on`: event id, time, hospital, destination), which a newer
timeline may show they were off the register for.

A referral's outcome is `accepted` (it put the person on the register),
`rejected` (no person details kept), `sent_to_dsr_team` (the person was on the
register already: kept with their record, listed on the person's document in
`further_referrals`) or `record_completed` (the DSR team's full referral that
gave an automatically referred person's record its details, noted on the
person's document in `record_completed`). Records made before further
referrals were kept say `already_on_register`.

Idempotency keys (`submission_id`) belong to whoever submitted them
(`submitted_by`): another submitter's same key is another referral.

Writes within a use case's transaction take it as `transaction` (a client
session, from the unit of work). A write that meets a unique key already
taken raises `Conflict`, so that the use cases need not know the driver.
The in-memory twin the use-case tests use (adapters/memory.py) keeps the same
behaviour; tests/test_repository_contract.py holds both to it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from dsr_shared.platform.unit_of_work import Transaction


class Conflict(Exception):
    """A unique key already taken: the same submitter's key, or a person's
    NHS number or register id, written by another process meanwhile."""


class ReferralStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.referrals = db["referrals"]
        self.people = db["people"]

    async def ensure_indexes(self) -> None:
        await self._drop_global_submission_index()
        await self.referrals.create_index([("submitted_by", 1), ("submission_id", 1)], unique=True)
        await self.referrals.create_index([("register_id", 1), ("submitted_by", 1)])
        await self.people.create_index("nhs_number", unique=True)
        await self.people.create_index([("removed_at", 1), ("age_band_checked_on", 1)])

    async def _drop_global_submission_index(self) -> None:
        """Keys were once unique across submitters (a referrer reusing another's
        key got the other's referral); that index goes."""
        try:
            if "submission_id_1" in await self.referrals.index_information():
                await self.referrals.drop_index("submission_id_1")
        except OperationFailure:
            pass  # another process dropped it first

    async def by_submission(self, submission_id: str | None, submitted_by: str) -> dict[str, Any] | None:
        return await self.referrals.find_one({"submitted_by": submitted_by, "submission_id": submission_id})

    async def by_id(self, referral_id: str) -> dict[str, Any] | None:
        return await self.referrals.find_one({"_id": referral_id})

    async def referrers_of(self, register_id: str) -> list[str]:
        """Who submitted the referrals that put this person on the register, and the referrers they name."""
        cursor = self.referrals.find(
            {"register_id": register_id, "outcome": "accepted"}, projection={"submitted_by": 1, "referrer.email": 1}
        )
        found: list[str | None] = []
        async for doc in cursor:
            found += [doc.get("submitted_by"), (doc.get("referrer") or {}).get("email")]
        return [f for f in found if f]

    async def has_details(self, register_id: str) -> bool:
        """Whether a referral form with the person's details (date of birth and
        the rest) is kept for them: not so for a person referred only
        automatically on discharge (R-ELIG-4) until the DSR team completes them."""
        query = {**_WITH_DETAILS, "register_id": register_id}
        return await self.referrals.find_one(query, projection={"_id": 1}) is not None

    async def add_referral(self, doc: dict[str, Any], transaction: Transaction) -> None:
        try:
            await self.referrals.insert_one(doc, session=transaction)
        except DuplicateKeyError as taken:
            raise Conflict(str(taken)) from taken

    async def person(self, register_id: str, transaction: Transaction = None) -> dict[str, Any] | None:
        return await self.people.find_one({"_id": register_id}, session=transaction)

    async def person_by_nhs_number(self, nhs_number: str, transaction: Transaction = None) -> dict[str, Any] | None:
        return await self.people.find_one({"nhs_number": nhs_number}, session=transaction)

    async def keep_discharge(self, register_id: str, discharge: dict[str, Any], transaction: Transaction) -> None:
        """A discharge judged while the person was on the register (R-ELIG-4),
        kept to be judged again on a newer timeline."""
        await self.people.update_one(
            {"_id": register_id}, {"$addToSet": {"discharges_while_on": discharge}}, session=transaction
        )

    async def forget_discharge(self, register_id: str, event_id: str, transaction: Transaction) -> None:
        await self.people.update_one(
            {"_id": register_id}, {"$pull": {"discharges_while_on": {"event_id": event_id}}}, session=transaction
        )

    async def add_person(
        self,
        register_id: str,
        nhs_number: str,
        referral_id: str,
        at: datetime,
        transaction: Transaction,
        *,
        address: dict[str, Any] | None = None,
        by: str | None = None,
        age_band: str | None = None,
    ) -> None:
        """`age_band`: the band ReferralAccepted announces (None when it does not know it)."""
        doc: dict[str, Any] = {
            "_id": register_id,
            "nhs_number": nhs_number,
            "referral_id": referral_id,
            "on_register_since": at,
        }
        if address is not None:
            doc |= address_fields(address, at, by)
        if age_band is not None:
            doc["announced_age_band"] = age_band
        try:
            await self.people.insert_one(doc, session=transaction)
        except DuplicateKeyError as taken:
            raise Conflict(str(taken)) from taken

    async def return_person(
        self,
        register_id: str,
        referral_id: str,
        at: datetime,
        transaction: Transaction,
        *,
        address: dict[str, Any] | None = None,
        by: str | None = None,
        age_band: str | None = None,
    ) -> bool:
        """A removed person comes back on a new referral, under the same register id.
        False when they are no longer removed (another referral brought them back first).
        Without an `age_band` (ReferralAccepted says "unknown") the one announced
        before stays: the rating service keeps it too. Either way the age sweeper
        looks at the person again."""
        fields: dict[str, Any] = {"referral_id": referral_id, "on_register_since": at}
        if address is not None:
            fields |= address_fields(address, at, by)
        if age_band is not None:
            fields["announced_age_band"] = age_band
        result = await self.people.update_one(
            {"_id": register_id, "removed_at": {"$ne": None}},
            {"$set": fields, "$unset": {"removed_at": "", "removal": "", "age_band_checked_on": ""}},
            session=transaction,
        )
        return result.matched_count == 1

    async def complete_person(
        self,
        person: dict[str, Any],
        referral_id: str,
        at: datetime,
        transaction: Transaction,
        *,
        address: dict[str, Any],
        by: str,
        age_band: str,
    ) -> bool:
        """The DSR team's full referral completes an automatically referred
        person's record: its address becomes the current one and its age band
        the one announced. False when the person is no longer as read (removed,
        returned, or completed by another referral meanwhile)."""
        result = await self.people.update_one(
            {"_id": person["_id"], "referral_id": person["referral_id"], "removed_at": None, "record_completed": None},
            {
                "$set": {
                    **address_fields(address, at, by),
                    "announced_age_band": age_band,
                    "record_completed": {"referral_id": referral_id, "at": at, "by": by},
                },
                "$unset": {"age_band_checked_on": ""},
            },
            session=transaction,
        )
        return result.matched_count == 1

    async def note_further_referral(
        self, register_id: str, referral_id: str, at: datetime, transaction: Transaction
    ) -> bool:
        """A further referral is kept with the person's record. False when the
        person is no longer on the register (removed meanwhile)."""
        result = await self.people.update_one(
            {"_id": register_id, "removed_at": None},
            {"$push": {"further_referrals": {"referral_id": referral_id, "at": at}}},
            session=transaction,
        )
        return result.matched_count == 1

    async def mark_removed(
        self, register_id: str, at: datetime, removal: dict[str, Any], transaction: Transaction
    ) -> bool:
        """False when the person is unknown here or already removed. Every removal
        is also kept in `removals`, which a return to the register leaves alone."""
        result = await self.people.update_one(
            {"_id": register_id, "removed_at": None},
            {"$set": {"removed_at": at, "removal": removal}, "$push": {"removals": {"at": at, **removal}}},
            session=transaction,
        )
        return result.matched_count == 1

    async def keep_timeline(
        self, register_id: str, version: int, moves: list[dict[str, Any]], on_register: bool, transaction: Transaction
    ) -> bool:
        """The rating service's timeline of the person: its version and its moves
        on and off the register (`register_moves`). On the register by it: no
        longer removed (a late fact made the removal untrue; `removals` keeps the
        history). False when the person is unknown here or a newer timeline is
        kept already (the same version again is the same timeline)."""
        update: dict[str, Any] = {"$set": {"timeline_version": version, "register_moves": moves}}
        if on_register:
            update["$unset"] = {"removed_at": "", "removal": ""}
        result = await self.people.update_one(
            # None or not newer; `$not` rather than `$or`, which SecantusDB answers by a collection scan.
            {"_id": register_id, "timeline_version": {"$not": {"$gt": version}}},
            update,
            session=transaction,
        )
        return result.matched_count == 1

    async def due_an_age_check(self, today: date) -> list[dict[str, Any]]:
        """People on the register whose age band has not been compared with their age today."""
        projection = {"_id": 1, "referral_id": 1, "announced_age_band": 1}
        due: dict[str, dict[str, Any]] = {}
        # Never compared, then compared before today: two queries on the
        # (removed_at, age_band_checked_on) index, where one `$or` is a
        # collection scan in SecantusDB (270 ms at 3,000 people, against 6 ms).
        for checked in (None, {"$lt": today.isoformat()}):
            query = {"removed_at": None, "age_band_checked_on": checked}
            due |= {doc["_id"]: doc async for doc in self.people.find(query, projection=projection)}
        return list(due.values())

    async def births(self, register_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Date of birth and referral date (ISO text) from the latest referral
        that put the person on the register or completed their record; none for
        a person referred only automatically on discharge (R-ELIG-4)."""
        query = {**_WITH_DETAILS, "register_id": {"$in": register_ids}}
        projection = {"register_id": 1, "submission.person.date_of_birth": 1, "submission.referral_date": 1}
        found: dict[str, tuple[str, str]] = {}
        async for doc in self.referrals.find(query, projection=projection).sort([("submitted_at", 1), ("_id", 1)]):
            submission = doc["submission"]
            found[doc["register_id"]] = (submission["person"]["date_of_birth"], submission["referral_date"])
        return found

    async def announce_age_band(
        self, person: dict[str, Any], age_band: str, today: date, transaction: Transaction
    ) -> bool:
        """Record `age_band` as announced, only if the person is as the sweeper
        read them (same referral, same band, still on the register): False when
        another process announced it first, or a referral or removal came between."""
        result = await self.people.update_one(
            _as_read(person) | {"removed_at": None},
            {"$set": {"announced_age_band": age_band, "age_band_checked_on": today.isoformat()}},
            session=transaction,
        )
        return result.matched_count == 1

    async def age_checked(self, people: Iterable[dict[str, Any]], today: date, transaction: Transaction) -> None:
        """The sweeper compared these people's band with their age today and found nothing to announce."""
        updates = [UpdateOne(_as_read(p), {"$set": {"age_band_checked_on": today.isoformat()}}) for p in people]
        if updates:
            await self.people.bulk_write(updates, ordered=False, session=transaction)

    async def change_address(
        self, register_id: str, address: dict[str, Any], at: datetime, by: str, transaction: Transaction
    ) -> bool:
        result = await self.people.update_one(
            {"_id": register_id}, {"$set": address_fields(address, at, by)}, session=transaction
        )
        return result.matched_count == 1

    # Who a person is, for the people who may see it: the person's document
    # with their latest accepted referral's details.

    async def details(self, register_id: str) -> dict[str, Any] | None:
        person = await self.person(register_id)
        if person is None:
            return None
        referral = await self.referrals.find_one(
            {"register_id": register_id, "outcome": "accepted", "submission": {"$exists": True}},
            projection={"submission.person": 1},
            sort=[("submitted_at", -1)],
        )
        return person_details(person, (referral or {}).get("submission", {}).get("person", {}))

    async def by_family_name(self, family_name: str, limit: int = 50) -> list[str]:
        """The register ids of the people whose accepted referral names them so (exact, any case)."""
        pattern = {"$regex": f"^{re.escape(family_name.strip())}$", "$options": "i"}
        cursor = self.referrals.find(
            {"outcome": "accepted", "submission.person.family_name": pattern}, projection={"register_id": 1}
        ).limit(limit * 4)
        found: list[str] = []
        async for doc in cursor:
            if doc["register_id"] not in found:
                found.append(doc["register_id"])
        return found[:limit]


# Referrals whose form is the person's record (the date of birth and the rest).
_WITH_DETAILS: dict[str, Any] = {
    "outcome": {"$in": ["accepted", "record_completed"]},
    "submission.person.date_of_birth": {"$exists": True},
}


def _as_read(person: dict[str, Any]) -> dict[str, Any]:
    """A filter that matches the person's document only while it is as it was read."""
    return {
        "_id": person["_id"],
        "referral_id": person["referral_id"],
        "announced_age_band": person.get("announced_age_band"),
    }


def address_fields(address: dict[str, Any], at: datetime, by: str | None) -> dict[str, Any]:
    return {"address": address, "address_changed_at": at, "address_changed_by": by}


def person_details(person: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    return {
        "register_id": person["_id"],
        "nhs_number": person["nhs_number"],
        "given_name": submitted.get("given_name"),
        "family_name": submitted.get("family_name"),
        "date_of_birth": submitted.get("date_of_birth"),
        # The current address: changed over HTTP since the referral, or as referred.
        "address": person.get("address") or submitted.get("address"),
        "gp_practice_code": submitted.get("gp_practice_code"),
        "local_authority_code": submitted.get("local_authority_code"),
        "on_register_since": person.get("on_register_since"),
        "removed": person.get("removed_at") is not None,
    }
