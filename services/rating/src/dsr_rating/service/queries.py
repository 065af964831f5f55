"""What the register shows over HTTP: a person's record, the list the
tracking meeting works from, a keeper's caseload, the removal requests and
hospital events waiting for the DSR team. Every read is audited."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from dsr_shared.platform.access import Contacts, identities
from dsr_shared.platform.auth import Principal
from dsr_rating.domain import listing
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing
from dsr_rating.service.commands import Commands, actor


@dataclass(frozen=True)
class Page:
    counts: listing.Counts
    people: list[dict[str, Any]]  # summaries (adapters/people.py SUMMARY)
    next_after: str | None


class Queries(Commands):
    async def read(self, register_id: str, principal: Principal) -> tuple[PersonRecord, Standing]:
        record = await self.open_record(register_id, principal, "register.read")
        await self.audit.record(principal, "register.read", register_id, "ok")
        return record, self.standing(record)

    async def list_register(
        self, principal: Principal, filters: listing.Filters, *, after: str | None, page: int, limit: int
    ) -> Page:
        """The list the tracking meeting works from (R-OB-14): a page at a time,
        with the counts of everyone the filters keep."""
        query = filters.query()
        # One more than the page: whether there is a next one.
        groups, found = await asyncio.gather(
            self.people.groups(query),
            self.people.page(
                listing.after_cursor(query, after), listing.skip_for(page, limit), limit + 1 if limit else 0
            ),
        )
        shown = found[:limit]
        await self.audit.record(principal, "register.list", "*")
        return Page(listing.counts_of(groups), shown, shown[-1]["_id"] if len(found) > limit else None)

    async def caseload(self, principal: Principal) -> list[dict[str, Any]]:
        """The people on the register this user referred or is named on as a
        professional (the same test as reading a record)."""
        found = []
        for doc in await self.people.keeping(identities(principal)):
            professionals = (doc.get("professionals") or {}).get("professionals", [])
            if Contacts.of(doc.get("referrer_emails") or [], (p.get("email") for p in professionals)).include(
                principal
            ):
                found.append(doc)
        await self.audit.record(principal, "register.caseload", "*")
        return found

    async def removal_requests(self, principal: Principal) -> list[dict[str, Any]]:
        """Removal requests waiting for the DSR team (R-RAG-6): the latest request
        of each person still on the register since they (re)entered it."""
        waiting = []
        for record in await self.people.with_removal_requests():
            pending = record.pending_removal_request(self.standing(record))
            if pending is not None:
                waiting.append({"register_id": record.register_id, **pending.model_dump(mode="json", exclude={"id"})})
        await self.audit.record(principal, "register.removal_requests", "*")
        return waiting

    async def unmatched(self, principal: Principal) -> tuple[list[Fact], list[str]]:
        """Hospital events of people not on the register (kept until a referral
        names them), and the people removed while in hospital."""
        waiting = await self.people.list_unmatched()
        await self.audit.record(principal, "hospital_events.unmatched", "*")
        return waiting, await self.people.removed_in_hospital()

    async def merges(self, principal: Principal, *, resolved: bool) -> list[dict[str, Any]]:
        """Hospital merges of two patient records (HL7 A40) that touch someone
        on the register: never applied, resolved by the DSR team."""
        found = await self.people.list_merges(resolved=resolved)
        for doc in found:
            for register_id in _register_ids(doc):
                await self.audit.record(principal, "hospital_events.merges", register_id)
        return found

    async def resolve_merge(self, merge_id: str, principal: Principal, reason: str) -> dict[str, Any] | None:
        """None when there is no such merge waiting."""
        doc = await self.people.resolve_merge(merge_id, actor(principal), reason, self.clock.now())
        if doc is None:
            await self.audit.record(principal, "hospital_events.merge.resolve", merge_id, "missing")
            return None
        for register_id in _register_ids(doc):
            await self.audit.record(principal, "hospital_events.merge.resolve", register_id)
        return doc


def _register_ids(merge: dict[str, Any]) -> set[str]:
    return {merge["kept_register_id"], merge["merged_register_id"]} - {None}
