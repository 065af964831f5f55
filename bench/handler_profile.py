"""Where each handler's time goes (issue 16): the rating, scheduler and
notifier handlers of an admission, in this process, against a real Kafka and
SecantusDB, one event at a time as the consumer calls them; per event type the
time per event and the MongoDB round trips per event (by command, from a
command listener on the driver).

The chain, for --people people: the rating service takes their
ReferralAccepted and then an Admitted each; the scheduler takes the same
referrals and what the rating service staged (RatingChanged); the notifier
takes the referrals, the RatingChanged and what the scheduler staged
(ObligationScheduled, ObligationCancelled ...). The Kafka consume is not
included (the latency benchmark has the hop); the publish after the commit is.

    uv run python bench/handler_profile.py [--people 100] [--cprofile scheduler]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from harness import load_average, machine, percentile
from pymongo import monitoring

from dsr_shared.contract.envelope import Envelope, new_envelope
from dsr_shared.contract.events import decode_event
from dsr_shared.contract.topics import Topic
from dsr_shared.platform.messaging import ensure_topics
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_testing.infra import infrastructure
from dsr_testing.support import referral_accepted, valid_nhs_number

HASH_KEY = "handler-profile-hash-key"


class RoundTrips(monitoring.CommandListener):
    """Every command the driver sends, counted by name."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


TRIPS = RoundTrips()
monitoring.register(TRIPS)


class Measured:
    """Time and round trips per event, by (service, event type)."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.trips: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    async def handle(
        self, service: str, handler: Callable[[Envelope, Any], Awaitable[None]], envelope: Envelope
    ) -> None:
        before = Counter(TRIPS.counts)
        started = time.perf_counter()
        await handler(envelope, decode_event(envelope))
        self.times[service, envelope.event_type].append((time.perf_counter() - started) * 1000)
        self.trips[service, envelope.event_type].update(TRIPS.counts - before)

    def table(self) -> None:
        print(f"{'handler':<42} | {'n':>5} | {'p50 ms':>7} | {'p95 ms':>7} | {'mean ms':>7} | round trips / event")
        for (service, event_type), times in self.times.items():
            n = len(times)
            trips = self.trips[service, event_type]
            total = sum(trips.values()) / n
            detail = ", ".join(f"{name} {count / n:.1f}" for name, count in trips.most_common())
            print(
                f"{service + ' ' + event_type:<42} | {n:>5} | {percentile(times, 50):>7.1f} | "
                f"{percentile(times, 95):>7.1f} | {sum(times) / n:>7.1f} | {total:.1f} ({detail})"
            )


def settings_for(service: str, infra: Any, prefix: str) -> dict[str, str]:
    return {
        "DSR_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DSR_MONGO_URI": infra.mongo_uri,
        "DSR_TOPIC_PREFIX": prefix,
        "DSR_MONGO_DB": f"{prefix[:-1]}_{service}",
        "DSR_NHS_HASH_KEY": HASH_KEY,
        "DSR_DEVELOPMENT_MODE": "true",
        "DSR_AREA_PROFILE": "derbyshire",
        "DSR_SMTP_PORT": "1",
    }


async def staged(runtime: Any, event_types: set[str] | None = None) -> list[Envelope]:
    """What a service staged in its outbox, in order."""
    found = runtime.db["outbox"].find({}).sort("created_at", 1)
    envelopes = [Envelope.model_validate(doc["envelope"]) async for doc in found]
    return [e for e in envelopes if event_types is None or e.event_type in event_types]


def build(service: str, infra: Any, prefix: str) -> tuple[Any, dict[str, Callable], Callable[[], Awaitable[None]]]:
    """The service's runtime, its handlers by event type and its index set-up, as its app.py wires them."""
    os.environ.update(settings_for(service, infra, prefix))
    from dsr_shared.platform.runtime import Runtime
    from dsr_shared.platform.settings import ServiceSettings

    if service == "rating":
        from dsr_rating.adapters.people import PeopleStore
        from dsr_rating.handlers import hospital_handlers, referral_handlers
        from dsr_rating.service import RatingService

        settings = ServiceSettings(service_name="rating")
        runtime = Runtime.build(settings)
        people = PeopleStore(runtime.db)
        rating = RatingService(
            runtime.uow, people, runtime.audit, runtime.clock, settings.area, runtime.outgoing, HASH_KEY
        )
        return runtime, {**referral_handlers(rating), **hospital_handlers(rating)}, people.ensure_indexes
    if service == "scheduler":
        from dsr_shared.platform.contacts import ContactsProjection
        from dsr_scheduler.adapters.obligations import ObligationStore
        from dsr_scheduler.handlers import referral_handlers, register_handlers
        from dsr_scheduler.service import Scheduler

        settings = ServiceSettings(service_name="scheduler")
        runtime = Runtime.build(settings)
        store, contacts = ObligationStore(runtime.db), ContactsProjection(runtime.db)
        scheduler = Scheduler(
            area=settings.area,
            clock=runtime.clock,
            uow=runtime.uow,
            obligations=store,
            contacts=contacts,
            audit=runtime.audit,
            outgoing=runtime.outgoing,
        )

        async def indexes() -> None:
            await store.ensure_indexes()
            await contacts.ensure_indexes()

        return runtime, {**referral_handlers(scheduler), **register_handlers(scheduler)}, indexes
    from dsr_notifier.adapters.notifications import NotificationStore
    from dsr_notifier.adapters.projection import Projection
    from dsr_notifier.handlers import obligation_handlers, rating_handlers, referral_handlers
    from dsr_notifier.service import NotifierService
    from dsr_notifier.settings import NotifierSettings

    settings = NotifierSettings()
    runtime = Runtime.build(settings)
    notifications, projection = NotificationStore(runtime.db), Projection(runtime.db)
    notifier = NotifierService(settings, runtime.clock, runtime.uow, notifications, projection)

    async def notifier_indexes() -> None:
        await notifications.ensure_indexes()
        await projection.ensure_indexes()

    handlers = {**referral_handlers(notifier), **rating_handlers(notifier), **obligation_handlers(notifier)}
    return runtime, handlers, notifier_indexes


