"""Composition root of the scheduler service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.clock import Clock
from dsr_shared.http import create_app
from dsr_shared.messaging import subscribe
from dsr_shared.runtime import Runtime
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.api import obligation_router
from dsr_shared.working_time import WorkingCalendar
from dsr_scheduler.handlers import rating_handlers

TOPICS = [Topic.RATINGS, Topic.OBLIGATIONS]


def build_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name="scheduler")
    runtime = Runtime.build(settings, clock)
    store = ObligationStore(runtime.db)
    calendar = WorkingCalendar(settings.area.working_time)
    subscribe(runtime.broker, settings, {Topic.RATINGS: rating_handlers(runtime, store, calendar)})

    async def indexes(_: Runtime) -> None:
        await store.ensure_indexes()

    return create_app(
        runtime, title="DSR scheduler service", topics=TOPICS, routers=[obligation_router(runtime, store)], on_startup=[indexes]
    )
