"""The commands and reads of the HTTP API (api.py hands each request here):
list obligations, complete one (R-OB-2, R-OB-15), the tracking meeting's
agenda (R-OB-14). Who may see whose obligations is checked here, before
anything about the person is looked at, and every answer is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import Rating
from dsr_shared.platform.access import NOBODY, PersonAccess
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.contacts import list_scope
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.runtime import Context
from dsr_shared.platform.unit_of_work import Transaction
from dsr_scheduler.domain.completion import Recommendation, refusals
from dsr_scheduler.domain.obligations import Completion, Listing, State, action
from dsr_scheduler.domain.tracking import agenda, next_meeting
from dsr_scheduler.service.changes import ObligationChanges

# Who sees every person's obligations in a list.
LIST_WHOLE = (Role.DSR_TEAM, Role.OPS)
AGENDA_LIMIT = 5000


@dataclass(frozen=True)
class CompletionResult:
    """How a completion ended: done (with the obligations it scheduled), a LAEP
    recorded as an exception, refused with every reason, or already ended."""

    outcome: Literal["done", "exception_recorded", "rejected", "conflict"]
    state: str = ""
    reasons: list[dict[str, str]] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)


class _AlreadyEnded(Exception):
    pass


def within_scope(people: list[str], scope: str | dict | None) -> list[str]:
    """Of the people asked for, those the list's scope admits (None: everyone)."""
    if scope is None:
        return sorted(set(people))
    admitted = {scope} if isinstance(scope, str) else set(scope["$in"])
    return sorted(set(people) & admitted)


def _admitted(scope: str | dict | None) -> frozenset[str] | None:
    """The people a list's scope (dsr_shared.platform.contacts.list_scope) admits; None: everyone."""
    if scope is None:
        return None
    return frozenset([scope] if isinstance(scope, str) else scope["$in"])


class Commands(ObligationChanges):
    @property
    def access(self) -> PersonAccess:
        return PersonAccess(self.audit)  # type: ignore[arg-type]

    async def list_obligations(
        self,
        principal: Principal,
        *,
        register_id: str | None,
        people: list[str] | None,
        kind: str | None,
        state: State | None,
        rule: str | None,
        due_before: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """The DSR team and ops see everyone's obligations; a referrer, those
        of the people they referred or are named on as a professional."""
        scope = await list_scope(self.access, self.contacts, principal, "obligations.list", register_id, LIST_WHOLE)  # type: ignore[arg-type]
        admitted = frozenset(within_scope(people, scope)) if people else _admitted(scope)
        query = Listing(people=admitted, kind=kind, state=state, rule=rule, due_before=due_before)
        found = await self.obligations.listing(query, limit)
        # Counted again only when the list was cut short.
        total = len(found) if len(found) < limit else await self.obligations.count(query)
        await self.audit.record(principal, "obligations.list", register_id or "*")
        return {"obligations": [o.model_dump(mode="json") for o in found], "total": total}

    async def complete(
        self,
        obligation_id: str,
        principal: Principal,
        correlation_id: str | None,
        *,
        completed_at: datetime,
        outcome: str,
        rating_review: Rating | None,
        laep: bool,
        recommendations: list[Recommendation],
    ) -> CompletionResult:
        """The DSR team, or a referrer of the person's (referred them, or named
        on them as a professional); anyone else gets the 404 of a missing id.
        A C(E)TR's recommendations become obligations (R-OB-15); a LAEP is an
        exception that does not complete the C(E)TR (R-OB-2)."""
        audited = "obligation.complete"
        obligation = await self.obligations.get(obligation_id)
        # One contacts lookup whether or not the obligation exists: the same work.
        subject = obligation.register_id if obligation else obligation_id
        known = await self.contacts.of(subject)
        await self.access.require(principal, audited, subject, (known or NOBODY) if obligation else None)
        assert obligation is not None  # a missing one was refused with a 404
        reasons = refusals(
            obligation.kind,
            completed_at,
            self.clock.now(),
            rating_review=rating_review,
            laep=laep,
            has_actions=bool(recommendations),
        )
        if reasons:
            await self.audit.record(principal, audited, obligation.register_id, "refused")
            return CompletionResult("rejected", obligation.state, reasons=reasons)
        if not obligation.active:
            await self.audit.record(principal, audited, obligation.register_id, "conflict")
            return CompletionResult("conflict", obligation.state)
        by = principal.email or principal.subject

        if laep:
            note = f"{completed_at.isoformat()} LAEP by {by}: {outcome}"

            async def record_exception(transaction: Transaction) -> list[Outgoing]:
                current = await self.obligations.get(obligation_id, transaction)
                assert current is not None
                await self.obligations.replace(
                    current.model_copy(update={"exceptions": [*current.exceptions, note]}), transaction
                )
                return []

            await self.uow.commit_and_publish(record_exception)
            await self.audit.record(principal, audited, obligation.register_id, "laep_exception")
            return CompletionResult("exception_recorded", obligation.state)

        cause = derived_event_id(obligation.obligation_id, "ObligationCompleted")
        actions = [
            action(self.area, self.calendar, obligation, cause, i, r.description, r.owner, r.due_on, completed_at)
            for i, r in enumerate(recommendations)
        ]
        completion = Completion(
            at=completed_at, by=by, outcome=outcome, rating_review=rating_review, actions=len(actions)
        )

        async def work(transaction: Transaction) -> list[Outgoing]:
            current = await self.obligations.get(obligation_id, transaction)
            assert current is not None
            if not current.active:
                raise _AlreadyEnded(current.state)
            return await self.record_completion(current, completion, Context(correlation_id), transaction, actions)

        try:
            messages = await self.uow.commit_and_publish(work)
        except _AlreadyEnded as ended:
            await self.audit.record(principal, audited, obligation.register_id, "conflict")
            return CompletionResult("conflict", str(ended))
        await self.audit.record(principal, audited, obligation.register_id, "ok")
        scheduled = [
            str(m.envelope.data["obligation_id"]) for m in messages if m.envelope.event_type == "ObligationScheduled"
        ]
        return CompletionResult("done", "done", scheduled=scheduled)

    async def tracking_meeting(self, principal: Principal) -> dict[str, Any]:
        """R-OB-14: the agenda for the next tracking meeting: people by rating,
        what is due or overdue by then, and whose update is missing."""
        meeting_at, horizon = next_meeting(self.area, self.clock.now())
        people = await self.obligations.people_on_register()
        pending = await self.obligations.pending_until(horizon, AGENDA_LIMIT)
        await self.audit.record(principal, "tracking_meeting.read", "*")
        return agenda(self.area, meeting_at, horizon, people, pending)