async def run(people: int, profiled: str | None) -> None:
    with tempfile.TemporaryDirectory() as state, infrastructure(Path(state) / "infra") as infra:
        prefix = f"p{uuid.uuid4().hex[:8]}."
        measured = Measured()
        now = datetime.now(timezone.utc)
        register_ids = [f"QJ2-PROF-{n:05d}-X" for n in range(people)]
        nhs = [valid_nhs_number(1_000 + 11 * n) for n in range(people)]  # seeds under 12,600 keep a leading 9
        referrals = [
            new_envelope(
                event_type="ReferralAccepted",
                schema_version=1,
                occurred_at=now - timedelta(minutes=5),
                area="QJ2",
                data=referral_accepted(rid, nhs_number_hash(HASH_KEY, n)),
            )
            for rid, n in zip(register_ids, nhs, strict=True)
        ]
        admissions = [
            new_envelope(
                event_type="Admitted",
                schema_version=1,
                occurred_at=now,
                area="QJ2",
                data={
                    "nhs_number": n,
                    "admitted_at": now.isoformat(),
                    "hospital_ods_code": "RXM",
                    "bed_type": "mental_health",
                    "legal_basis": "section_2",
                },
            )
            for n in nhs
        ]
        chain: list[tuple[str, Callable[[Any], Awaitable[list[Envelope]]]]] = []

        async def rating_input(_: Any) -> list[Envelope]:
            return referrals + admissions

        async def scheduler_input(previous: Any) -> list[Envelope]:
            return referrals + await staged(previous, {"RatingChanged", "PersonRemoved"})

        async def notifier_input(previous: Any) -> list[Envelope]:
            return referrals + ratings + await staged(previous)

        chain = [("rating", rating_input), ("scheduler", scheduler_input), ("notifier", notifier_input)]
        previous: Any = None
        ratings: list[Envelope] = []
        for service, inputs in chain:
            runtime, handlers, indexes = build(service, infra, prefix)
            await ensure_topics(
                runtime.settings,
                [
                    Topic.REFERRALS,
                    Topic.RATINGS,
                    Topic.OBLIGATIONS,
                    Topic.NOTIFICATIONS,
                    Topic.ADMISSIONS,
                    Topic.DISCHARGES,
                ],
            )
            await runtime.broker.connect()
            await indexes()
            events = await inputs(previous)
            profiler = cProfile.Profile() if profiled == service else None
            if profiler:
                profiler.enable()
            for envelope in events:
                handler = handlers.get(envelope.event_type)
                if handler is not None:
                    await measured.handle(service, handler, envelope)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            if service == "rating":
                ratings = await staged(runtime, {"RatingChanged"})
            await runtime.broker.stop()
            previous = runtime
        print(f"\n{machine()}; {people} people; load average {load_average():.1f}")
        measured.table()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--cprofile", choices=["rating", "scheduler", "notifier"], help="print that service's profile")
    args = parser.parse_args()
    asyncio.run(run(args.people, args.cprofile))


if __name__ == "__main__":
    main()
