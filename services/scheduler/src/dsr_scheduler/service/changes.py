"""What follows, within one transaction, from something that happened: the
obligations to schedule, cancel, complete or bring up to date, saved through
the repository, and the events that say so (ObligationScheduled, Due,
Overdue, Completed, Cancelled), whose ids derive from the obligation so that
doing it twice is one event. The base of every use case (the package's
__init__): it holds what they share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dsr_shared.contract.envelope import Envelope, derived_event_id
from dsr_shared.contract.events import (
    Event,
    ObligationCancelled,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
    Transition,
)
from dsr_shared.platform.clock import Clock
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.runtime import Context
from dsr_shared.platform.unit_of_work import Transaction, UnitOfWork
from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_scheduler.domain.obligations import (
    Completion,
    Obligation,
    Trigger,
    new_obligation,
    rating_no_longer_applies,
    triggered_rules,
)
from dsr_scheduler.domain.reconcile import reconcile
from dsr_scheduler.service.ports import Audit, ContactsRepository, ObligationRepository

# How an event of this service is addressed and enveloped (Runtime.outgoing).
BuildOutgoing = Callable[..., Outgoing]


def context_of(envelope: Envelope) -> Context:
    """The context of what an incoming event causes."""
    return Context(envelope.correlation_id, envelope.event_id)


class ObligationChanges:
    def __init__(
        self,
        *,
        area: AreaProfile,
        clock: Clock,
        uow: UnitOfWork,
        obligations: ObligationRepository,
        contacts: ContactsRepository,
        audit: Audit,
        outgoing: BuildOutgoing,
    ) -> None:
        self.area, self.clock, self.uow = area, clock, uow
        self.obligations, self.contacts, self.audit = obligations, contacts, audit
        self.outgoing = outgoing
        self.calendar = WorkingCalendar(area.working_time)

    async def react(
        self,
        trigger: Trigger,
        context: Context,
        transaction: Transaction,
        *,
        start: datetime | None = None,
        cancel_all: str | None = None,
    ) -> list[Outgoing]:
        """Cancel what no longer applies, then schedule what the trigger demands
        (a rule already open for the person is not scheduled twice)."""
        out: list[Outgoing] = []
        kept, cancelled = [], []
        for obligation in await self.obligations.active_for(trigger.register_id, transaction):
            if cancel_all or (
                trigger.event == "RatingChanged" and rating_no_longer_applies(obligation, trigger.to_rating)
            ):
                ended, event = self.cancelled(
                    obligation, cancel_all or f"rating changed to {trigger.to_rating}", trigger.at, context
                )
                cancelled.append(ended)
                out.append(event)
            else:
                kept.append(obligation.rule)
        await self.obligations.replace_all(cancelled, transaction)
        if cancel_all:
            return out
        new = [
            new_obligation(self.area, self.calendar, rule, trigger.register_id, start or trigger.at, trigger.event_id)
            for rule in triggered_rules(self.area, trigger)
            if rule.id not in kept
        ]
        await self.obligations.add_all(new, transaction)
        return out + [self.scheduled(o, context) for o in new]

    async def reconcile(
        self, register_id: str, timeline: list[Transition], context: Context, transaction: Transaction
    ) -> list[Outgoing]:
        """Make what is held what the timeline demands (domain/reconcile.py).
        Every obligation is written once, in its final state, in one round
        trip, however many the timeline touches;
        the events are those of each step, in order."""
        held = await self.obligations.all_for(register_id, transaction)
        plan = reconcile(self.area, self.calendar, register_id, timeline, held)
        out: list[Outgoing] = []
        created: list[Obligation] = []
        changed: list[Obligation] = []
        for obligation, ended_at, reason in plan.create:
            out.append(self.scheduled(obligation, context))
            if ended_at is not None:
                obligation, cancelled = self.cancelled(obligation, reason or "", ended_at, context)
                out.append(cancelled)
            else:
                obligation, late = self.caught_up(obligation, context)
                out += late
            created.append(obligation)
        for obligation, at, reason in plan.cancel:
            obligation, cancelled = self.cancelled(obligation, reason, at, context)
            changed.append(obligation)
            out.append(cancelled)
        for obligation in plan.withdraw:
            reason = "withdrawn: a later report changed the history that demanded it"
            obligation, withdrawn = self.cancelled(obligation, reason, self.clock.now(), context, withdrawn=True)
            changed.append(obligation)
            out.append(withdrawn)
        for obligation in plan.reopen:
            again = obligation.model_copy(
                update={
                    "state": "open",
                    "cancelled_reason": None,
                    "ended_at": None,
                    "generation": obligation.generation + 1,
                }
            )
            out.append(self.scheduled(again, context))
            again, late = self.caught_up(again, context)
            changed.append(again)
            out += late
        await self.obligations.save_all(created, changed, transaction)
        return out

    async def record_completion(
        self,
        obligation: Obligation,
        completion: Completion,
        context: Context,
        transaction: Transaction,
        actions: list[Obligation] | None = None,
    ) -> list[Outgoing]:
        """Done, with its date and outcome; a repeating obligation starts its next
        round from the completion (R-OB-4, R-OB-8, R-OB-9, R-OB-11..13)."""
        done = obligation.model_copy(update={"state": "done", "completion": completion})
        await self.obligations.replace(done, transaction)
        completed = self.announce(
            ObligationCompleted,
            done,
            completion.at,
            context,
            completed_at=completion.at,
            outcome=completion.outcome,
            completed_by=completion.by,
            rating_review=completion.rating_review,
            actions=completion.actions,
        )
        upcoming = list(actions or [])
        if obligation.repeat is not None:
            rule = self.area.rule(obligation.rule)
            upcoming.append(
                new_obligation(
                    self.area,
                    self.calendar,
                    rule,
                    obligation.register_id,
                    completion.at,
                    completed.envelope.event_id,
                    sequence=1,
                )
            )
        await self.obligations.add_all(upcoming, transaction)
        caused = Context(context.correlation_id, completed.envelope.event_id)
        return [completed] + [self.scheduled(o, caused) for o in upcoming]

    def caught_up(self, obligation: Obligation, context: Context) -> tuple[Obligation, list[Outgoing]]:
        """An open obligation made after its notice time or deadline (the
        transition that demanded it was reported late) is due or overdue at
        once, and says so: where it stands now, and the events."""
        now, out = self.clock.now(), []
        for to_state, event_type, at in (
            ("due", ObligationDue, obligation.notice_at),
            ("overdue", ObligationOverdue, obligation.due_at),
        ):
            if at > now:
                break
            obligation = obligation.model_copy(update={"state": to_state})
            out.append(self.announce(event_type, obligation, max(at, obligation.started_at), context))
        return obligation, out

    # --- the events that say so -----------------------------------------------------

    def announce(
        self,
        event_type: type[Event],
        obligation: Obligation,
        at: datetime,
        context: Context,
        *,
        again: bool = False,
        **extra: Any,
    ) -> Outgoing:
        """An obligation event; its id derives from the obligation (and how many
        times it was opened again), so announcing twice is one event. `again`:
        a second event of this type for the same opening (an obligation
        cancelled, then withdrawn when a late fact changed the history that
        demanded it): its id also names what caused it, or the outbox would
        refuse it as a repeat and the event that caused it would be lost."""
        fields = obligation.model_dump(
            include={
                "obligation_id",
                "register_id",
                "kind",
                "title",
                "rule",
                "responsible",
                "due_at",
                "needs_own_consent",
            }
        )
        event = event_type(**fields, **extra)
        generation = obligation.generation
        name = event_type.EVENT_TYPE if not generation else f"{event_type.EVENT_TYPE}:{generation}"
        if again:
            name = f"{name}:{context.causation_id or at.isoformat()}"
        return self.outgoing(
            event,
            occurred_at=at,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
            event_id=derived_event_id(obligation.obligation_id, name),
        )

    def scheduled(self, obligation: Obligation, context: Context) -> Outgoing:
        return self.announce(
            ObligationScheduled,
            obligation,
            obligation.started_at,
            context,
            triggered_by_event_id=obligation.triggered_by_event_id,
            past_due=obligation.due_at <= self.clock.now(),
        )

    def cancelled(
        self, obligation: Obligation, reason: str, at: datetime, context: Context, *, withdrawn: bool = False
    ) -> tuple[Obligation, Outgoing]:
        state = "withdrawn" if withdrawn else "cancelled"
        cancelled = obligation.model_copy(update={"state": state, "cancelled_reason": reason, "ended_at": at})
        return cancelled, self.announce(
            ObligationCancelled,
            cancelled,
            at,
            context,
            reason=reason,
            withdrawn=withdrawn,
            again=obligation.state in ("cancelled", "withdrawn"),
        )
