"""The scheduler's use cases, between its entry points (handlers, HTTP,
sweeper) and the pure rules: what to schedule, cancel and complete when
something happens, and the events that say so."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import derived_event_id
from dsr_shared.events import (
    Event,
    ObligationCancelled,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
    Transition,
)
from dsr_shared.runtime import Context, Runtime
from dsr_shared.working_time import WorkingCalendar
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.domain.obligations import (
    Completion,
    Obligation,
    Trigger,
    new_obligation,
    rating_no_longer_applies,
    triggered_rules,
)
from dsr_scheduler.domain.reconcile import reconcile


class Scheduler:
    def __init__(self, runtime: Runtime, store: ObligationStore) -> None:
        self.runtime = runtime
        self.store = store
        self.area = runtime.settings.area
        self.calendar = WorkingCalendar(self.area.working_time)

    # --- events about obligations -------------------------------------------------

    def announce(self, event_type: type[Event], obligation: Obligation, at: datetime, context: Context, **extra) -> Outgoing:
        """An obligation event; its id derives from the obligation (and how many
        times it was opened again), so announcing twice is one event."""
        fields = obligation.model_dump(include={"obligation_id", "register_id", "kind", "title", "rule", "responsible",
                                                "due_at", "needs_own_consent"})
        event = event_type(**fields, **extra)
        generation = obligation.generation
        name = event_type.EVENT_TYPE if not generation else f"{event_type.EVENT_TYPE}:{generation}"
        return self.runtime.outgoing(
            event, occurred_at=at, correlation_id=context.correlation_id, causation_id=context.causation_id,
            event_id=derived_event_id(obligation.obligation_id, name),
        )

    def scheduled(self, obligation: Obligation, context: Context) -> Outgoing:
        return self.announce(
            ObligationScheduled, obligation, obligation.started_at, context,
            triggered_by_event_id=obligation.triggered_by_event_id, past_due=obligation.due_at <= self.runtime.clock.now(),
        )

    # --- what happens when something happens ---------------------------------------

    async def react(self, trigger: Trigger, context: Context, session: AsyncClientSession, *, start: datetime | None = None,
                    cancel_all: str | None = None) -> list[Outgoing]:
        """Cancel what no longer applies, then schedule what the trigger demands
        (a rule already open for the person is not scheduled twice)."""
        out: list[Outgoing] = []
        active = await self.store.active_for(trigger.register_id, session)
        kept = []
        for obligation in active:
            if cancel_all or (trigger.event == "RatingChanged" and rating_no_longer_applies(obligation, trigger.to_rating)):
                reason = cancel_all or f"rating changed to {trigger.to_rating}"
                out.append(await self.cancel(obligation, reason, trigger.at, context, session))
            else:
                kept.append(obligation.rule)
        if cancel_all:
            return out
        new = [
            new_obligation(self.area, self.calendar, rule, trigger.register_id, start or trigger.at, trigger.event_id)
            for rule in triggered_rules(self.area, trigger)
            if rule.id not in kept
        ]
        await self.store.add_all(new, session)
        return out + [self.scheduled(o, context) for o in new]

    async def cancel(self, obligation: Obligation, reason: str, at: datetime, context: Context,
                     session: AsyncClientSession, *, withdrawn: bool = False) -> Outgoing:
        cancelled, event = self.cancelled(obligation, reason, at, context, withdrawn=withdrawn)
        await self.store.replace(cancelled, session)
        return event

    def cancelled(self, obligation: Obligation, reason: str, at: datetime, context: Context, *,
                  withdrawn: bool = False) -> tuple[Obligation, Outgoing]:
        state = "withdrawn" if withdrawn else "cancelled"
        cancelled = obligation.model_copy(update={"state": state, "cancelled_reason": reason, "ended_at": at})
        return cancelled, self.announce(ObligationCancelled, cancelled, at, context, reason=reason, withdrawn=withdrawn)

    async def reconcile(self, register_id: str, timeline: list[Transition], context: Context,
                        session: AsyncClientSession) -> list[Outgoing]:
        """Make what is held what the timeline demands (domain/reconcile.py).
        Every obligation is written once, in its final state, in two round
        trips (new ones, changed ones), however many the timeline touches;
        the events are those of each step, in order."""
        held = await self.store.all_for(register_id, session)
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
            obligation, withdrawn = self.cancelled(obligation, reason, self.runtime.clock.now(), context, withdrawn=True)
            changed.append(obligation)
            out.append(withdrawn)
        for obligation in plan.reopen:
            again = obligation.model_copy(
                update={"state": "open", "cancelled_reason": None, "ended_at": None, "generation": obligation.generation + 1}
            )
            out.append(self.scheduled(again, context))
            again, late = self.caught_up(again, context)
            changed.append(again)
            out += late
        await self.store.add_all(created, session)
        await self.store.replace_all(changed, session)
        return out

    def caught_up(self, obligation: Obligation, context: Context) -> tuple[Obligation, list[Outgoing]]:
        """An open obligation made after its notice time or deadline (the
        transition that demanded it was reported late) is due or overdue at
        once, and says so: where it stands now, and the events."""
        now, out = self.runtime.clock.now(), []
        for to_state, event_type, at in (
            ("due", ObligationDue, obligation.notice_at),
            ("overdue", ObligationOverdue, obligation.due_at),
        ):
            if at > now:
                break
            obligation = obligation.model_copy(update={"state": to_state})
            out.append(self.announce(event_type, obligation, max(at, obligation.started_at), context))
        return obligation, out

    async def complete(self, obligation: Obligation, completion: Completion, context: Context,
                       session: AsyncClientSession, actions: list[Obligation] = ()) -> list[Outgoing]:
        """Done, with its date and outcome; a repeating obligation starts its next
        round from the completion (R-OB-4, R-OB-8, R-OB-9, R-OB-11..13)."""
        done = obligation.model_copy(update={"state": "done", "completion": completion})
        await self.store.replace(done, session)
        completed = self.announce(
            ObligationCompleted, done, completion.at, context, completed_at=completion.at, outcome=completion.outcome,
            completed_by=completion.by, rating_review=completion.rating_review, actions=completion.actions,
        )
        out = [completed]
        upcoming = list(actions)
        if obligation.repeat is not None:
            rule = self.area.rule(obligation.rule)
            upcoming.append(
                new_obligation(self.area, self.calendar, rule, obligation.register_id, completion.at,
                               completed.envelope.event_id, sequence=1)
            )
        await self.store.add_all(upcoming, session)
        return out + [self.scheduled(o, Context(context.correlation_id, completed.envelope.event_id)) for o in upcoming]

    def action(self, cetr: Obligation, cause: uuid.UUID, index: int, description: str, owner: str, due_on: date,
               at: datetime) -> Obligation:
        """R-OB-15: a C(E)TR's recommendation, as an obligation with its owner and date."""
        due_at = datetime.combine(due_on, self.area.working_time.day_end, tzinfo=self.calendar.zone)
        return Obligation(
            obligation_id=derived_event_id(cause, f"action:{index}"),
            register_id=cetr.register_id,
            rule="R-OB-15",
            kind="cetr_action",
            title=description,
            responsible=owner,
            started_at=at,
            due_at=due_at,
            notice_at=min(self.calendar.before(due_at, self.area.due_notice), due_at),
            triggered_by_event_id=cause,
        )

    def consent_start(self, consent_date: date | None, fallback: datetime) -> datetime:
        """R-OB-13 counts a year from the consent date, at the start of that working day."""
        if consent_date is None:
            return fallback
        return datetime.combine(consent_date, time(0), tzinfo=self.calendar.zone)

    async def note_person(self, register_id: str, session: AsyncClientSession, **fields) -> None:
        await self.store.set_person(register_id, fields, session)

    # --- time ----------------------------------------------------------------------

    async def announce_due(self, obligation_id: str, now: datetime) -> list[Outgoing]:
        return await self._advance(obligation_id, "open", "due", ObligationDue, now)

    async def announce_overdue(self, obligation_id: str, now: datetime) -> list[Outgoing]:
        return await self._advance(obligation_id, "due", "overdue", ObligationOverdue, now)

    async def _advance(self, obligation_id: str, from_state: str, to_state: str, event_type: type[Event],
                       now: datetime) -> list[Outgoing]:
        async def work(session: AsyncClientSession) -> list[Outgoing]:
            moved = await self.store.move(obligation_id, from_state, to_state, session)
            if moved is None:
                return []  # another process, or a completion, got there first
            at = moved.notice_at if to_state == "due" else moved.due_at
            return [self.announce(event_type, moved, max(at, moved.started_at), Context(correlation_id=obligation_id))]

        return await self.runtime.uow.commit_and_publish(work)
