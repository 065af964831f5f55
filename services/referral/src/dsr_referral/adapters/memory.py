"""The referral service's stores in memory, for the use-case tests that run
in milliseconds (with dsr_shared.platform.unit_of_work.InMemoryUnitOfWork, which puts
their state back when a use case fails, as a rolled-back transaction would).
Same methods and behaviour as referrals.ReferralStore;
services/referral/tests/test_repository_contract.py holds both to it (the
contacts in memory are the other services': dsr_shared.platform.contacts.InMemoryContacts).
Documents are copied in and out, as the database does."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from dsr_shared.platform.unit_of_work import Transaction
from dsr_referral.adapters.referrals import Conflict, address_fields, person_details

# Outcomes whose form is the person's record (referrals._WITH_DETAILS).
_RECORD_OUTCOMES = ("accepted", "record_completed")


class InMemoryReferralStore:
    def __init__(self) -> None:
        self.referrals: dict[str, dict[str, Any]] = {}
        self.people: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def by_submission(self, submission_id: str | None, submitted_by: str) -> dict[str, Any] | None:
        return _first(
            r
            for r in self.referrals.values()
            if r.get("submitted_by") == submitted_by and r.get("submission_id") == submission_id
        )

    async def by_id(self, referral_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.referrals.get(referral_id))

    async def referrers_of(self, register_id: str) -> list[str]:
        found: list[str | None] = []
        for doc in self.referrals.values():
            if doc.get("register_id") == register_id and doc.get("outcome") == "accepted":
                found += [doc.get("submitted_by"), (doc.get("referrer") or {}).get("email")]
        return [f for f in found if f]

    async def has_details(self, register_id: str) -> bool:
        return any(r.get("register_id") == register_id for r in self._with_details())

    async def add_referral(self, doc: dict[str, Any], transaction: Transaction) -> None:
        if doc["_id"] in self.referrals or await self.by_submission(doc["submission_id"], doc["submitted_by"]):
            raise Conflict(f"referral {doc['_id']} or its submission is kept already")
        self.referrals[doc["_id"]] = copy.deepcopy(doc)

    async def person(self, register_id: str, transaction: Transaction = None) -> dict[str, Any] | None:
        return copy.deepcopy(self.people.get(register_id))

    async def person_by_nhs_number(self, nhs_number: str, transaction: Transaction = None) -> dict[str, Any] | None:
        return _first(p for p in self.people.values() if p["nhs_number"] == nhs_number)

    async def keep_discharge(self, register_id: str, discharge: dict[str, Any], transaction: Transaction) -> None:
        held = self.people.get(register_id)
        if held is not None and discharge not in held.setdefault("discharges_while_on", []):
            held["discharges_while_on"].append(copy.deepcopy(discharge))

    async def forget_discharge(self, register_id: str, event_id: str, transaction: Transaction) -> None:
        held = self.people.get(register_id)
        if held is not None:
            kept = held.get("discharges_while_on", [])
            held["discharges_while_on"] = [d for d in kept if d.get("event_id") != event_id]

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
        if register_id in self.people or await self.person_by_nhs_number(nhs_number):
            raise Conflict(f"person {register_id} or their NHS number is kept already")
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
        self.people[register_id] = copy.deepcopy(doc)

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
        person = self.people.get(register_id)
        if person is None or person.get("removed_at") is None:
            return False
        person |= {"referral_id": referral_id, "on_register_since": at}
        if address is not None:
            person |= copy.deepcopy(address_fields(address, at, by))
        if age_band is not None:
            person["announced_age_band"] = age_band
        for field in ("removed_at", "removal", "age_band_checked_on"):
            person.pop(field, None)
        return True

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
        held = self.people.get(person["_id"])
        if held is None or held.get("referral_id") != person["referral_id"] or held.get("removed_at") is not None:
            return False
        if held.get("record_completed") is not None:
            return False
        held |= copy.deepcopy(address_fields(address, at, by))
        held["announced_age_band"] = age_band
        held["record_completed"] = {"referral_id": referral_id, "at": at, "by": by}
        held.pop("age_band_checked_on", None)
        return True

    async def note_further_referral(
        self, register_id: str, referral_id: str, at: datetime, transaction: Transaction
    ) -> bool:
        held = self._on_register(register_id)
        if held is None:
            return False
        held.setdefault("further_referrals", []).append({"referral_id": referral_id, "at": at})
        return True

    async def mark_removed(
        self, register_id: str, at: datetime, removal: dict[str, Any], transaction: Transaction
    ) -> bool:
        held = self._on_register(register_id)
        if held is None:
            return False
        held["removed_at"], held["removal"] = at, dict(removal)
        held.setdefault("removals", []).append({"at": at, **removal})
        return True

    async def keep_timeline(
        self, register_id: str, version: int, moves: list[dict[str, Any]], on_register: bool, transaction: Transaction
    ) -> bool:
        held = self.people.get(register_id)
        if held is None or held.get("timeline_version", version) > version:
            return False
        held |= {"timeline_version": version, "register_moves": copy.deepcopy(moves)}
        if on_register:
            held.pop("removed_at", None)
            held.pop("removal", None)
        return True

    async def due_an_age_check(self, today: date) -> list[dict[str, Any]]:
        return [
            {k: p[k] for k in ("_id", "referral_id", "announced_age_band") if k in p}
            for p in self.people.values()
            if p.get("removed_at") is None and (p.get("age_band_checked_on") or "") < today.isoformat()
        ]

    async def births(self, register_ids: list[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for doc in sorted(self._with_details(), key=lambda r: (r["submitted_at"], r["_id"])):
            if doc.get("register_id") in register_ids:
                submission = doc["submission"]
                found[doc["register_id"]] = (submission["person"]["date_of_birth"], submission["referral_date"])
        return found

    async def announce_age_band(
        self, person: dict[str, Any], age_band: str, today: date, transaction: Transaction
    ) -> bool:
        held = self._as_read(person)
        if held is None or held.get("removed_at") is not None:
            return False
        held |= {"announced_age_band": age_band, "age_band_checked_on": today.isoformat()}
        return True

    async def age_checked(self, people: Iterable[dict[str, Any]], today: date, transaction: Transaction) -> None:
        for person in people:
            held = self._as_read(person)
            if held is not None:
                held["age_band_checked_on"] = today.isoformat()

    async def change_address(
        self, register_id: str, address: dict[str, Any], at: datetime, by: str, transaction: Transaction
    ) -> bool:
        held = self.people.get(register_id)
        if held is None:
            return False
        held |= copy.deepcopy(address_fields(address, at, by))
        return True

    async def details(self, register_id: str) -> dict[str, Any] | None:
        person = self.people.get(register_id)
        if person is None:
            return None
        accepted = [
            r
            for r in self.referrals.values()
            if r.get("register_id") == register_id and r.get("outcome") == "accepted" and "submission" in r
        ]
        latest = max(accepted, key=lambda r: r["submitted_at"], default={})
        return copy.deepcopy(person_details(person, latest.get("submission", {}).get("person", {})))

    async def by_family_name(self, family_name: str, limit: int = 50) -> list[str]:
        wanted = family_name.strip().lower()
        found: list[str] = []
        for doc in self.referrals.values():
            named = ((doc.get("submission") or {}).get("person") or {}).get("family_name")
            if doc.get("outcome") == "accepted" and isinstance(named, str) and named.lower() == wanted:
                if doc["register_id"] not in found:
                    found.append(doc["register_id"])
        return found[:limit]

    def _with_details(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.referrals.values()
            if r.get("outcome") in _RECORD_OUTCOMES
            and "date_of_birth" in ((r.get("submission") or {}).get("person") or {})
        ]

    def _on_register(self, register_id: str) -> dict[str, Any] | None:
        held = self.people.get(register_id)
        return held if held is not None and held.get("removed_at") is None else None

    def _as_read(self, person: dict[str, Any]) -> dict[str, Any] | None:
        """The person's document, only while it is as it was read (referrals._as_read)."""
        held = self.people.get(person["_id"])
        same = held is not None and all(held.get(k) == person.get(k) for k in ("referral_id", "announced_age_band"))
        return held if same else None


def _first(docs: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    return copy.deepcopy(next(iter(docs), None))
