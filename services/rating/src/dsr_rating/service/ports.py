"""What the use cases need from outside, by what it does: the register's
store (MongoDB in adapters/people.py, in memory in the tests, kept alike by
the repository contract test), the audit log and the one way to build an
outgoing event (`Runtime.outgoing`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from dsr_shared.contract.events import Event
from dsr_shared.platform.auth import Principal
from dsr_shared.platform.db import Outgoing, VersionConflict
from dsr_shared.platform.unit_of_work import Transaction
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing


class ClaimMissing(VersionConflict):
    """The person's claim document is not there yet (prepare_claim makes it)."""


class People(Protocol):
    """One record per person, saved whole and guarded by its version; hospital
    events for people not on the register; hospital merges for the DSR team."""

    async def get(self, register_id: str, transaction: Transaction = None) -> PersonRecord | None: ...
    async def by_nhs_number_hash(self, digest: str, transaction: Transaction) -> PersonRecord | None: ...
    async def save(self, record: PersonRecord, standing: Standing, transaction: Transaction) -> None: ...
    async def page(self, query: dict[str, Any], skip: int, limit: int) -> list[dict[str, Any]]: ...
    async def groups(self, query: dict[str, Any]) -> list[dict[str, Any]]: ...
    async def green_month_over(self, now: datetime) -> list[str]: ...
    async def prepare_claim(self, digest: str) -> None: ...
    async def prepare_claims(self, digests: list[str]) -> None: ...
    async def claim(self, digest: str, transaction: Transaction) -> None: ...
    async def keep_unmatched(self, digest: str, fact: Fact, transaction: Transaction) -> None: ...
    async def take_unmatched(self, digest: str, transaction: Transaction) -> list[Fact]: ...
    async def list_unmatched(self) -> list[Fact]: ...
    async def removed_in_hospital(self) -> list[str]: ...
    async def keeping(self, names: frozenset[str]) -> list[dict[str, Any]]: ...
    async def with_removal_requests(self) -> list[PersonRecord]: ...
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
    ) -> None: ...
    async def list_merges(self, *, resolved: bool = False) -> list[dict[str, Any]]: ...
    async def resolve_merge(self, merge_id: str, by: str, note: str, at: datetime) -> dict[str, Any] | None: ...


class Audit(Protocol):
    async def record(self, principal: Principal, action: str, subject_id: str, outcome: str = "ok") -> None: ...


class Outgoer(Protocol):
    """`Runtime.outgoing`: an event of this service, in its envelope, addressed to its topic."""

    def __call__(
        self,
        event: Event,
        *,
        occurred_at: datetime,
        correlation_id: str | None = None,
        causation_id: uuid.UUID | str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Outgoing: ...
