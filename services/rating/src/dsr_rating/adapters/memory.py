"""The register's store in memory, with PeopleStore's methods and behaviour
(tests/test_repository_contract.py runs the same checks on both): for the
use-case tests, which run in milliseconds on dsr_shared.platform.unit_of_work's
InMemoryUnitOfWork. Documents are kept as the database keeps them; the
transaction is ignored (the unit of work puts the state back on failure)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from dsr_shared.platform.db import VersionConflict
from dsr_shared.platform.unit_of_work import Transaction
from dsr_rating.adapters.people import _DERIVED, merge_document, merge_id
from dsr_rating.domain.facts import Fact, one_per_fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing
from dsr_rating.service.ports import ClaimMissing

_SUMMARY = (*_DERIVED, "cohort", "age_band")


def _holds(value: Any, condition: Any) -> bool:
    """The part of MongoDB's query language the register's queries use (domain/listing.py)."""
    if not isinstance(condition, dict):
        return value == condition
    tests = {
        "$in": lambda arg: value in arg,
        "$ne": lambda arg: value != arg,
        "$gt": lambda arg: value is not None and value > arg,
        "$gte": lambda arg: value is not None and value >= arg,
        "$lte": lambda arg: value is not None and value <= arg,
    }
    return all(tests[op](arg) for op, arg in condition.items())


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    return all(
        all(matches(doc, part) for part in condition) if key == "$and" else _holds(doc.get(key), condition)
        for key, condition in query.items()
    )


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"_id": doc["_id"], **{k: doc[k] for k in _SUMMARY if k in doc}, "updates": doc.get("updates", [])[-1:]}


class InMemoryPeople:
    def __init__(self) -> None:
        self.people: dict[str, dict[str, Any]] = {}
        self.unmatched: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, int] = {}
        self.merges: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def get(self, register_id: str, transaction: Transaction = None) -> PersonRecord | None:
        doc = self.people.get(register_id)
        return PersonRecord.model_validate(doc) if doc else None

    async def by_nhs_number_hash(self, digest: str, transaction: Transaction) -> PersonRecord | None:
        found = [doc for doc in self.people.values() if doc.get("nhs_number_hash") == digest]
        return PersonRecord.model_validate(found[0]) if found else None

    async def save(self, record: PersonRecord, standing: Standing, transaction: Transaction) -> None:
        """The record whole; VersionConflict if it changed since it was read."""
        stored = self.people.get(record.register_id)
        if (stored["version"] if stored else 0) != record.version:
            raise VersionConflict(record.register_id)
        self.people[record.register_id] = {
            "_id": record.register_id,
            **record.model_dump(mode="python", exclude={"version"}),
            **standing.model_dump(mode="python", include=set(_DERIVED)),
            "version": record.next_version(),
        }

    async def page(self, query: dict[str, Any], skip: int, limit: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        found = sorted((d for d in self.people.values() if matches(d, query)), key=lambda d: d["_id"])
        return [_summary(d) for d in found[skip : skip + limit]]

    async def groups(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        counted: dict[tuple[Any, Any], int] = {}
        for doc in self.people.values():
            if matches(doc, query):
                key = (doc.get("rating"), doc.get("cohort"))
                counted[key] = counted.get(key, 0) + 1
        return [{"_id": {"rating": rating, "cohort": cohort}, "n": n} for (rating, cohort), n in counted.items()]

    async def green_month_over(self, now: datetime) -> list[str]:
        query = {"status": "on_register", "rating": "green", "green_until": {"$lte": now}}
        return [d["_id"] for d in self.people.values() if matches(d, query)]

    async def prepare_claim(self, digest: str) -> None:
        self.claims.setdefault(digest, 0)

    async def prepare_claims(self, digests: list[str]) -> None:
        for digest in digests:
            await self.prepare_claim(digest)

    async def claim(self, digest: str, transaction: Transaction) -> None:
        if digest not in self.claims:
            raise ClaimMissing(digest)
        self.claims[digest] += 1

    async def keep_unmatched(self, digest: str, fact: Fact, transaction: Transaction) -> None:
        self.unmatched.setdefault(
            f"{digest}:{fact.id}", {"nhs_number_hash": digest, "fact": fact.model_dump(mode="python")}
        )

    async def take_unmatched(self, digest: str, transaction: Transaction) -> list[Fact]:
        taken = [key for key, doc in self.unmatched.items() if doc["nhs_number_hash"] == digest]
        return [Fact.model_validate(self.unmatched.pop(key)["fact"]) for key in taken]

    async def list_unmatched(self) -> list[Fact]:
        facts_of: dict[str, list[Fact]] = {}
        for doc in self.unmatched.values():
            facts_of.setdefault(doc["nhs_number_hash"], []).append(Fact.model_validate(doc["fact"]))
        return sorted((f for facts in facts_of.values() for f in one_per_fact(facts)), key=lambda f: f.sort_key)

    async def removed_in_hospital(self) -> list[str]:
        return sorted(d["_id"] for d in self.people.values() if d["status"] == "removed" and d.get("in_hospital"))

    async def keeping(self, names: frozenset[str]) -> list[dict[str, Any]]:
        """As the database's case-insensitive collation compares them."""
        wanted = {name.casefold() for name in names}
        found = []
        for doc in sorted(self.people.values(), key=lambda d: d["_id"]):
            professionals = (doc.get("professionals") or {}).get("professionals", [])
            emails = [*doc.get("referrer_emails", []), *(p.get("email") for p in professionals)]
            if doc["status"] == "on_register" and any(e and e.casefold() in wanted for e in emails):
                found.append(
                    {
                        **_summary(doc),
                        "referrer_emails": doc.get("referrer_emails", []),
                        "professionals": {"professionals": [{"email": p.get("email")} for p in professionals]},
                    }
                )
        return found

    async def with_removal_requests(self) -> list[PersonRecord]:
        found = [d for d in self.people.values() if d["status"] == "on_register" and d.get("removal_requests")]
        return [PersonRecord.model_validate(d) for d in sorted(found, key=lambda d: d["_id"])]

    async def keep_merge(
        self,
        kept_digest: str,
        merged_digest: str,
        kept: PersonRecord | None,
        merged: PersonRecord | None,
        hospital_ods_code: str,
        merged_at: datetime,
        event_id: str,
        transaction: Transaction,
    ) -> None:
        key = merge_id(kept_digest, merged_digest)
        self.merges.setdefault(
            key, {"_id": key, **merge_document(kept, merged, hospital_ods_code, merged_at, event_id)}
        )

    async def list_merges(self, *, resolved: bool = False) -> list[dict[str, Any]]:
        found = [d for d in self.merges.values() if (d["resolved_at"] is not None) == resolved]
        return copy.deepcopy(sorted(found, key=lambda d: (d["merged_at"], d["_id"])))

    async def resolve_merge(self, merge_id: str, by: str, note: str, at: datetime) -> dict[str, Any] | None:
        doc = self.merges.get(merge_id)
        if doc is None or doc["resolved_at"] is not None:
            return None
        doc.update(resolved_at=at, resolved_by=by, note=note)
        return copy.deepcopy(doc)
